/* golden_seqs.h — token sequences of the golden files and their scoring as one packed batch of
 * plain items, shared by the engine golden tests (test_engine_goldens.c on the CPU engine,
 * test_cuda_engine.c on the CUDA one). Header-only and self-contained. */
#ifndef SP_GOLDEN_SEQS_H
#define SP_GOLDEN_SEQS_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>

#include "worker/engine.h"

typedef struct {
    int32_t *ids;
    int64_t n;
} seq;

/* A JSON array of token ids into s (ids malloc'ed). -1 when arr is not an array. */
static inline int json_ids(const cJSON *arr, seq *s)
{
    if (!cJSON_IsArray(arr)) return -1;
    s->n = cJSON_GetArraySize(arr);
    s->ids = malloc((size_t)(s->n ? s->n : 1) * sizeof(int32_t));
    int64_t i = 0;
    for (const cJSON *v = arr->child; v; v = v->next) s->ids[i++] = (int32_t)v->valuedouble;
    return 0;
}

/* The forward pass of whichever engine a test drives. */
typedef int (*seq_forward_fn)(const void *engine, const sp_batch *b, const sp_mask *removed,
                              const sp_head_request *req, sp_error *err);

/* Scores sequences as separate items of one batch; lp gets, per sequence, n-1 log-probs. */
static inline int score_seqs_with(seq_forward_fn fwd, const void *engine, const seq *ss,
                                  int n_seq, const sp_mask *removed, float *lp, sp_error *err)
{
    int64_t T = 0, R = 0;
    for (int i = 0; i < n_seq; i++) T += ss[i].n, R += ss[i].n - 1;
    int32_t *tok = malloc((size_t)T * sizeof *tok), *pl = malloc((size_t)n_seq * sizeof *pl);
    int32_t *tg = malloc((size_t)R * sizeof *tg);
    int64_t *off = malloc((size_t)(n_seq + 1) * sizeof *off), *rows = malloc((size_t)R * sizeof *rows);
    int64_t t = 0, r = 0;
    off[0] = 0;
    for (int i = 0; i < n_seq; i++) {
        for (int64_t j = 0; j < ss[i].n; j++, t++) {
            tok[t] = ss[i].ids[j];
            if (j + 1 < ss[i].n) rows[r] = t, tg[r++] = ss[i].ids[j + 1];
        }
        off[i + 1] = t;
        pl[i] = (int32_t)ss[i].n;
    }
    sp_batch b = {T, tok, n_seq, off, pl, NULL};
    sp_head_request req = {R, rows, tg, lp, NULL};
    int rc = fwd(engine, &b, removed, &req, err);
    free(tok), free(pl), free(tg), free(off), free(rows);
    return rc;
}

#endif
