"""What the GPU reference scripts share: timing, the bf16 matmul peak, the FLOP count volt uses,
peak memory, and one JSON result per script (scripts/gpu/summarize.py reads them)."""
import json
import statistics
import sys
import time

import torch


def die(tag, message, code=2):
    print(f"[{tag}] {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def pick_device(tag, name):
    if name == "cuda" and not torch.cuda.is_available():
        die(tag, "--device cuda, but torch.cuda.is_available() is False (use --device cpu --tiny to smoke-test)")
    return torch.device(name)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_matmul_peak(device, dtype=torch.bfloat16, n=8192, reps=10):
    """Median FLOP/s of n x n x n products (what volt's MFU divides by when it measures), timed with
    CUDA events on a GPU and a wall clock on a CPU, after three warm-ups."""
    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, dtype=dtype, generator=g)
    b = torch.randn(n, n, device=device, dtype=dtype, generator=g)
    for _ in range(3):
        torch.mm(a, b)
    sync(device)
    seconds = []
    for _ in range(reps):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            torch.mm(a, b)
            end.record()
            end.synchronize()
            seconds.append(start.elapsed_time(end) / 1000.0)
        else:
            t0 = time.perf_counter()
            torch.mm(a, b)
            seconds.append(time.perf_counter() - t0)
    return 2.0 * n ** 3 / statistics.median(seconds)


def training_flops_per_token(n_params_matmul, n_layer, n_embd, seq_len):
    """volt's count (src/train/throughput.cpp, PaLM's appendix B): 6 N for the weights' matmuls
    forward and backward, N without GPT-2's position table, plus 12 L d T for attention."""
    return 6.0 * n_params_matmul + 12.0 * n_layer * n_embd * seq_len


def reset_peak(device):
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device)
    return 0


def peak_bytes(device, before):
    """The caching allocator's peak of allocated bytes since reset_peak, less what was live then
    (what volt bench reports on CUDA); 0 on a CPU, where torch keeps no such count."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) - before
    return 0


class StepClock:
    """Wall time of each step, the device synchronised at both ends; the first `warmup` dropped."""

    def __init__(self, device, warmup):
        self.device, self.warmup, self.seconds, self._seen, self._t0 = device, warmup, [], 0, None

    def start(self):
        sync(self.device)
        self._t0 = time.perf_counter()

    def stop(self):
        sync(self.device)
        if self._seen >= self.warmup:
            self.seconds.append(time.perf_counter() - self._t0)
        self._seen += 1

    def median(self):
        if not self.seconds:
            raise RuntimeError("no timed steps (steps must exceed warmup)")
        return statistics.median(self.seconds)


def versions():
    out = {"torch": torch.__version__, "python": sys.version.split()[0]}
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
        out["cuda"] = torch.version.cuda
    for name in ("transformers", "peft", "lightning", "pytorch_lightning", "bitsandbytes"):
        try:
            out[name] = __import__(name).__version__
        except Exception:  # not installed, or broken: the result says which
            out[name] = None
    return out


def write_result(path, result):
    text = json.dumps(result, indent=1, sort_keys=True)
    print(text, flush=True)
    if path:
        with open(path, "w") as f:
            f.write(text + "\n")
