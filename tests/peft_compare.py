#!/usr/bin/env python3
"""peft_compare.py — `swarmprune heal` against PyTorch + transformers + PEFT (by hand; never in CI:
torch is too big to install there).

Exports the tiny fixture without layers 3,7,11,15, writes heal's *initial* adapter
(`heal --init-only`), runs heal for 20 steps with --dump-batches (every micro-batch's tokens and
loss weights, and each step's loss, lr and gradient norm), then loads the export with
transformers (fp32), the initial adapter with PeftModel.from_pretrained, and runs the same 20
steps on the same batches: dropout 0, torch.optim.AdamW (single-tensor path), the same warmup +
cosine schedule (transformers.get_cosine_schedule_with_warmup), clip_grad_norm_. Compares the
loss of every step and the final adapter (relative L2 per tensor and overall).
Exit 0 when every relative difference is <= 1e-4.

usage: /work/venv/bin/python tests/peft_compare.py [--bin build/swarmprune] [--shared ../shared]
       [--steps 20] [--threads 1]   (also prints training tokens/s of both loops and the ratio)
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, get_cosine_schedule_with_warmup

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout


def load_dump(path):
    batches, steps = {}, {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if "tokens" in r:
                batches.setdefault(r["step"], []).append(r)
            else:
                steps[r["step"]] = r
    return batches, steps


def micro_loss_sum(model, b):
    n, T = b["n_seq"], b["T"]
    ids = torch.tensor(b["tokens"], dtype=torch.long).view(n, T)
    w = torch.tensor(b["weight"], dtype=torch.float32).view(n, T)
    logits = model(input_ids=ids).logits.float()                 # [n, T, V]
    logp = torch.log_softmax(logits[:, :-1], dim=-1)             # position t predicts t+1
    nll = -logp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)  # [n, T-1]
    return (w[:, :-1] * nll).sum(), w[:, :-1].sum()


def train_torch(model, batches, args, n_steps):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=args.wd, foreach=False)
    sched = get_cosine_schedule_with_warmup(opt, args.warmup, n_steps)
    losses, norms, lrs, tokens = [], [], [], 0
    t0 = time.perf_counter()
    for s in range(n_steps):
        opt.zero_grad(set_to_none=False)
        W = sum(sum(b["weight"][i] for i in range(len(b["weight"]))
                    if (i + 1) % b["T"] != 0) for b in batches[s])
        total = 0.0
        for b in batches[s]:
            ls, _ = micro_loss_sum(model, b)
            (ls / W).backward()
            total += ls.item()
            tokens += b["n_seq"] * b["T"]
        lrs.append(opt.param_groups[0]["lr"])
        norms.append(torch.nn.utils.clip_grad_norm_(params, args.clip).item())
        opt.step()
        sched.step()
        losses.append(total / W)
    return losses, norms, lrs, tokens / (time.perf_counter() - t0)


def rel(a, b):
    d = (a - b).double().norm().item()
    n = b.double().norm().item()
    return d / n if n > 0 else d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "build", "swarmprune"))
    ap.add_argument("--shared", default=os.environ.get("SWARMPRUNE_SHARED",
                                                       os.path.join(HERE, "..", "..", "shared")))
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--wd", type=float, default=0.01)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tol", type=float, default=1e-4)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model_dir = os.path.join(args.shared, "fixtures", "tiny-brown-24L")
    text = os.path.join(args.shared, "data", "brown", "train.txt")
    tmp = tempfile.mkdtemp(prefix="peft_compare.")
    train = os.path.join(tmp, "train.txt")
    with open(text, "rb") as f, open(train, "wb") as g:
        g.write(f.read(60000))
    exp, init, final, dump = (os.path.join(tmp, n) for n in ("export", "init", "final", "b.jsonl"))
    run([args.bin, "export", model_dir, "--remove", "3,7,11,15", "--out", exp, "--quiet"])
    common = ["--data", train, "--ctx", "64", "--batch-tokens", "128", "--grad-accum", "2",
              "--dropout", "0", "--targets", "q_proj,v_proj,o_proj,gate_proj,down_proj",
              "--lr", str(args.lr), "--weight-decay", str(args.wd), "--warmup", str(args.warmup),
              "--schedule", "cosine", "--max-grad-norm", str(args.clip), "--steps",
              str(args.steps), "--seed", "5", "--threads", str(args.threads)]
    run([args.bin, "heal", exp, *common, "--init-only", "--out", init])
    out = run([args.bin, "heal", exp, *common, "--out", final, "--dump-batches", dump,
               "--checkpoint-every", "0"])
    heal_tps = float(re.search(r"steps in [0-9.]+ s, ([0-9.]+) training tokens/s", out).group(1))
    batches, steps = load_dump(dump)

    base = AutoModelForCausalLM.from_pretrained(exp, torch_dtype=torch.float32,
                                                attn_implementation="eager")
    model = PeftModel.from_pretrained(base, init, is_trainable=True)
    model.train()  # dropout is 0 in the adapter config; the base model has none
    losses, norms, lrs, torch_tps = train_torch(model, batches, args, args.steps)

    worst = 0.0
    print("step  heal loss      torch loss     rel      heal |g|   torch |g|  lr")
    for s in range(args.steps):
        h = steps[s]
        r = abs(h["loss"] - losses[s]) / abs(losses[s])
        worst = max(worst, r)
        print(f"{s:4d}  {h['loss']:.9f}  {losses[s]:.9f}  {r:.2e}  {h['grad_norm']:.6f}  "
              f"{norms[s]:.6f}  {h['lr']:.3e}/{lrs[s]:.3e}")
    ours = load_file(os.path.join(final, "adapter_model.safetensors"))
    theirs = {}
    for k, v in model.state_dict().items():
        if "lora_" in k:
            theirs[k.replace(".default", "")] = v.detach()
    assert set(ours) == set(theirs), sorted(set(ours) ^ set(theirs))[:6]
    per = max(rel(ours[k], theirs[k]) for k in ours)
    cat_o = torch.cat([ours[k].flatten() for k in sorted(ours)])
    cat_t = torch.cat([theirs[k].flatten() for k in sorted(ours)])
    overall = rel(cat_o, cat_t)
    print(f"loss per step: worst relative difference {worst:.3e} (tolerance {args.tol})")
    print(f"final adapter: {len(ours)} tensors, relative L2 overall {overall:.3e}, "
          f"worst tensor {per:.3e} (tolerance {args.tol})")
    print(f"speed ({args.threads} thread(s), fp32, same batches, training loops only): heal "
          f"{heal_tps:.0f} tokens/s, torch+PEFT {torch_tps:.0f} tokens/s, ratio "
          f"{heal_tps / torch_tps:.2f}x (heal's loop also writes the batch dump)")
    ok = worst <= args.tol and overall <= args.tol
    print("peft_compare:", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
