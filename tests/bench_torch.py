#!/usr/bin/env python3
"""bench_torch.py — the PyTorch + transformers baselines of tests/gpu_check.sh, doing the same work
as our CUDA benchmarks in the same call, on random bf16 weights of the same shapes:

  lm         forward + log-softmax scoring of every position of items x len random tokens
             (bench_cuda.c's cases); prints "RESULT <shape> <items>x<len> <tokens/s>".
  hellaswag  multiple-choice scoring the lm-evaluation-harness way (each context + ending its
             own sequence, right-padded, sorted longest first, logits at every position, then
             log_softmax and the continuation's log-probs gathered) of the requests that
             bench_hellaswag_cuda.c wrote (same token ids); the batch size (--batches) that runs
             fastest on the first --probe items is used; prints "RESULT hellaswag-<shape> <N>items <items/s>".

Timing: warm-up first, torch.cuda.synchronize around the timed region, best of 3 runs. log_softmax
runs in the logits' dtype as lm-eval does (no extra fp32 copy of the [T, V] logits).
--device cpu with --shape tiny runs anywhere (a check of this script, not a baseline)."""
import argparse
import json
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

# name: (H, L, NH, NKV, D, F, V, tied, rope_scaling llama3?, theta) — as tests/bench_models.h
SHAPES = {
    "tiny": (64, 2, 4, 2, 16, 128, 512, False, True, 5e5),
    "SmolLM2-135M": (576, 30, 9, 3, 64, 1536, 49152, True, False, 1e5),
    "Llama-3.2-1B": (2048, 16, 32, 8, 64, 8192, 128256, True, True, 5e5),
    "Llama-3.1-8B": (4096, 32, 32, 8, 128, 14336, 128256, False, True, 5e5),
}


def make_model(name, device):
    H, L, NH, NKV, D, F, V, tied, llama3, theta = SHAPES[name]
    scaling = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 8192} if llama3 else None
    cfg = LlamaConfig(hidden_size=H, num_hidden_layers=L, num_attention_heads=NH,
                      num_key_value_heads=NKV, head_dim=D, intermediate_size=F, vocab_size=V,
                      tie_word_embeddings=tied, rope_theta=theta, rope_scaling=scaling,
                      max_position_embeddings=131072)
    with torch.device(device):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16).eval()
    return model, V


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def best_of(fn, device, reps=3):
    fn()  # warm-up
    sync(device)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - t)
    return best


def run_lm(args, out):
    for name in args.shapes:
        model, V = make_model(name, args.device)
        for items, n in ((64, 128), (16, 512)):
            ids = torch.randint(0, V, (items, n), device=args.device)

            def score():
                with torch.inference_mode():
                    logits = model(ids).logits[:, :-1]
                    return torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None])
            dt = best_of(score, args.device)
            tps = items * n / dt
            print(f"torch {name:14s} {items}x{n}: {tps:10.0f} tokens/s", flush=True)
            out.write(f"RESULT {name} {items}x{n} {tps:.1f}\n")
        del model
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()


def hellaswag_batches(reqs, batch):
    """lm-eval's order: sequences (context + continuation[:-1]) longest first, `batch` a call."""
    seqs = []
    for i, r in enumerate(reqs):
        for k, cont in enumerate(r["cont"]):
            seqs.append((r["ctx"] + cont, len(cont), i, k))
    seqs.sort(key=lambda s: -len(s[0]))
    return [seqs[j:j + batch] for j in range(0, len(seqs), batch)]


def score_hellaswag(model, reqs, batch, device):
    lls = [[0.0] * len(r["cont"]) for r in reqs]
    with torch.inference_mode():
        for b in hellaswag_batches(reqs, batch):
            width = len(b[0][0]) - 1
            inp = torch.zeros((len(b), width), dtype=torch.long)
            for j, (toks, _, _, _) in enumerate(b):
                inp[j, :len(toks) - 1] = torch.tensor(toks[:-1])
            logp = torch.log_softmax(model(inp.to(device)).logits, -1)
            for j, (toks, nc, i, k) in enumerate(b):
                n = len(toks) - 1
                tgt = torch.tensor(toks[-nc:], device=device)
                lls[i][k] = float(logp[j, n - nc:n].gather(-1, tgt[:, None]).sum())
    return lls


def run_hellaswag(args, out):
    reqs = [json.loads(line) for line in open(args.requests)]
    model, _ = make_model(args.shape, args.device)
    probe = reqs[:min(len(reqs), args.probe)]
    best_batch, best_dt = None, float("inf")
    for batch in args.batches:
        try:
            dt = best_of(lambda: score_hellaswag(model, probe, batch, args.device), args.device, 1)
        except torch.OutOfMemoryError:
            print(f"torch hellaswag batch {batch}: out of memory", flush=True)
            break
        print(f"torch hellaswag batch {batch}: {len(probe) / dt:.1f} items/s on {len(probe)} items",
              flush=True)
        if dt < best_dt:
            best_batch, best_dt = batch, dt
    dt = best_of(lambda: score_hellaswag(model, reqs, best_batch, args.device), args.device)
    print(f"torch hellaswag {len(reqs)} items, batch {best_batch}: {len(reqs) / dt:.2f} items/s",
          flush=True)
    out.write(f"RESULT hellaswag-{args.shape} {len(reqs)}items {len(reqs) / dt:.2f}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", required=True, help="file for the RESULT lines")
    sub = ap.add_subparsers(dest="mode", required=True)
    lm = sub.add_parser("lm")
    lm.add_argument("--shapes", nargs="+", default=["SmolLM2-135M", "Llama-3.2-1B", "Llama-3.1-8B"],
                    choices=list(SHAPES))
    hs = sub.add_parser("hellaswag")
    hs.add_argument("requests", help="JSON lines written by bench_hellaswag_cuda")
    hs.add_argument("--shape", default="Llama-3.1-8B", choices=list(SHAPES))
    hs.add_argument("--batches", type=int, nargs="+", default=[32, 64, 128, 256])
    hs.add_argument("--probe", type=int, default=200,
                    help="items timed once per batch size to pick the fastest")
    args = ap.parse_args()
    torch.manual_seed(0)
    with open(args.out, "w") as out:
        (run_lm if args.mode == "lm" else run_hellaswag)(args, out)


if __name__ == "__main__":
    main()
