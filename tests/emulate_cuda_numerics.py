#!/usr/bin/env python3
"""emulate_cuda_numerics.py — predicts, without a GPU, how far the CUDA engine's bf16 roundings
move the tiny fixture's log-probs and masked NLLs from the Hugging Face goldens, to check the
tolerances of tests/test_cuda_engine.c before a GPU run (docs/GPU.md).

The emulation is the fp32 Llama forward (PyTorch, CPU) with exactly the roundings of
worker/engine_cuda.c: bf16 weights (as stored); RMSNorm outputs rounded to bf16 (GEMM inputs);
GEMMs with fp32 accumulation; q/k/v fp32 after rotary; attention as kernels/attention.cu
config 2 (Q, K, V rounded to bf16, online softmax over 64-key tiles in the log2 domain,
probabilities rounded to bf16 and summed as rounded, output rounded to bf16) or, with
--attn fp32, configs 0/1 (fp32 throughout, output rounded to bf16); gate and up written as bf16
by their GEMM (--gu fp32: kept fp32) and the SwiGLU output rounded to bf16; fp32 residual
stream; final norm rounded to bf16; fp32 logits and log-softmax.
With --mc it also scores brown_cloze_val.jsonl the lm-evaluation-harness way (600 items, tokens
from the fixture's tokenizer.json through the `tokenizers` package) and compares acc / acc_norm
with mc_goldens.json: the CUDA engine must give the CPU engine's (= the goldens') accuracies, so
this shows whether bf16 flips any item and how close the nearest decisions are.
usage: python3 tests/emulate_cuda_numerics.py [--shared DIR] [--attn tc|fp32] [--gu fp32|bf16]
       [--mc]"""
import argparse
import json
import math
import os
import re

import torch
from transformers import AutoModelForCausalLM


ROUND = True  # False (--reference): no bf16 rounding at all, the fp32 CPU engine's arithmetic


def r(x):
    """Round fp32 to bf16 (nearest even) and back."""
    return x.to(torch.bfloat16).to(torch.float32) if ROUND else x


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), -1)


def attention_tc(q, k, v, scale, tile=64):
    """q [NH, n, D], k/v [NKV, n, D] (already bf16-valued); causal; kernel config 2."""
    nh, n, _ = q.shape
    rep = nh // k.shape[0]
    k, v = k.repeat_interleave(rep, 0), v.repeat_interleave(rep, 0)
    sl2 = scale * 1.4426950408889634
    m = torch.full((nh, n, 1), -math.inf)
    l = torch.zeros((nh, n, 1))
    o = torch.zeros_like(q)
    qi = torch.arange(n)[:, None]
    for k0 in range(0, n, tile):
        kt, vt = k[:, k0:k0 + tile], v[:, k0:k0 + tile]
        vis = (torch.arange(k0, min(n, k0 + tile))[None, :] <= qi)[None]
        s = (q @ kt.transpose(1, 2)) * sl2
        s = s.masked_fill(~vis, -math.inf)
        m_new = torch.maximum(m, s.amax(-1, keepdim=True))
        anyv = torch.isfinite(m_new)
        corr = torch.where(anyv, torch.exp2(m - m_new), torch.ones_like(m))
        p = torch.where(vis & anyv, r(torch.exp2(s - torch.where(anyv, m_new, 0 * m_new))), 0.0)
        l = l * corr + p.sum(-1, keepdim=True)
        o = o * corr + p @ vt
        m = m_new
    return o / l


def attention_fp32(q, k, v, scale):
    nh, n, _ = q.shape
    rep = nh // k.shape[0]
    k, v = k.repeat_interleave(rep, 0), v.repeat_interleave(rep, 0)
    s = (q @ k.transpose(1, 2)) * scale
    s = s.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1)[None], -math.inf)
    return torch.softmax(s, -1) @ v


class Emulated:
    def __init__(self, path, attn, gu="bf16"):
        hf = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
        self.cfg, self.attn, self.gu, self.hf = hf.config, attn, gu, hf
        self.layers = hf.model.layers
        self.D = getattr(self.cfg, "head_dim", None) or self.cfg.hidden_size // self.cfg.num_attention_heads

    @torch.inference_mode()
    def logprobs(self, ids, removed=()):
        """ids: list of token ids (one plain item); returns log p(ids[t+1] | ids[:t+1])."""
        c, D = self.cfg, self.D
        NH, NKV, eps = c.num_attention_heads, c.num_key_value_heads, c.rms_norm_eps
        t = torch.tensor(ids)
        n = len(ids)
        x = self.hf.model.embed_tokens.weight[t]
        cos, sin = self.hf.model.rotary_emb(x[None], torch.arange(n)[None])
        cos, sin = cos[0], sin[0]
        for li, ly in enumerate(self.layers):
            if li in removed:
                continue
            a = ly.self_attn
            xn = r(rmsnorm(x, ly.input_layernorm.weight, eps))
            q = (xn @ a.q_proj.weight.T).view(n, NH, D).transpose(0, 1)
            k = (xn @ a.k_proj.weight.T).view(n, NKV, D).transpose(0, 1)
            v = (xn @ a.v_proj.weight.T).view(n, NKV, D).transpose(0, 1)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            if self.attn == "tc":
                att = attention_tc(r(q), r(k), r(v), 1.0 / math.sqrt(D))
            else:
                att = attention_fp32(q, k, v, 1.0 / math.sqrt(D))
            att = r(att.transpose(0, 1).reshape(n, NH * D))
            x = x + att @ a.o_proj.weight.T
            mlp = ly.mlp
            xn = r(rmsnorm(x, ly.post_attention_layernorm.weight, eps))
            gate, up = xn @ mlp.gate_proj.weight.T, xn @ mlp.up_proj.weight.T
            if self.gu == "bf16":  # the GEMM writes gate|up as bf16
                gate, up = r(gate), r(up)
            hid = r(torch.nn.functional.silu(gate) * up)
            x = x + hid @ mlp.down_proj.weight.T
        hn = r(rmsnorm(x, self.hf.model.norm.weight, eps))
        lp = torch.log_softmax(hn @ self.hf.lm_head.weight.T, -1)
        return lp[:-1].gather(-1, t[1:, None])[:, 0].double()


def lm_eval_preprocess(text):
    text = text.strip().replace(" [title]", ". ")
    text = re.sub(r"\[.*?\]", "", text)
    return text.replace("  ", " ")


def score_mc(emu, fx):
    """acc / acc_norm of the emulation on brown_cloze_val.jsonl vs mc_goldens.json."""
    from tokenizers import Tokenizer
    gdir = os.path.join(fx, "tiny-brown-24L-goldens")
    tok = Tokenizer.from_file(os.path.join(fx, "tiny-brown-24L", "tokenizer.json"))
    bos = emu.cfg.bos_token_id
    enc = lambda t: tok.encode(t, add_special_tokens=False).ids
    gold = json.load(open(os.path.join(gdir, "mc_goldens.json")))
    acc = acc_norm = 0
    margins = []
    items = [json.loads(line) for line in open(os.path.join(gdir, "brown_cloze_val.jsonl"))]
    for it in items:
        ctx_b = it["ctx_b"]
        query = lm_eval_preprocess(it["activity_label"] + ": " + it["ctx_a"] + " " +
                                   ctx_b.capitalize())
        qids = enc(query)
        lls, norms = [], []
        for ending in it["endings"]:
            e = lm_eval_preprocess(ending)
            whole = enc(query + " " + e)
            cont = whole[len(qids):]
            lp = emu.logprobs([bos] + whole)
            lls.append(float(lp[-len(cont):].sum()))
            norms.append(lls[-1] / len(e))
        label = int(it["label"])
        pred = max(range(len(lls)), key=lambda k: (lls[k], -k))
        pred_n = max(range(len(norms)), key=lambda k: (norms[k], -k))
        acc += pred == label
        acc_norm += pred_n == label
        srt = sorted(lls, reverse=True)
        margins.append(srt[0] - srt[1])
    n = len(items)
    print(f"mc: {n} items: acc {acc / n:.4f} (goldens {gold['acc']}), acc_norm {acc_norm / n:.4f} "
          f"(goldens {gold['acc_norm']}); smallest top-2 ll margin {min(margins):.2e}, "
          f"{sum(m < 0.05 for m in margins)} items under 0.05 nats")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--shared", default=os.environ.get("SWARMPRUNE_SHARED",
                                                       os.path.join(here, "..", "..", "shared")))
    ap.add_argument("--attn", choices=["tc", "fp32"], default="tc")
    ap.add_argument("--gu", choices=["fp32", "bf16"], default="bf16",
                    help="gate|up GEMM output precision (the engine: bf16)")
    ap.add_argument("--mc", action="store_true", help="also score brown_cloze_val.jsonl")
    ap.add_argument("--reference", action="store_true",
                    help="no bf16 roundings (checks this script against the goldens)")
    args = ap.parse_args()
    global ROUND
    ROUND = not args.reference
    fx = os.path.join(args.shared, "fixtures")
    emu = Emulated(os.path.join(fx, "tiny-brown-24L"), args.attn, args.gu)
    g = json.load(open(os.path.join(fx, "tiny-brown-24L-goldens", "logprob_goldens.json")))
    worst, worst_mean = 0.0, 0.0
    for s in g["sequences"]:
        d = (emu.logprobs(s["ids"]) - torch.tensor(s["logprobs"], dtype=torch.float64)).abs()
        worst, worst_mean = max(worst, float(d.max())), max(worst_mean, float(d.mean()))
    what = "fp32 reference" if args.reference else f"attention {args.attn}, gate|up {args.gu}"
    print(f"{what}: logprob goldens: worst |d| {worst:.4f} (test limit 0.1), "
          f"worst per-sequence mean |d| {worst_mean:.4f} (limit 0.01)")
    mg = json.load(open(os.path.join(fx, "tiny-brown-24L-goldens", "mask_nll_goldens.json")))
    worst_nll = 0.0
    for mk in mg["masks"]:
        rm = set(mk["removed"])
        nll = -torch.cat([emu.logprobs(s, rm) for s in mg["eval_ids"]]).mean()
        worst_nll = max(worst_nll, abs(float(nll) - mk["mean_nll"]))
    print(f"{what}: mask NLL goldens: worst |d mean nll| {worst_nll:.2e} over "
          f"{len(mg['masks'])} masks (limit 1e-3)")
    if args.mc:
        score_mc(emu, fx)


if __name__ == "__main__":
    main()
