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
this shows whether bf16 flips any item and how close the nearest decisions are: it prints the
smallest acc and acc_norm margins of the fp32 (CPU engine) scores over all items and the largest
change of an item's scores under the emulated roundings.
With --bench it instead emulates tests/bench_cuda.c's correctness pre-check: the SmolLM2-135M
shape with random bf16 weights drawn as bench_models.h draws them (uniform, amplitude
1/sqrt(hidden), down 1/sqrt(ffn)), 2 x 64 random tokens, and prints the largest |d logprob|
between the emulated CUDA engine and the fp32 CPU engine (bench_cuda's limit derives from it).
usage: python3 tests/emulate_cuda_numerics.py [--shared DIR] [--attn tc|fp32] [--gu fp32|bf16]
       [--mc [--skip-goldens] | --bench [--seeds N]]"""
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
    """q [..., NH, n, D], k/v [..., NKV, n, D] (already bf16-valued); causal; kernel config 2."""
    nh, n = q.shape[-3], q.shape[-2]
    rep = nh // k.shape[-3]
    k, v = k.repeat_interleave(rep, -3), v.repeat_interleave(rep, -3)
    sl2 = scale * 1.4426950408889634
    m = torch.full(q.shape[:-1] + (1,), -math.inf)
    l = torch.zeros(q.shape[:-1] + (1,))
    o = torch.zeros_like(q)
    qi = torch.arange(n)[:, None]
    for k0 in range(0, n, tile):
        kt, vt = k[..., k0:k0 + tile, :], v[..., k0:k0 + tile, :]
        vis = (torch.arange(k0, min(n, k0 + tile))[None, :] <= qi)[None]
        s = (q @ kt.transpose(-1, -2)) * sl2
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
    nh, n = q.shape[-3], q.shape[-2]
    rep = nh // k.shape[-3]
    k, v = k.repeat_interleave(rep, -3), v.repeat_interleave(rep, -3)
    s = (q @ k.transpose(-1, -2)) * scale
    s = s.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1)[None], -math.inf)
    return torch.softmax(s, -1) @ v


class Emulated:
    def __init__(self, path, attn, gu="bf16", hf=None):
        if hf is None:
            hf = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
        self.cfg, self.attn, self.gu, self.hf = hf.config, attn, gu, hf
        self.layers = hf.model.layers
        self.D = getattr(self.cfg, "head_dim", None) or self.cfg.hidden_size // self.cfg.num_attention_heads

    def logprobs(self, ids, removed=()):
        """ids: list of token ids (one plain item); returns log p(ids[t+1] | ids[:t+1])."""
        return self.logprobs_batch([ids], removed)[0]

    @torch.inference_mode()
    def logprobs_batch(self, seqs, removed=()):
        """seqs: lists of token ids (plain items), run as one right-padded batch (causal: the
        padding never reaches a real position); returns each item's log-probs as logprobs."""
        c, D = self.cfg, self.D
        NH, NKV, eps = c.num_attention_heads, c.num_key_value_heads, c.rms_norm_eps
        n, B = max(len(q) for q in seqs), len(seqs)
        t = torch.tensor([q + [0] * (n - len(q)) for q in seqs])  # [B, n]
        x = self.hf.model.embed_tokens.weight[t]
        cos, sin = self.hf.model.rotary_emb(x[None], torch.arange(n)[None])
        cos, sin = cos[0], sin[0]
        for li, ly in enumerate(self.layers):
            if li in removed:
                continue
            a = ly.self_attn
            xn = r(rmsnorm(x, ly.input_layernorm.weight, eps))
            q = (xn @ a.q_proj.weight.T).view(B, n, NH, D).transpose(1, 2)
            k = (xn @ a.k_proj.weight.T).view(B, n, NKV, D).transpose(1, 2)
            v = (xn @ a.v_proj.weight.T).view(B, n, NKV, D).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            if self.attn == "tc":
                att = attention_tc(r(q), r(k), r(v), 1.0 / math.sqrt(D))
            else:
                att = attention_fp32(q, k, v, 1.0 / math.sqrt(D))
            att = r(att.transpose(1, 2).reshape(B, n, NH * D))
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
        lp = lp[:, :-1].gather(-1, t[:, 1:, None])[..., 0].double()
        return [lp[i, :len(q) - 1] for i, q in enumerate(seqs)]


def lm_eval_preprocess(text):
    text = text.strip().replace(" [title]", ". ")
    text = re.sub(r"\[.*?\]", "", text)
    return text.replace("  ", " ")


def mc_scores(emu, items, enc, bos):
    """Per item: (label, the endings' summed log-likelihoods, their acc_norm scores)."""
    out = []
    for it in items:
        ctx_b = it["ctx_b"]
        query = lm_eval_preprocess(it["activity_label"] + ": " + it["ctx_a"] + " " +
                                   ctx_b.capitalize())
        qids = enc(query)
        ends = [lm_eval_preprocess(e) for e in it["endings"]]
        wholes = [enc(query + " " + e) for e in ends]
        lps = emu.logprobs_batch([[bos] + w for w in wholes])
        lls = [float(lp[-(len(w) - len(qids)):].sum()) for lp, w in zip(lps, wholes)]
        norms = [ll / len(e) for ll, e in zip(lls, ends)]
        out.append((int(it["label"]), lls, norms))
    return out


def argmax(v):
    return max(range(len(v)), key=lambda k: (v[k], -k))


def top2_gap(v):
    srt = sorted(v, reverse=True)
    return srt[0] - srt[1]


def score_mc(emu, fx):
    """acc / acc_norm of the emulation and of the fp32 reference (no rounding: the CPU engine)
    on brown_cloze_val.jsonl vs mc_goldens.json; the decision margins of the reference and how
    far the roundings move each item's scores."""
    global ROUND
    from tokenizers import Tokenizer
    gdir = os.path.join(fx, "tiny-brown-24L-goldens")
    tok = Tokenizer.from_file(os.path.join(fx, "tiny-brown-24L", "tokenizer.json"))
    bos = emu.cfg.bos_token_id
    enc = lambda t: tok.encode(t, add_special_tokens=False).ids
    gold = json.load(open(os.path.join(gdir, "mc_goldens.json")))
    items = [json.loads(line) for line in open(os.path.join(gdir, "brown_cloze_val.jsonl"))]
    rounding = ROUND
    ROUND = False
    ref = mc_scores(emu, items, enc, bos)
    ROUND = rounding
    emu_s = mc_scores(emu, items, enc, bos) if rounding else ref
    n = len(items)
    for what, sc in (("fp32 reference (CPU engine)", ref), ("emulated CUDA", emu_s)):
        acc = sum(argmax(ll) == lab for lab, ll, _ in sc) / n
        acc_n = sum(argmax(nm) == lab for lab, _, nm in sc) / n
        print(f"mc: {what}: {n} items: acc {acc:.4f} (goldens {gold['acc']}), acc_norm "
              f"{acc_n:.4f} (goldens {gold['acc_norm']})")
    m_acc = [top2_gap(ll) for _, ll, _ in ref]
    m_norm = [top2_gap(nm) for _, _, nm in ref]
    d_ll = max(abs(a - b) for (_, la, _), (_, lb, _) in zip(ref, emu_s) for a, b in zip(la, lb))
    d_nm = max(abs(a - b) for (_, _, na), (_, _, nb) in zip(ref, emu_s) for a, b in zip(na, nb))
    flips = sum(argmax(a[1]) != argmax(b[1]) for a, b in zip(ref, emu_s))
    flips_n = sum(argmax(a[2]) != argmax(b[2]) for a, b in zip(ref, emu_s))
    i_acc, i_norm = min(range(n), key=m_acc.__getitem__), min(range(n), key=m_norm.__getitem__)
    print(f"mc: smallest fp32 margins over {n} items: acc (top-2 summed ll) {m_acc[i_acc]:.3e} "
          f"nats (item {i_acc}), acc_norm (top-2 ll/chars) {m_norm[i_norm]:.3e} (item {i_norm}); "
          f"items under 0.05: acc {sum(m < 0.05 for m in m_acc)}, acc_norm "
          f"{sum(m < 0.05 for m in m_norm)}")
    print(f"mc: emulated roundings move an ending's ll by at most {d_ll:.3e} nats and its ll/chars "
          f"by at most {d_nm:.3e}; decisions flipped: acc {flips}, acc_norm {flips_n}")


def bench_model(seed):
    """bench_models.h's SmolLM2-135M shape: uniform random weights (amplitude 1/sqrt(H), down
    1/sqrt(F), norms 1), rounded to bf16 as the benchmark stores them, tied embedding."""
    from transformers import LlamaConfig, LlamaForCausalLM
    H, L, NH, NKV, D, F, V = 576, 30, 9, 3, 64, 1536, 49152
    cfg = LlamaConfig(hidden_size=H, num_hidden_layers=L, num_attention_heads=NH,
                      num_key_value_heads=NKV, head_dim=D, intermediate_size=F, vocab_size=V,
                      tie_word_embeddings=True, rope_theta=1e5, rms_norm_eps=1e-5,
                      max_position_embeddings=8192)
    torch.manual_seed(seed)
    hf = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        for name, w in hf.named_parameters():
            if "norm" in name:
                w.fill_(1.0)
                continue
            amp = 1.0 / math.sqrt(F if "down_proj" in name else H)
            w.copy_(((torch.rand_like(w) * 2 - 1) * amp).to(torch.bfloat16).float())
    return hf, V


def bench_check(args):
    """Largest |d logprob| of bench_cuda's pre-check (2 items x 64 random tokens), emulated."""
    global ROUND
    worst = 0.0
    for seed in range(args.seeds):
        hf, V = bench_model(seed)
        emu = Emulated(None, args.attn, args.gu, hf=hf)
        g = torch.Generator().manual_seed(1000 + seed)
        for _ in range(2):
            ids = torch.randint(0, V, (64,), generator=g).tolist()
            ROUND = True
            a = emu.logprobs(ids)
            ROUND = False
            b = emu.logprobs(ids)
            worst = max(worst, float((a - b).abs().max()))
        print(f"bench: seed {seed}: worst |d logprob| so far {worst:.4f}", flush=True)
    print(f"bench: SmolLM2-135M shape, random weights at 1/sqrt(hidden), {args.seeds} x 2 x 64 "
          f"tokens: worst |d logprob| emulated CUDA vs fp32 {worst:.4f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--shared", default=os.environ.get("SWARMPRUNE_SHARED",
                                                       os.path.join(here, "..", "..", "shared")))
    ap.add_argument("--attn", choices=["tc", "fp32"], default="tc")
    ap.add_argument("--gu", choices=["fp32", "bf16"], default="bf16",
                    help="gate|up GEMM output precision (the engine: bf16)")
    ap.add_argument("--mc", action="store_true", help="also score brown_cloze_val.jsonl")
    ap.add_argument("--bench", action="store_true",
                    help="only bench_cuda's random-weight SmolLM2 pre-check")
    ap.add_argument("--seeds", type=int, default=4, help="random models for --bench")
    ap.add_argument("--skip-goldens", action="store_true",
                    help="with --mc: only the multiple-choice part")
    ap.add_argument("--reference", action="store_true",
                    help="no bf16 roundings (checks this script against the goldens)")
    args = ap.parse_args()
    global ROUND
    ROUND = not args.reference
    if args.bench:
        bench_check(args)
        return
    fx = os.path.join(args.shared, "fixtures")
    emu = Emulated(os.path.join(fx, "tiny-brown-24L"), args.attn, args.gu)
    if args.mc and args.skip_goldens:
        score_mc(emu, fx)
        return
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
