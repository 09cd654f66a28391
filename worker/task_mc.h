/* task_mc.h — multiple-choice scoring with lm-evaluation-harness semantics (HellaSwag).
 * Requests: context tokens = [BOS] + encode(query); an ending's continuation tokens are
 * encode(query + " " + ending) past len(encode(query)) (lm-eval's split). The model sees
 * context + continuation[:-1]; the log-likelihood of an ending is the sum of log p of its
 * continuation tokens. Scoring packs each item as one shared prefix (the context) plus one branch
 * per ending (worker/engine.h sp_batch), so the context goes through the layers once, not once
 * per ending; several items share a forward call up to a token budget, grouped by length.
 * acc = argmax ll; acc_norm = argmax ll / (Unicode characters of the ending, without the
 * delimiter space, as lm-eval's len(choice)); ties -> the first index (numpy argmax). */
#ifndef SP_TASK_MC_H
#define SP_TASK_MC_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/mask.h"
#include "mc_data.h"

struct sp_engine;
struct sp_tokenizer;

/* Tokenizer interface: encode len bytes of UTF-8 without special tokens. *ids malloc'ed. */
typedef int (*sp_mc_encode_fn)(void *ctx, const char *text, size_t len, int32_t **ids,
                               size_t *n, sp_error *err);
/* Adapter over common/tokenizer.h (ctx = the sp_tokenizer). */
int sp_mc_encode_tokenizer(void *ctx, const char *text, size_t len, int32_t **ids, size_t *n,
                           sp_error *err);

typedef struct {
    int32_t n_ctx;          /* context tokens, BOS included when used */
    int32_t *ctx;           /* [n_ctx] */
    int n_endings;
    int32_t *n_cont;        /* [n_endings] continuation token counts (>= 1) */
    int32_t **cont;         /* [n_endings][n_cont[k]] */
    double *norm_len;       /* [n_endings] acc_norm divisor: length of the ending in characters */
    int label;
    int64_t item;           /* index into the source sp_mc_set */
} sp_mc_request;

typedef struct {
    int64_t n;
    sp_mc_request *req;     /* [n] */
} sp_mc_requests;

/* Builds the requests of items idx[0..n) (all items when idx == NULL, n ignored).
 * bos < 0 means no BOS; an empty query then fails. max_len (> 0) bounds the tokens one ending
 * needs (context + continuation); longer items are refused by index and line. */
int sp_mc_build(const sp_mc_set *set, const int64_t *idx, int64_t n, sp_mc_encode_fn enc,
                void *enc_ctx, int32_t bos, int64_t max_len, sp_mc_requests *out, sp_error *err);
void sp_mc_requests_free(sp_mc_requests *r);

typedef enum {
    SP_MC_PACK_SHARED = 0, /* one prefix + one branch per ending (default) */
    SP_MC_PACK_PLAIN,      /* each (context + ending) as its own sequence: reference / check */
} sp_mc_pack;

typedef struct {
    int64_t token_budget;  /* tokens per forward call (an item larger than this goes alone) */
    sp_mc_pack pack;
} sp_mc_options;

typedef struct {
    int64_t n;                  /* items scored */
    double *lls;                /* [n x SP_MC_MAX_ENDINGS] summed log-likelihoods (nats) */
    int *pred, *pred_norm;      /* [n] argmax of ll and of ll / norm_len */
    double acc, acc_stderr;     /* lm-eval mean and mean_stderr (sample std / sqrt(n)) */
    double acc_norm, acc_norm_stderr;
    int64_t tokens_scored;      /* continuation tokens whose log p was summed */
    int64_t tokens_forward;     /* tokens that went through the layers */
    int64_t tokens_naive;       /* lm-eval's count: sum over endings of ctx + cont - 1 */
    int64_t forward_calls;
    double wall_s;
} sp_mc_result;

/* Scores all requests with the layers in `removed` skipped (NULL = none). */
int sp_mc_score(struct sp_engine *e, const sp_mask *removed, const sp_mc_requests *rq,
                const sp_mc_options *opt, sp_mc_result *res, sp_error *err);
void sp_mc_result_free(sp_mc_result *r);

/* Fills pred/acc/acc_norm (and their stderrs) from res->lls; exposed for tests. */
void sp_mc_metrics(const sp_mc_requests *rq, sp_mc_result *res);

#endif
