"""Shared by make_tiny_models.py and check_model.py (run inside the sid reference root).

Loading captured with every warning transformers emits, mean NLL in float64 from the logits, and
greedy decoding both through `generate` and by full recomputation (no cache), so a reference can
show that HF's cached path agrees with the plain definition.
"""
import contextlib
import io
import logging
import re
import warnings

import torch
import transformers

# Messages that mean the weights or the config were not taken as they are.
PROBLEM_PATTERN = re.compile(
    r"missing|unexpected|mismatch|newly initiali[sz]ed|not initiali[sz]ed|were not used|not used when|"
    r"ignored|invalid|must|should|unrecogni[sz]ed|not recogni[sz]ed|unknown|deprecated|does not match|tied",
    re.IGNORECASE,
)
# tqdm progress bars written to stderr while weights load: not messages.
PROGRESS_PATTERN = re.compile(r"\d+%\|.*\||it/s\]|s/it\]")


class _ListHandler(logging.Handler):
    def __init__(self, sink):
        super().__init__(level=logging.INFO)
        self.sink = sink

    def emit(self, record):
        self.sink.append(f"{record.levelname} {record.name}: {record.getMessage()}")


@contextlib.contextmanager
def captured_messages(sink):
    """Appends every transformers log record (INFO and up), Python warning and stray stdout/stderr
    line emitted inside the block to `sink`."""
    tf_logger = logging.getLogger("transformers")
    handler = _ListHandler(sink)
    old_level = tf_logger.level
    tf_logger.addHandler(handler)
    tf_logger.setLevel(logging.WARNING)
    out, err = io.StringIO(), io.StringIO()
    try:
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(err):
            warnings.simplefilter("always")
            yield
    finally:
        tf_logger.removeHandler(handler)
        tf_logger.setLevel(old_level)
    for w in caught:
        sink.append(f"{w.category.__name__}: {w.message}")
    for line in (out.getvalue() + err.getvalue()).splitlines():
        line = line.strip()
        if line and not PROGRESS_PATTERN.search(line):
            sink.append(f"output: {line}")


def problems(messages):
    return [m for m in messages if PROBLEM_PATTERN.search(m)]


def load_model(path, dtype=torch.float32, attn="eager"):
    """Returns (model, loading_info, messages)."""
    messages = []
    with captured_messages(messages):
        model, info = transformers.AutoModelForCausalLM.from_pretrained(
            path, dtype=dtype, attn_implementation=attn, output_loading_info=True)
    model.eval()
    info = {k: sorted(str(x) for x in v) for k, v in info.items()}
    return model, info, messages


@torch.no_grad()
def token_nll(model, ids):
    """Per-token NLL in float64 from the model's logits with HF's shift (position t predicts t+1).
    ids: LongTensor [B, T]. Returns (nll [B, T-1] float64, HF's own loss as a float)."""
    out = model(input_ids=ids, labels=ids)
    logp = out.logits.double().log_softmax(-1)[:, :-1]
    nll = -logp.gather(-1, ids[:, 1:, None]).squeeze(-1)
    return nll, float(out.loss)


@torch.no_grad()
def greedy_generate(model, prompt, max_new_tokens, stop_at_eos):
    """HF generate (do_sample=False). prompt: list of ids. Returns the new ids."""
    ids = torch.tensor([prompt])
    kwargs = dict(max_new_tokens=max_new_tokens, do_sample=False, attention_mask=torch.ones_like(ids))
    eos = model.generation_config.eos_token_id
    if not stop_at_eos:
        kwargs.update(eos_token_id=None, min_length=0)
    kwargs["pad_token_id"] = model.generation_config.pad_token_id
    if kwargs["pad_token_id"] is None:
        kwargs["pad_token_id"] = (eos[0] if isinstance(eos, list) else eos) if eos is not None else 0
    out = model.generate(ids, **kwargs)
    return out[0, len(prompt):].tolist()


@torch.no_grad()
def greedy_recompute(model, prompt, max_new_tokens):
    """Greedy decoding by a full forward pass per step (no KV cache): the plain definition."""
    ids = list(prompt)
    for _ in range(max_new_tokens):
        logits = model(input_ids=torch.tensor([ids]), use_cache=False).logits
        ids.append(int(logits[0, -1].argmax()))
    return ids[len(prompt):]
