/* train_internal.h — private to the CPU trainer: the two precisions of its math (train_f32.c,
 * train_f64.c, both built from the train_*.inc sources) behind worker/train_cpu.c, and the
 * element counts that size its buffers (shared with sp_trainer_estimate_bytes). Dimension
 * letters: N tokens of a micro-batch, H hidden, F FFN width, NH/NKV heads, D head dim, V vocab,
 * r LoRA rank, QKV = (NH + 2 NKV) D, C head rows per chunk. */
#ifndef SP_TRAIN_INTERNAL_H
#define SP_TRAIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "train_cpu.h"

#define SP_TRAIN_HEAD_CHUNK 256 /* rows of the lm_head per chunk: bounds the [C, V] logits */
#define SP_TRAIN_QBLOCK 128     /* query rows per attention block */

/* Elements (not bytes) of each buffer group, for a micro-batch of up to N tokens. */
typedef struct {
    size_t weights;  /* frozen weights of the kept layers + embedding + final norm + lm_head */
    size_t saved;    /* activations kept between forward and backward */
    size_t work;     /* per-step scratch (gradient streams, head chunk, attention blocks) */
    size_t lora;     /* LoRA-dependent buffers: u = x A^T per layer and target, copies of A/B */
} sp_train_counts;

/* n_kept layers, rank r (0: leave out the LoRA part). Returns -1 on size overflow. */
int sp_train_counts_make(const sp_model_config *cfg, int n_kept, int rank, int recompute,
                         int64_t N, sp_train_counts *c);

/* One precision of the trainer. run: forward (+ backward into grad->gA/gB when grad != NULL);
 * inputs are validated by train_cpu.c. */
typedef struct sp_train_impl sp_train_impl;
#define SP_TRAIN_DECLARE(suffix)                                                              \
    int sp_train_create_##suffix(const sp_model *m, const sp_mask *removed,                  \
                                 const sp_trainer_options *o, sp_train_impl **out,           \
                                 sp_error *err);                                              \
    void sp_train_free_##suffix(sp_train_impl *t);                                            \
    int sp_train_run_##suffix(sp_train_impl *t, const sp_lora *lora, sp_lora *grad,           \
                              const int32_t *tokens, const float *weight, int n_seq, int T,   \
                              uint64_t dropout_key, double grad_scale, double *loss_sum,      \
                              double *weight_sum, sp_error *err);
SP_TRAIN_DECLARE(f32)
SP_TRAIN_DECLARE(f64)

/* Dropout keep test for element (token n, feature i) of the LoRA input of (layer, target):
 * 16 bits of a counter-based hash per element, kept when they are >= thresh = round(p 65536)
 * (so the drop probability is p to within 2^-16). */
uint32_t sp_train_dropout_thresh(double p);

#endif
