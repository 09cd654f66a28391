/* layer_scores.c — Block Influence and angular-distance statistics accumulated by the engine's
 * per-layer hook. Per token, cosines are taken in double; the inputs x_s of the last K layers of
 * the forward in progress are kept in a ring so that windows of up to K layers are scored in the
 * same pass (memory K x T x H floats). */
#include "layer_scores.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double SP_LS_PI = 3.14159265358979323846;

int sp_layer_scores_init(sp_layer_scores *s, int n_layers, int64_t hidden, int max_window,
                         sp_error *err)
{
    memset(s, 0, sizeof *s);
    if (n_layers < 2 || n_layers > SP_MAX_LAYERS)
        return sp_error_set(err, "layer scores: expected 2..%d layers, got %d", SP_MAX_LAYERS,
                            n_layers);
    if (hidden < 1) return sp_error_set(err, "layer scores: hidden size %lld < 1", (long long)hidden);
    if (max_window < 1 || max_window > n_layers)
        return sp_error_set(err, "layer scores: max window %d not in [1, %d]", max_window, n_layers);
    s->n_layers = n_layers;
    s->hidden = hidden;
    s->max_window = max_window;
    s->cos_sum = sp_xcalloc((size_t)n_layers, sizeof *s->cos_sum);
    s->ang_sum = sp_xcalloc((size_t)max_window * (size_t)n_layers, sizeof *s->ang_sum);
    s->tokens = sp_xcalloc((size_t)n_layers, sizeof *s->tokens);
    return 0;
}

void sp_layer_scores_free(sp_layer_scores *s)
{
    free(s->cos_sum);
    free(s->ang_sum);
    free(s->tokens);
    free(s->ring);
    memset(s, 0, sizeof *s);
}

/* cos(a, b) of two rows of H floats, in double. A zero row has no direction: two zero rows count
 * as identical (1), one zero row as orthogonal (0). */
static double row_cos(const float *a, const float *b, int64_t H)
{
    double ab = 0, aa = 0, bb = 0;
    for (int64_t i = 0; i < H; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    if (aa == 0 || bb == 0) return (aa == 0 && bb == 0) ? 1.0 : 0.0;
    double c = ab / sqrt(aa * bb);
    return c > 1 ? 1 : (c < -1 ? -1 : c); /* rounding can leave |c| slightly above 1 */
}

/* sum over T rows of arccos(cos(a_t, b_t)) / pi, and of cos itself into *cos_total. */
static double rows_angle(const float *a, const float *b, int64_t T, int64_t H, double *cos_total)
{
    double ang = 0, cs = 0;
    for (int64_t t = 0; t < T; t++) {
        double c = row_cos(a + t * H, b + t * H, H);
        cs += c;
        ang += acos(c) / SP_LS_PI;
    }
    if (cos_total) *cos_total = cs;
    return ang;
}

static void mark_bad(sp_layer_scores *s, const char *fmt, int a, long long b)
{
    if (s->bad) return; /* keep the first violation */
    s->bad = 1;
    snprintf(s->bad_msg, sizeof s->bad_msg, fmt, a, b);
}

/* Validates the call order; at layer 0 (a new forward) sizes the ring for T. 0 = accumulate. */
static int hook_enter(sp_layer_scores *s, int layer, int64_t T, int64_t H)
{
    if (s->bad) return -1;
    if (H != s->hidden) {
        mark_bad(s, "layer %d reported hidden size %lld", layer, (long long)H);
        return -1;
    }
    if (layer == 0) {
        if (s->next_layer != 0 && s->next_layer != s->n_layers) {
            mark_bad(s, "a forward stopped before layer %d (%lld layers expected)", s->next_layer,
                     (long long)s->n_layers);
            return -1;
        }
        size_t n;
        if (sp_mul_size((size_t)s->max_window, (size_t)T, &n) || sp_mul_size(n, (size_t)H, &n) ||
            sp_mul_size(n, sizeof(float), &n)) {
            mark_bad(s, "layer %d: ring of %lld tokens overflows size_t", layer, (long long)T);
            return -1;
        }
        if (T > s->cap_T) {
            s->ring = sp_xrealloc(s->ring, n);
            s->cap_T = T;
        }
        s->cur_T = T;
    } else if (layer != s->next_layer) {
        mark_bad(s, "layer %d reported after layer %lld: the statistics need the full model "
                    "(no layer removed)", layer, (long long)s->next_layer - 1);
        return -1;
    } else if (T != s->cur_T) {
        mark_bad(s, "layer %d reported %lld tokens mid-forward", layer, (long long)T);
        return -1;
    }
    return 0;
}

void sp_layer_scores_hook(void *ctx, int layer, const float *in, const float *out, int64_t T,
                          int64_t H)
{
    sp_layer_scores *s = ctx;
    if (layer < 0 || layer >= s->n_layers) {
        mark_bad(s, "hook called for layer %d of %lld", layer, (long long)s->n_layers);
        return;
    }
    if (hook_enter(s, layer, T, H) != 0) return;
    const int K = s->max_window, L = s->n_layers;
    size_t slot = (size_t)T * (size_t)H; /* fits: checked in hook_enter */
    /* Window of 1 layer: in -> out. */
    double cs = 0;
    s->ang_sum[layer] += rows_angle(in, out, T, H, &cs);
    s->cos_sum[layer] += cs;
    /* Windows of k = 2..K layers ending here: x_{layer+1-k} from the ring. */
    for (int k = 2; k <= K && layer + 1 - k >= 0; k++) {
        int start = layer + 1 - k;
        const float *xs = s->ring + (size_t)(start % K) * slot;
        s->ang_sum[(size_t)(k - 1) * (size_t)L + (size_t)start] += rows_angle(xs, out, T, H, NULL);
    }
    if (K >= 2) memcpy(s->ring + (size_t)(layer % K) * slot, in, slot * sizeof(float));
    s->tokens[layer] += T;
    s->next_layer = layer + 1;
}

int sp_layer_scores_check(const sp_layer_scores *s, sp_error *err)
{
    if (s->bad) return sp_error_set(err, "layer scores: %s", s->bad_msg);
    if (s->next_layer != 0 && s->next_layer != s->n_layers)
        return sp_error_set(err, "layer scores: the last forward stopped before layer %d "
                                 "(the statistics need the full model)", s->next_layer);
    for (int l = 0; l < s->n_layers; l++)
        if (s->tokens[l] < 1 || s->tokens[l] != s->tokens[0])
            return sp_error_set(err, "layer scores: layer %d saw %lld tokens (layer 0: %lld)", l,
                                (long long)s->tokens[l], (long long)s->tokens[0]);
    return 0;
}

int sp_layer_scores_block_influence(const sp_layer_scores *s, double *bi, sp_error *err)
{
    if (sp_layer_scores_check(s, err)) return -1;
    for (int l = 0; l < s->n_layers; l++) bi[l] = 1.0 - s->cos_sum[l] / (double)s->tokens[l];
    return 0;
}

int sp_layer_scores_angular(const sp_layer_scores *s, int k, double *dist, sp_error *err)
{
    if (k < 1 || k > s->max_window)
        return sp_error_set(err, "layer scores: window of %d layers not in [1, %d]", k,
                            s->max_window);
    if (sp_layer_scores_check(s, err)) return -1;
    const double *row = s->ang_sum + (size_t)(k - 1) * (size_t)s->n_layers;
    for (int st = 0; st + k <= s->n_layers; st++) dist[st] = row[st] / (double)s->tokens[st];
    return 0;
}

int sp_layer_scores_calibrate(sp_engine *e, const sp_lm_window *w, int64_t n_windows,
                              int64_t batch_tokens, int max_window, sp_layer_scores *s,
                              sp_error *err)
{
    const sp_model_config *cfg = sp_engine_config(e);
    if (cfg->n_layers > SP_MAX_LAYERS)
        return sp_error_set(err, "layer scores: %lld layers > %d", (long long)cfg->n_layers,
                            SP_MAX_LAYERS);
    if (sp_layer_scores_init(s, (int)cfg->n_layers, cfg->hidden, max_window, err)) return -1;
    if (n_windows < 1) return sp_error_set(err, "layer scores: no calibration windows");
    sp_lm_result res;
    sp_engine_set_layer_hook(e, sp_layer_scores_hook, s);
    int rc = sp_lm_score(e, NULL, w, n_windows, batch_tokens, &res, err);
    sp_engine_set_layer_hook(e, NULL, NULL);
    if (rc) return sp_error_wrap(err, "layer scores: calibration forward");
    return sp_layer_scores_check(s, err);
}
