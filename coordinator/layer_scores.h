/* layer_scores.h — per-layer and per-window importance scores for the one-shot baselines, from the
 * engine's per-layer hidden-state hook over a calibration batch run through the FULL model:
 *   ShortGPT Block Influence  BI_l = 1 - mean_t cos(x_l[t], x_{l+1}[t])          in [0, 2]
 *   Gromov et al. angular     d_k(s) = mean_t arccos(cos(x_s[t], x_{s+k}[t])) / pi  in [0, 1]
 * x_l = the residual stream entering layer l (x_L = the stream leaving the last layer); means over
 * every token of every forward call. Dimension letters: L layers, H hidden, T tokens, K windows. */
#ifndef SP_LAYER_SCORES_H
#define SP_LAYER_SCORES_H

#include <stdint.h>

#include "common/error.h"
#include "worker/engine.h"
#include "worker/eval_task.h"

typedef struct {
    int n_layers;      /* L */
    int max_window;    /* K: angular distances for windows of 1..K layers */
    int64_t hidden;    /* H */
    double *cos_sum;   /* [L] sum over tokens of cos(x_l, x_{l+1}) */
    double *ang_sum;   /* [K x L] row k-1, column s (s + k <= L): sum of arccos(cos)/pi */
    int64_t *tokens;   /* [L] tokens accumulated per layer */
    float *ring;       /* [K x cap_T x H] fp32: x_s of the last K layers of the current forward */
    int64_t cap_T;
    int64_t cur_T;     /* T of the forward in progress */
    int next_layer;    /* layer the hook expects next (L after a complete forward) */
    int bad;           /* a hook call broke the full-model contract; bad_msg says how */
    char bad_msg[256];
} sp_layer_scores;

/* 2 <= L <= SP_MAX_LAYERS, H >= 1, 1 <= max_window <= L. */
int sp_layer_scores_init(sp_layer_scores *s, int n_layers, int64_t hidden, int max_window,
                         sp_error *err);
void sp_layer_scores_free(sp_layer_scores *s);

/* The hook (sp_layer_hook_fn); ctx is an sp_layer_scores. Records a contract violation (a layer
 * skipped, T or H changing mid-forward) in s->bad instead of accumulating. */
void sp_layer_scores_hook(void *ctx, int layer, const float *in, const float *out, int64_t T,
                          int64_t H);

/* 0 when every forward seen so far ran all L layers and at least one token was accumulated. */
int sp_layer_scores_check(const sp_layer_scores *s, sp_error *err);

/* bi[L]. Fails (sp_layer_scores_check) when the statistics are incomplete. */
int sp_layer_scores_block_influence(const sp_layer_scores *s, double *bi, sp_error *err);
/* dist[L - k + 1]: dist[s] = d_k(s), the window removing layers s .. s+k-1. 1 <= k <= K. */
int sp_layer_scores_angular(const sp_layer_scores *s, int k, double *dist, sp_error *err);

/* Runs the full model (no layer removed) over the windows (packed into forward calls of at most
 * batch_tokens tokens, as sp_lm_score does) with the hook attached, then detaches it. `s` is
 * initialised here from the engine's config (free it with sp_layer_scores_free, also on error). */
int sp_layer_scores_calibrate(sp_engine *e, const sp_lm_window *w, int64_t n_windows,
                              int64_t batch_tokens, int max_window, sp_layer_scores *s,
                              sp_error *err);

#endif
