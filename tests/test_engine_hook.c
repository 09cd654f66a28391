/* test_engine_hook.c — the per-layer hidden-state hook of worker/engine.h on the tiny-brown-24L
 * fixture: one call per layer that runs, in order; out of a reported layer == in of the next one;
 * the first in == the embedding rows of the tokens; masked layers are absent; the hook changes
 * no score, and removing it stops the calls. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/model.h"
#include "test_util.h"
#include "worker/engine.h"

#define MAX_CALLS 64

typedef struct {
    int n_calls;
    int layer[MAX_CALLS];
    float *in[MAX_CALLS], *out[MAX_CALLS]; /* copies, [T x H] each */
    int64_t T, H;
    int bad_dims;
} hook_log;

static void log_hook(void *ctx, int layer, const float *in, const float *out, int64_t T, int64_t H)
{
    hook_log *g = ctx;
    if (g->n_calls >= MAX_CALLS) return;
    if (T != g->T || H != g->H) g->bad_dims++;
    size_t n = (size_t)(T * H) * sizeof(float);
    int i = g->n_calls++;
    g->layer[i] = layer;
    g->in[i] = malloc(n), g->out[i] = malloc(n);
    memcpy(g->in[i], in, n);
    memcpy(g->out[i], out, n);
}

static void log_reset(hook_log *g)
{
    for (int i = 0; i < g->n_calls; i++) free(g->in[i]), free(g->out[i]);
    g->n_calls = 0;
    g->bad_dims = 0;
}

/* Two items (lengths 20 and 13) of arbitrary tokens; every token but the last of each item is a
 * head row. Returns the forward's status; lp [31]. */
static int run(sp_engine *e, const sp_mask *m, float *lp, sp_error *err)
{
    enum { T = 33 };
    static int32_t tok[T], tg[T];
    static int64_t rows[T];
    int64_t off[3] = {0, 20, T}, R = 0;
    int32_t pl[2] = {20, 13};
    for (int t = 0; t < T; t++) tok[t] = (int32_t)((t * 977 + 13) % 4096);
    for (int t = 0; t + 1 < T; t++)
        if (t != 19) rows[R] = t, tg[R++] = tok[t + 1];
    sp_batch b = {T, tok, 2, off, pl, NULL};
    sp_head_request req = {R, rows, tg, lp, NULL};
    return sp_engine_forward(e, &b, m, &req, err);
}

/* Checks the chain of calls against the expected layer list. */
static void check_chain(const hook_log *g, const int *expect, int n_expect, const float *embed,
                        const char *what)
{
    size_t n = (size_t)(g->T * g->H);
    CHECK(g->n_calls == n_expect, "%s: %d hook calls, expected %d", what, g->n_calls, n_expect);
    CHECK(g->bad_dims == 0, "%s: %d calls with wrong T/H", what, g->bad_dims);
    for (int i = 0; i < g->n_calls && i < n_expect; i++) {
        CHECK(g->layer[i] == expect[i], "%s: call %d reports layer %d, expected %d", what, i,
              g->layer[i], expect[i]);
        CHECK(memcmp(g->in[i], g->out[i], n * sizeof(float)) != 0, "%s: layer %d left the stream "
              "unchanged", what, g->layer[i]);
        if (i > 0)
            CHECK(memcmp(g->out[i - 1], g->in[i], n * sizeof(float)) == 0,
                  "%s: out of layer %d != in of layer %d", what, g->layer[i - 1], g->layer[i]);
    }
    if (g->n_calls > 0) {
        int same = 1;
        for (int64_t t = 0; t < g->T; t++) {
            int32_t tok = (int32_t)((t * 977 + 13) % 4096);
            same &= memcmp(g->in[0] + t * g->H, embed + (int64_t)tok * g->H,
                           (size_t)g->H * sizeof(float)) == 0;
        }
        CHECK(same, "%s: in of the first layer is not the embedding of the tokens", what);
    }
}

int main(void)
{
    SP_TEST_REQUIRE_SHARED("test_engine_hook");
    sp_model model;
    sp_engine *e = NULL;
    sp_error err = {{0}};
    if (sp_model_open(sp_test_shared_path("fixtures/tiny-brown-24L"), &model, &err) != 0) {
        CHECK(0, "open model: %s", err.msg);
        return sp_test_finish("test_engine_hook");
    }
    sp_engine_options opt = {SP_BACKEND_CPU, 1};
    CHECK(sp_engine_create(&model, &opt, &e, &err) == 0, "%s", err.msg);
    int64_t L = model.cfg.n_layers, H = model.cfg.hidden, V = model.cfg.vocab;
    float *embed = malloc((size_t)(V * H) * sizeof(float));
    CHECK(sp_tensor_to_f32(model.embed, embed, &err) == 0, "%s", err.msg);
    if (e) {
        float plain[33] = {0}, hooked[33] = {0}; /* 31 rows are written */
        hook_log g = {.T = 33, .H = H};
        int expect[64], n = 0;
        CHECK(run(e, NULL, plain, &err) == 0, "%s", err.msg);
        sp_engine_set_layer_hook(e, log_hook, &g);
        CHECK(run(e, NULL, hooked, &err) == 0, "%s", err.msg);
        for (int l = 0; l < L; l++) expect[n++] = l;
        check_chain(&g, expect, n, embed, "no mask");
        CHECK(memcmp(plain, hooked, sizeof plain) == 0, "the hook changed the scores");
        log_reset(&g);

        sp_mask m; /* remove 0, 5, 6 and the last layer */
        sp_mask_clear(&m);
        int rm[4] = {0, 5, 6, (int)L - 1};
        for (int i = 0; i < 4; i++) sp_mask_set(&m, rm[i]);
        CHECK(run(e, &m, hooked, &err) == 0, "%s", err.msg);
        n = 0;
        for (int l = 0; l < L; l++)
            if (!sp_mask_test(&m, l)) expect[n++] = l;
        check_chain(&g, expect, n, embed, "mask 0,5,6,last");
        log_reset(&g);

        sp_engine_set_layer_hook(e, NULL, NULL);
        CHECK(run(e, NULL, hooked, &err) == 0, "%s", err.msg);
        CHECK(g.n_calls == 0, "removed hook still called %d times", g.n_calls);
        CHECK(memcmp(plain, hooked, sizeof plain) == 0, "scores changed after removing the hook");
        sp_engine_free(e);
    }
    free(embed);
    sp_model_close(&model);
    return sp_test_finish("test_engine_hook");
}
