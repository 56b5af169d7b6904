#!/usr/bin/env python3
"""Runs GGUF files in llama.cpp's llama-server (in the sid reference root) and prints what it
computed as JSON: the prompt's ids, a greedy continuation's ids, and per-position log-probs; and
reads files with gguf-dump.

llama-completion prints text, not ids; the server's /completion returns the ids it sampled
("return_tokens") and, with n_probs, the log-probs of the most likely next tokens, and accepts a
prompt given as token ids (teacher forcing, one position per request, the prefix cached).

  llama_server_batch.py JOBS.json     JOBS: [{"gguf": PATH, "prompt": TEXT, "n_predict": N,
                                              "score_ids": [ids] (optional), "n_probs": K,
                                              "hf": DIR (optional)}
                                             or {"dump": PATH}]

With score_ids and hf, transformers (float32) scores the same ids with the Hugging Face checkpoint
the file was exported from (volt's weights; make interop checks that volt's own scores equal
transformers' to 1e-5), and the job reports, over every position, whether llama.cpp's most likely
next token is transformers' (top-1 agreement) and |llama.cpp's log-prob - transformers'| for the
top n_probs tokens llama.cpp lists (max and mean; mean over the top-1 alone too).
"""
import json
import socket
import subprocess
import sys
import time
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def post(port, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.loads(r.read())


def wait_ready(port, proc):
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"llama-server exited {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                if json.loads(r.read()).get("status") == "ok":
                    return
        except Exception:
            pass
        time.sleep(0.2)
    raise RuntimeError("llama-server did not become ready")


def dump(path):
    p = subprocess.run(["gguf-dump", "--no-tensors", path], capture_output=True, text=True)
    arch = [line.split("=", 1)[1].strip().strip("'") for line in p.stdout.splitlines()
            if "general.architecture" in line]
    return {"ok": p.returncode == 0, "architecture": arch[0] if arch else None,
            "error": p.stderr[-500:] if p.returncode else ""}


def compare_transformers(model_dir, ids, positions):
    import torch
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), dim=-1)
    agree, deltas, top1 = 0, [], []
    for t, top in enumerate(positions):  # top: llama.cpp's next-token list after ids[:t + 1]
        row = logp[t]
        agree += int(top[0][0] == int(row.argmax()))
        d = [abs(lp - float(row[i])) for i, lp in top]
        deltas += d
        top1.append(d[0])
    return {"positions": len(positions), "top1_agreement": agree / len(positions),
            "max_abs_dlogprob": max(deltas), "mean_abs_dlogprob_top1": sum(top1) / len(top1)}


def run_job(job):
    if "dump" in job:
        return dump(job["dump"])
    port = free_port()
    log = open(job["gguf"] + ".server.log", "w")
    proc = subprocess.Popen(["llama-server", "-m", job["gguf"], "--host", "127.0.0.1", "--port", str(port),
                             "-t", "2", "-np", "1", "--no-warmup", "-c", "0", "--no-webui"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(port, proc)
        out = {}
        out["prompt_ids"] = post(port, "/tokenize", {"content": job["prompt"], "add_special": True})["tokens"]
        greedy = {"prompt": job["prompt"], "n_predict": job["n_predict"], "temperature": 0, "top_k": 1,
                  "return_tokens": True, "cache_prompt": False, "seed": 0}
        out["new_ids"] = post(port, "/completion", greedy)["tokens"]
        if job.get("score_ids"):
            ids = job["score_ids"]
            positions = []
            for t in range(1, len(ids)):
                r = post(port, "/completion", {"prompt": ids[:t], "n_predict": 1, "temperature": 0, "top_k": 1,
                                               "n_probs": job.get("n_probs", 10), "cache_prompt": True,
                                               "post_sampling_probs": False})
                top = r["completion_probabilities"][0]["top_logprobs"]
                positions.append([[p["id"], p["logprob"]] for p in top])
            out["top_logprobs"] = positions
            if job.get("hf"):
                out["vs_transformers"] = compare_transformers(job["hf"], ids, positions)
        return out
    except Exception as e:  # noqa: BLE001 - reported per job
        return {"error": f"{type(e).__name__}: {e}"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def main():
    jobs = json.load(open(sys.argv[1]))
    json.dump([run_job(j) for j in jobs], sys.stdout)


if __name__ == "__main__":
    main()
