/* engine.h — the inference engine interface: load a model once, score token batches with any set
 * of layers skipped (never copying or rewriting weights). The CPU backend (fp32 arithmetic,
 * OpenBLAS) is the reference; the CUDA backend slots in behind the same calls.
 * Dimension letters: L layers, H hidden, F FFN width, NH/NKV heads, D head dim, T tokens,
 * V vocab, P tensor-parallel size. */
#ifndef SP_ENGINE_H
#define SP_ENGINE_H

#include <mpi.h>
#include <stdint.h>

#include "../common/error.h"
#include "../common/mask.h"
#include "../common/model.h"
#include "lora.h"

typedef enum { SP_BACKEND_CPU = 0, SP_BACKEND_CUDA } sp_backend;

typedef struct {
    sp_backend backend;
    int threads; /* BLAS threads for the CPU backend; 0 = library default */
} sp_engine_options;

typedef struct sp_engine sp_engine;

int sp_engine_create(const sp_model *m, const sp_engine_options *opt, sp_engine **out,
                     sp_error *err);
/* Tensor parallelism (worker/tp_shard.h): the P ranks of `group` create their engines together
 * (collective) and must then call every sp_engine_forward together, with the same batch, mask
 * and request. Rank r of the group converts and runs only its shard (its heads and FFN
 * columns; NH and NKV must be divisible by P, else every rank gets the same refusal); each
 * layer does two sums of [T x H] floats over the group (CPU: MPI_Allreduce; CUDA: NCCL
 * all-reduce, one GPU per rank). Every rank gets the full results. A group of size 1 or
 * MPI_COMM_NULL is exactly sp_engine_create (no MPI calls ever). The engine duplicates the
 * communicator; the caller keeps ownership of `group`. If creation fails on any rank it fails
 * on all of them. Both backends. */
int sp_engine_create_group(const sp_model *m, const sp_engine_options *opt, MPI_Comm group,
                           sp_engine **out, sp_error *err);
void sp_engine_free(sp_engine *e);

/* A packed batch of T tokens. Item i holds tokens [item_off[i], item_off[i+1]). The first
 * prefix_len[i] tokens of an item are its shared prefix (positions 0..prefix_len-1, causal).
 * The remaining tokens of the item form branches: branch[t] >= 1 names the branch of token t
 * (each branch one contiguous run); a branch token attends to the whole prefix and to the
 * earlier tokens of its own branch, and its rotary position continues from the prefix
 * (prefix_len + index within the branch). This lets the 4 endings of a multiple-choice item share
 * one context computation. A plain sequence is an item with prefix_len = its length; `branch`
 * may be NULL when no item has branches (entries for prefix tokens are 0). */
typedef struct {
    int64_t n_tokens;         /* T */
    const int32_t *tokens;    /* [T] */
    int32_t n_items;
    const int64_t *item_off;  /* [n_items + 1], item_off[0] = 0, item_off[n_items] = T */
    const int32_t *prefix_len;/* [n_items] */
    const int32_t *branch;    /* [T] or NULL */
} sp_batch;

/* What the head computes: only the rows (token indices into the batch) asked for. For each row
 * r, the logits predict the token that follows tokens[rows[r]]. */
typedef struct {
    int64_t n_rows;
    const int64_t *rows;    /* [n_rows] token indices */
    const int32_t *targets; /* [n_rows] or NULL: log p(targets[r] | ...) into out_logprob */
    float *out_logprob;     /* [n_rows] when targets != NULL */
    float *out_logits;      /* [n_rows x V] raw logits, or NULL */
} sp_head_request;

/* Runs the model on the batch with the layers in `removed` skipped (NULL = none). The batch and
 * the request are validated first (sp_batch_validate; rows in [0, T), targets in [0, V)). */
int sp_engine_forward(sp_engine *e, const sp_batch *b, const sp_mask *removed,
                      const sp_head_request *req, sp_error *err);

const sp_model_config *sp_engine_config(const sp_engine *e);

/* Per-layer hidden-state hook (layer-importance baselines, activation statistics). When set,
 * every sp_engine_forward calls fn once per layer that RUNS, in layer order, right after the
 * layer: in = the residual stream entering layer `layer`, out = the stream leaving it, both
 * [T x H] fp32 row-major over the packed batch (T = b->n_tokens), valid only during the call.
 * Layers removed by the mask are not reported (the stream passes through them unchanged), so
 * out of one reported layer == in of the next reported one. Under tensor parallelism every
 * rank of the group sees the same (replicated) stream. fn = NULL removes the hook; without a
 * hook the forward pass does no extra work. */
typedef void (*sp_layer_hook_fn)(void *ctx, int layer, const float *in, const float *out,
                                 int64_t T, int64_t H);
void sp_engine_set_layer_hook(sp_engine *e, sp_layer_hook_fn fn, void *ctx);

/* Interruptible forward passes (a single-process search stopping on SIGTERM / SIGUSR1 within
 * the grace period): `stop` (e.g. sp_signal_pending) is polled before each forward call and,
 * on the CPU without tensor parallelism, between layers; when it returns non-zero the forward
 * fails with "interrupted: ..." and its results are garbage. NULL = never interrupted. Only for
 * a process alone: ranks of a tensor-parallel group must not leave a collective early. */
void sp_engine_set_stop(sp_engine *e, int (*stop)(void));
/* Runtime LoRA adapter (no merging): every later sp_engine_forward adds
 * scaling * (x A^T) B^T to the output of each projection the adapter has for a layer that runs
 * (q/k/v before rotary, o and down into the residual stream, gate/up before SwiGLU); no dropout.
 * The adapter is read at each forward, not copied: keep it alive and unchanged while it is set.
 * Its layer count and shapes must match the model. lora = NULL removes it. CPU backend only,
 * without tensor parallelism (others: "not implemented: ..."). */
int sp_engine_set_lora(sp_engine *e, const sp_lora *lora, sp_error *err);

const char *sp_backend_name(sp_backend b); /* "cpu", "cuda" */

/* Device memory of a CUDA engine (bytes): weights, activation workspace, and the peak in use on
 * the device since creation. Returns 0 and fills them for the CUDA backend, -1 for the CPU. */
int sp_engine_device_memory(const sp_engine *e, size_t *weights, size_t *workspace, size_t *peak);

/* Checks a batch: T >= 1, item offsets increasing from 0 to T (no empty item), 0 <= prefix_len
 * <= item length, branch entries 0 in prefixes and >= 1 after them, each branch one contiguous
 * run, token ids in [0, vocab). Messages name the item / token index. */
int sp_batch_validate(const sp_batch *b, int64_t vocab, sp_error *err);

/* Rotary positions pos[T] of a validated batch (prefix tokens: their index in the item; branch
 * tokens: prefix_len + index within the branch). Returns the largest position. */
int32_t sp_batch_positions(const sp_batch *b, int32_t *pos);

#endif
