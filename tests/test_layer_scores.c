/* test_layer_scores.c — Block Influence / angular-distance statistics (coordinator/layer_scores)
 * on the tiny-brown-24L fixture with 4 golden eval sequences: ranges; equality with a second,
 * plain implementation over captured hidden states; the hook's stream checked against the model
 * itself (x_0 = embedding rows; head(x_{l+1}) = the engine's logits with layers l+1.. removed);
 * contract violations refused; one-shot masks with exactly k prunable layers. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/model.h"
#include "coordinator/layer_scores.h"
#include "coordinator/oneshot.h"
#include "test_util.h"
#include "worker/engine.h"
#include "worker/eval_task.h"

#define N_SEQ 4
#define N_TOK 64
#define KMAX 8
/* Same packing (one window per forward) = the same fp32 stream; only the order of the double
 * sums over tokens differs -> ~1e-15. Different packing changes sgemm blocking (~1e-6 relative
 * in the stream) -> 1e-4 as in test_engine_goldens' packing check. Logits from the captured
 * stream via a double-precision head vs the engine's fp32 sgemm head: 1e-4 relative L2. */
#define TOL_SAME 1e-9
#define TOL_PACK 1e-4
#define TOL_HEAD 1e-4

/* Captures every stream of one forward: x[l] for l = 0..L, [L+1 x T x H]. */
typedef struct {
    int L;
    int64_t H, T;
    float *x;
    int seen[SP_MAX_LAYERS];
    int chain_ok; /* out of layer l == in of layer l+1, bit for bit */
} capture;

static void capture_hook(void *ctx, int layer, const float *in, const float *out, int64_t T,
                         int64_t H)
{
    capture *c = ctx;
    size_t n = (size_t)T * (size_t)H;
    if (T != c->T || H != c->H || layer < 0 || layer >= c->L) {
        c->chain_ok = 0;
        return;
    }
    if (layer > 0 && c->seen[layer - 1] && memcmp(c->x + (size_t)layer * n, in, n * 4) != 0)
        c->chain_ok = 0;
    memcpy(c->x + (size_t)layer * n, in, n * sizeof(float));
    memcpy(c->x + (size_t)(layer + 1) * n, out, n * sizeof(float));
    c->seen[layer] = 1;
}

static double plain_cos(const float *a, const float *b, int64_t H)
{
    double ab = 0, aa = 0, bb = 0;
    for (int64_t i = 0; i < H; i++) ab += (double)a[i] * b[i], aa += (double)a[i] * a[i],
                                     bb += (double)b[i] * b[i];
    double c = ab / sqrt(aa * bb);
    return fmin(1.0, fmax(-1.0, c));
}

/* Runs one window (all tokens as one item), capturing the streams; logits [n_rows x V] of the
 * given rows when logits != NULL. */
static int run_window(sp_engine *e, const sp_lm_window *w, const sp_mask *removed, capture *c,
                      int64_t n_rows, const int64_t *rows, float *logits, sp_error *err)
{
    int64_t off[2] = {0, w->n};
    int32_t pl = (int32_t)w->n;
    int64_t row0 = 0;
    sp_batch b = {w->n, w->ids, 1, off, &pl, NULL};
    sp_head_request req = {n_rows ? n_rows : 1, n_rows ? rows : &row0, NULL, NULL, logits};
    float *scratch = NULL;
    if (!logits)
        req.out_logits = scratch =
            malloc(sizeof(float) * (size_t)sp_engine_config(e)->vocab * (size_t)req.n_rows);
    memset(c->seen, 0, sizeof c->seen);
    c->T = w->n;
    c->chain_ok = 1;
    sp_engine_set_layer_hook(e, capture_hook, c);
    int rc = sp_engine_forward(e, &b, removed, &req, err);
    sp_engine_set_layer_hook(e, NULL, NULL);
    free(scratch);
    return rc;
}

/* BI and angular distances from captured streams, window by window, the textbook way. */
static void plain_scores(sp_engine *e, const sp_lm_window *w, int n, capture *c, double *bi,
                         double *ang /* [KMAX x L] */)
{
    int L = c->L;
    int64_t H = c->H, tok = 0;
    memset(bi, 0, sizeof(double) * (size_t)L);
    memset(ang, 0, sizeof(double) * KMAX * (size_t)L);
    sp_error err = {{0}};
    for (int i = 0; i < n; i++) {
        CHECK(run_window(e, &w[i], NULL, c, 0, NULL, NULL, &err) == 0, "%s", err.msg);
        CHECK(c->chain_ok, "window %d: out of layer l != in of layer l+1", i);
        size_t sz = (size_t)w[i].n * (size_t)H;
        for (int64_t t = 0; t < w[i].n; t++)
            for (int s = 0; s < L; s++)
                for (int k = 1; k <= KMAX && s + k <= L; k++) {
                    double cs = plain_cos(c->x + s * sz + t * H, c->x + (s + k) * sz + t * H, H);
                    if (k == 1) bi[s] += cs;
                    ang[(k - 1) * L + s] += acos(cs) / 3.14159265358979323846;
                }
        tok += w[i].n;
    }
    for (int s = 0; s < L; s++) bi[s] = 1.0 - bi[s] / (double)tok;
    for (int j = 0; j < KMAX * L; j++) ang[j] /= (double)tok;
}

static void check_ranges_and_plain(sp_engine *e, const sp_lm_window *w, capture *c)
{
    int L = c->L;
    sp_error err = {{0}};
    sp_layer_scores one, packed;
    double bi[SP_MAX_LAYERS], bi2[SP_MAX_LAYERS], d[SP_MAX_LAYERS], d2[SP_MAX_LAYERS];
    double *ang = malloc(sizeof(double) * KMAX * (size_t)L);
    /* One window per forward (same arithmetic as plain_scores), and all 4 packed into one. */
    CHECK(sp_layer_scores_calibrate(e, w, N_SEQ, N_TOK, KMAX, &one, &err) == 0, "%s", err.msg);
    CHECK(sp_layer_scores_calibrate(e, w, N_SEQ, N_SEQ * N_TOK, KMAX, &packed, &err) == 0, "%s",
          err.msg);
    plain_scores(e, w, N_SEQ, c, bi2, ang);
    CHECK(sp_layer_scores_block_influence(&one, bi, &err) == 0, "%s", err.msg);
    CHECK(sp_layer_scores_block_influence(&packed, d, &err) == 0, "%s", err.msg);
    for (int l = 0; l < L; l++) {
        CHECK(isfinite(bi[l]) && bi[l] >= 0 && bi[l] <= 2, "BI[%d] = %g", l, bi[l]);
        CHECK_NEAR(bi[l], bi2[l], TOL_SAME, "BI[%d] vs plain", l);
        CHECK_NEAR(d[l], bi2[l], TOL_PACK, "BI[%d] packed vs plain", l);
    }
    for (int k = 1; k <= KMAX; k++) {
        CHECK(sp_layer_scores_angular(&one, k, d, &err) == 0, "%s", err.msg);
        CHECK(sp_layer_scores_angular(&packed, k, d2, &err) == 0, "%s", err.msg);
        for (int s = 0; s + k <= L; s++) {
            CHECK(isfinite(d[s]) && d[s] >= 0 && d[s] <= 1, "d_%d(%d) = %g", k, s, d[s]);
            CHECK_NEAR(d[s], ang[(k - 1) * L + s], TOL_SAME, "d_%d(%d) vs plain", k, s);
            CHECK_NEAR(d2[s], ang[(k - 1) * L + s], TOL_PACK, "d_%d(%d) packed vs plain", k, s);
        }
    }
    CHECK(sp_layer_scores_angular(&one, KMAX + 1, d, &err) != 0, "window above max accepted");
    sp_layer_scores_free(&one);
    sp_layer_scores_free(&packed);
    free(ang);
}

/* x_0 == embedding rows exactly; head(x_{l+1}) computed here in double == the engine's logits
 * when layers l+1..L-1 are removed; the truncated run's stream == the full run's. */
static void check_against_model(sp_engine *e, const sp_model *m, const sp_lm_window *w,
                                capture *c)
{
    const sp_model_config *cfg = &m->cfg;
    int64_t H = cfg->hidden, V = cfg->vocab, T = w->n;
    size_t sz = (size_t)T * (size_t)H;
    sp_error err = {{0}};
    float *emb = malloc(sizeof(float) * (size_t)(V * H)), *head = malloc(sizeof(float) * (size_t)(V * H));
    float *fn = malloc(sizeof(float) * (size_t)H), *full = malloc(sizeof(float) * sz * (size_t)(c->L + 1));
    float *logits = malloc(sizeof(float) * (size_t)(3 * V));
    CHECK(sp_tensor_to_f32(m->embed, emb, &err) == 0 && sp_tensor_to_f32(m->lm_head, head, &err) == 0 &&
              sp_tensor_to_f32(m->final_norm, fn, &err) == 0, "%s", err.msg);
    CHECK(run_window(e, w, NULL, c, 0, NULL, NULL, &err) == 0, "%s", err.msg);
    memcpy(full, c->x, sizeof(float) * sz * (size_t)(c->L + 1));
    for (int64_t t = 0; t < T; t++)
        CHECK(memcmp(full + t * H, emb + (size_t)w->ids[t] * (size_t)H, sizeof(float) * (size_t)H) == 0,
              "x_0 row %lld != embedding of token %d", (long long)t, w->ids[t]);
    int64_t rows[3] = {0, T / 2, T - 1};
    const int layers[4] = {0, 5, 11, 22};
    for (int li = 0; li < 4; li++) {
        int l = layers[li];
        sp_mask rm;
        sp_mask_clear(&rm);
        for (int j = l + 1; j < c->L; j++) sp_mask_set(&rm, j);
        CHECK(run_window(e, w, &rm, c, 3, rows, logits, &err) == 0, "%s", err.msg);
        CHECK(memcmp(c->x + (size_t)(l + 1) * sz, full + (size_t)(l + 1) * sz, sizeof(float) * sz) == 0,
              "layer %d: truncated run's stream differs from the full run's", l);
        double num = 0, den = 0;
        for (int r = 0; r < 3; r++) {
            const float *x = full + (size_t)(l + 1) * sz + rows[r] * H;
            double ss = 0;
            for (int64_t i = 0; i < H; i++) ss += (double)x[i] * x[i];
            double inv = 1.0 / sqrt(ss / (double)H + cfg->rms_eps);
            for (int64_t v = 0; v < V; v++) {
                double acc = 0;
                for (int64_t i = 0; i < H; i++) acc += x[i] * inv * fn[i] * head[v * H + i];
                double diff = acc - logits[r * V + v];
                num += diff * diff, den += acc * acc;
            }
        }
        CHECK(den > 0 && sqrt(num / den) <= TOL_HEAD, "layer %d: head(x) vs engine logits rel L2 %g",
              l, sqrt(num / den));
    }
    free(emb), free(head), free(fn), free(full), free(logits);
}

static void check_contract(sp_engine *e, const sp_lm_window *w, int L, int64_t H)
{
    sp_error err = {{0}};
    sp_layer_scores s;
    sp_mask rm;
    sp_mask_clear(&rm);
    sp_mask_set(&rm, 5);
    CHECK(sp_layer_scores_init(&s, L, H, 4, &err) == 0, "%s", err.msg);
    double bi[SP_MAX_LAYERS];
    CHECK(sp_layer_scores_block_influence(&s, bi, &err) != 0, "empty statistics accepted");
    sp_lm_result res;
    sp_engine_set_layer_hook(e, sp_layer_scores_hook, &s);
    CHECK(sp_lm_score(e, &rm, w, 1, N_TOK, &res, &err) == 0, "%s", err.msg);
    sp_engine_set_layer_hook(e, NULL, NULL);
    CHECK(sp_layer_scores_check(&s, &err) != 0 && strstr(err.msg, "full model"),
          "a forward with layer 5 removed accepted: %s", err.msg);
    sp_layer_scores_free(&s);
    CHECK(sp_layer_scores_init(&s, L, H, L + 1, &err) != 0, "window > L accepted");
    CHECK(sp_layer_scores_init(&s, L, H, 2, &err) == 0, "%s", err.msg);
    float x[4] = {1, 2, 3, 4};
    sp_layer_scores_hook(&s, 0, x, x, 1, 4); /* wrong H */
    CHECK(sp_layer_scores_check(&s, &err) != 0 && strstr(err.msg, "hidden"), "H mismatch: %s",
          err.msg);
    sp_layer_scores_free(&s);
}

static int is_contiguous(const sp_mask *m, int k)
{
    int idx[SP_MAX_LAYERS];
    int n = sp_mask_to_list(m, idx, SP_MAX_LAYERS);
    if (n != k) return 0;
    for (int i = 1; i < n; i++)
        if (idx[i] != idx[i - 1] + 1) return 0;
    return 1;
}

static void check_oneshot(sp_engine *e, const sp_lm_window *w, int L)
{
    sp_error err = {{0}};
    sp_layer_scores s;
    CHECK(sp_layer_scores_calibrate(e, w, N_SEQ, N_SEQ * N_TOK, KMAX, &s, &err) == 0, "%s", err.msg);
    double bi[SP_MAX_LAYERS], d[SP_MAX_LAYERS];
    CHECK(sp_layer_scores_block_influence(&s, bi, &err) == 0, "%s", err.msg);
    const int ks[3] = {3, 6, 8};
    for (int i = 0; i < 3; i++) {
        int k = ks[i];
        sp_search_problem p;
        sp_mask mb, ma, ml;
        CHECK(sp_search_problem_init(&p, L, k, NULL, 1, &err) == 0, "%s", err.msg);
        CHECK(sp_layer_scores_angular(&s, k, d, &err) == 0, "%s", err.msg);
        CHECK(sp_oneshot_lowest_scores(&p, bi, &mb, &err) == 0, "%s", err.msg);
        CHECK(sp_oneshot_best_window(&p, d, &ma, &err) == 0, "%s", err.msg);
        CHECK(sp_oneshot_last_k(&p, &ml, &err) == 0, "%s", err.msg);
        CHECK(sp_search_mask_check(&p, &mb, k, &err) == 0, "BI k=%d: %s", k, err.msg);
        CHECK(sp_search_mask_check(&p, &ma, k, &err) == 0, "angular k=%d: %s", k, err.msg);
        CHECK(sp_search_mask_check(&p, &ml, k, &err) == 0, "last-k k=%d: %s", k, err.msg);
        CHECK(is_contiguous(&ma, k) && is_contiguous(&ml, k), "windows contiguous k=%d", k);
        CHECK(sp_mask_test(&ml, L - 2) && sp_mask_test(&ml, L - 1 - k), "last-k k=%d", k);
        double max_rm = -1, min_kept = 3;
        for (int l = 1; l < L - 1; l++) {
            if (sp_mask_test(&mb, l)) max_rm = fmax(max_rm, bi[l]);
            else min_kept = fmin(min_kept, bi[l]);
        }
        CHECK(max_rm <= min_kept, "BI k=%d removed a layer scoring above a kept one", k);
    }
    sp_layer_scores_free(&s);
}

int main(void)
{
    SP_TEST_REQUIRE_SHARED("test_layer_scores");
    sp_error err = {{0}};
    sp_model m;
    sp_engine *e = NULL;
    sp_lm_window *w = NULL;
    int64_t n = 0;
    if (sp_model_open(sp_test_shared_path("fixtures/tiny-brown-24L"), &m, &err) != 0) {
        CHECK(0, "%s", err.msg);
        return sp_test_finish("test_layer_scores");
    }
    sp_engine_options opt = {.backend = SP_BACKEND_CPU, .threads = 1};
    CHECK(sp_engine_create(&m, &opt, &e, &err) == 0, "%s", err.msg);
    CHECK(sp_lm_load_tokens(sp_test_shared_path("fixtures/tiny-brown-24L-goldens/mask_nll_goldens.json"),
                            m.cfg.vocab, &w, &n, &err) == 0 && n >= N_SEQ, "%s", err.msg);
    if (e && w && n >= N_SEQ) {
        for (int i = 0; i < N_SEQ; i++) w[i].n = w[i].n < N_TOK ? w[i].n : N_TOK;
        int L = (int)m.cfg.n_layers;
        capture c = {L, m.cfg.hidden, 0, NULL, {0}, 1};
        c.x = malloc(sizeof(float) * (size_t)(L + 1) * N_TOK * (size_t)c.H);
        check_ranges_and_plain(e, w, &c);
        check_against_model(e, &m, &w[0], &c);
        check_contract(e, w, L, m.cfg.hidden);
        check_oneshot(e, w, L);
        free(c.x);
    }
    sp_lm_windows_free(w, n);
    sp_engine_free(e);
    sp_model_close(&m);
    return sp_test_finish("test_layer_scores");
}
