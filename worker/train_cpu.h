/* worker/train_cpu.h — forward + backward of the masked Llama forward on the CPU (fp32, BLAS),
   gradients only for LoRA A/B; frozen weights as the inference engine loads them. */
#ifndef SP_TRAIN_CPU_H
#define SP_TRAIN_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "../common/error.h"
#include "../common/mask.h"
#include "../common/model.h"
#include "lora.h"

typedef struct sp_trainer sp_trainer;
typedef struct {
    int threads;        /* BLAS threads, 0 = library default */
    int recompute;      /* 1: keep only each layer's input, recompute the layer in backward */
    int64_t max_tokens; /* largest n_seq * T a step will get (sizes the workspace) */
} sp_trainer_options;
int sp_trainer_create(const sp_model *m, const sp_mask *removed, const sp_trainer_options *o,
                      sp_trainer **out, sp_error *err);
void sp_trainer_free(sp_trainer *t);
/* Bytes the trainer would allocate for these options (weights + activations + workspace), so
   `heal` can refuse before starting when memory is short. */
int sp_trainer_estimate_bytes(const sp_model_config *cfg, const sp_mask *removed,
                              const sp_lora_config *lc, const sp_trainer_options *o,
                              size_t *bytes, sp_error *err);
/* One micro-batch: n_seq sequences of T tokens each, plain causal attention, positions 0..T-1.
   weight[s*T + t] (>= 0) weighs the NLL of predicting tokens[s*T + t + 1] from position t
   (the last position of each sequence is ignored). Computes
   loss_sum = sum weight * NLL and weight_sum = sum weight, and ADDS
   grad_scale * d(loss_sum)/d(A,B) into lora->gA/gB. Dropout (probability lora->cfg.dropout,
   inverted scaling) on each LoRA input, mask bits drawn counter-based from dropout_key and the
   element index; dropout 0 or dropout_key ignored when cfg.dropout == 0. Deterministic for
   any thread count. */
int sp_trainer_step(sp_trainer *t, sp_lora *lora, const int32_t *tokens, const float *weight,
                    int n_seq, int T, uint64_t dropout_key, double grad_scale,
                    double *loss_sum, double *weight_sum, sp_error *err);
/* Forward only (no dropout, no gradients): the same loss_sum / weight_sum. lora may be NULL. */
int sp_trainer_eval(sp_trainer *t, const sp_lora *lora, const int32_t *tokens,
                    const float *weight, int n_seq, int T, double *loss_sum,
                    double *weight_sum, sp_error *err);

/* Additions beyond the contract.
   Notes: sp_trainer_estimate_bytes counts the trainer's fp32 copies of the kept layers' weights,
   its activations and workspace, its copy of A/B and the sp_lora (A, B, gA, gB) — not the mapped
   model file nor optimizer moments (2 n_params floats for AdamW). Dropout keeps an element when
   16 counter-based bits are >= round(p 65536) (drop probability p to within 2^-16), drawn from
   (dropout_key, layer * SP_LORA_NT + target, token index in the micro-batch, feature / 4).
   Determinism: every loop outside BLAS is sequential and OpenBLAS splits GEMMs by rows/columns
   only, so results are bit-identical for any thread count (checked for 1 vs 2 threads in
   tests/test_train_nll.c) and between recompute and full mode (tests/test_train_grad.c). */
/* The same trainer with every operation in fp64 (weights: the fp32 values as loaded, widened;
   gradients rounded to fp32 only when added into gA/gB). For gradient checks. */
int sp_trainer_create_f64(const sp_model *m, const sp_mask *removed, const sp_trainer_options *o,
                          sp_trainer **out, sp_error *err);

#endif
