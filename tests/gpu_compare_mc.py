#!/usr/bin/env python3
"""gpu_compare_mc.py — compares two `swarmprune eval --task hellaswag --samples FILE` outputs (CPU
engine vs CUDA engine on the same items) for tests/gpu_check.sh: acc and acc_norm (recomputed
from the per-item log-likelihoods as the engine computes them: argmax, first index on ties) must
be equal (--exact) or within --within (a fraction). Every item whose acc or acc_norm decision
differs is printed with both backends' log-likelihoods and the CPU margin (gap between the
CPU's top two scores), so a near-tie flip is told apart from a bug at a glance. Python standard
library only (the device may have nothing else). Exit 0 when the criterion holds, else 1.
usage: gpu_compare_mc.py CPU.jsonl CUDA.jsonl (--exact | --within F) [--name NAME]"""
import argparse
import json
import sys


def load(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError) as e:
        sys.exit(f"gpu_compare_mc: cannot read {path}: {e}")


def argmax(v):
    return max(range(len(v)), key=lambda k: (v[k], -k))


def margin(v):
    s = sorted(v, reverse=True)
    return s[0] - s[1]


def norms(item):
    return [ll / n for ll, n in zip(item["lls"], item["norm_len"])]


def fmt(v):
    return "[" + ", ".join(f"{x:.4f}" for x in v) + "]"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cpu")
    ap.add_argument("cuda")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--exact", action="store_true")
    g.add_argument("--within", type=float)
    ap.add_argument("--name", default="mc")
    a = ap.parse_args()
    cpu, gpu = load(a.cpu), load(a.cuda)
    if not cpu or [c["item"] for c in cpu] != [g["item"] for g in gpu]:
        print(f"{a.name}: the two files do not hold the same items ({len(cpu)} vs {len(gpu)})")
        return 1
    n = len(cpu)
    acc = {"cpu": [0, 0], "cuda": [0, 0]}
    worst_d, differing = 0.0, 0
    for c, g in zip(cpu, gpu):
        worst_d = max(worst_d, max(abs(x - y) for x, y in zip(c["lls"], g["lls"])))
        dec_c = (argmax(c["lls"]), argmax(norms(c)))
        dec_g = (argmax(g["lls"]), argmax(norms(g)))
        for k in range(2):
            acc["cpu"][k] += dec_c[k] == c["label"]
            acc["cuda"][k] += dec_g[k] == g["label"]
        if dec_c != dec_g:
            differing += 1
            print(f"{a.name}: item {c['item']} (label {c['label']}) decides differently: cpu acc/norm "
                  f"{dec_c[0]}/{dec_c[1]}, cuda {dec_g[0]}/{dec_g[1]}\n"
                  f"    cpu  ll {fmt(c['lls'])}  margin {margin(c['lls']):.4f} (acc), "
                  f"{margin(norms(c)):.5f} (acc_norm)\n"
                  f"    cuda ll {fmt(g['lls'])}")
    (ca, cn), (ga, gn) = ([x / n for x in acc[b]] for b in ("cpu", "cuda"))
    print(f"{a.name}: {n} items: cpu acc {ca:.4f} acc_norm {cn:.4f} | cuda acc {ga:.4f} acc_norm "
          f"{gn:.4f}; {differing} items decided differently; max |d ll| {worst_d:.4f} nats")
    ok = (ca == ga and cn == gn) if a.exact else (abs(ca - ga) <= a.within and
                                                  abs(cn - gn) <= a.within)
    crit = "exact equality" if a.exact else f"|d| <= {a.within}"
    print(f"{a.name}: {'ok' if ok else 'FAILED'} ({crit})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
