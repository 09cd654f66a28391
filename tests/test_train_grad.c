/* test_train_grad.c — gradient check of the CPU trainer (worker/train_cpu.h) on the
 * tiny-brown-24L fixture with most layers removed: analytic LoRA gradients of every target
 * (A and B, random nonzero) against central finite differences in the fp64 build, without and
 * with dropout; the fp32 gradients against the fp64 ones; recompute mode == full mode. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/model.h"
#include "common/rng.h"
#include "test_util.h"
#include "worker/lora.h"
#include "worker/train_cpu.h"

/* fp64: central differences with Richardson extrapolation (h = 2^-11 and 2^-12, error O(h^4))
 * on parameters that are multiples of 2^-12, so p +- h is exact in the fp32 adapter; what is
 * left is fp64 rounding of the loss (~1e-14 / h) and the fp32 rounding of the analytic
 * gradient (6e-8 relative). The bound: */
#define TOL_FD_F64 1e-6
/* fp32 analytic vs fp64 analytic, relative L2 per tensor: fp32 forward/backward through two
 * layers, attention softmax and a 4096-way log-softmax (observed 6e-7 .. 8e-7); ~10x margin. */
#define TOL_F32_VS_F64 1e-5
#define N_SEQ 2
#define T_LEN 7
#define N_PICK 5 /* elements checked per tensor */

static const char *g_keep = "1,13"; /* layers kept */

static sp_mask keep_mask(int L)
{
    sp_mask m;
    sp_mask_clear(&m);
    for (int l = 0; l < L; l++) m.w[l >> 6] |= 1ull << (l & 63);
    const char *p = g_keep;
    while (*p) {
        int l = atoi(p);
        sp_mask_unset(&m, l);
        while (*p && *p != ',') p++;
        if (*p) p++;
    }
    return m;
}

/* Random adapter values: multiples of 2^-12 (A in +-2^-5, B in +-2^-4). */
static void fill_adapter(sp_lora *lo, uint64_t seed)
{
    size_t k = 0;
    for (int i = 0; i < lo->n_layers * SP_LORA_NT; i++) {
        if (!lo->A[i]) continue;
        int t = i % SP_LORA_NT;
        size_t na = (size_t)(lo->cfg.rank * lo->in[t]), nb = (size_t)(lo->cfg.rank * lo->out[t]);
        for (size_t j = 0; j < na; j++, k++)
            lo->A[i][j] = (float)((int)(sp_rng_uniform(seed, 1, k, 0) * 257) - 128) * 0x1p-12f;
        for (size_t j = 0; j < nb; j++, k++)
            lo->B[i][j] = (float)((int)(sp_rng_uniform(seed, 2, k, 0) * 513) - 256) * 0x1p-12f;
    }
}

#define T_LONG 150 /* > SP_TRAIN_QBLOCK (128): two attention query blocks */

typedef struct {
    sp_trainer *tr;
    sp_lora *lo;
    int n_seq, T;
    int32_t tok[T_LONG];
    float w[T_LONG];
    uint64_t key;
    unsigned check; /* targets whose elements are checked */
    int n_pick;
} problem;

static double loss_at(problem *p)
{
    double loss = 0, ws = 0;
    sp_error err = {{0}};
    /* grad_scale 0: the same loss as a step (dropout included), adds nothing to gA/gB */
    int rc = sp_trainer_step(p->tr, p->lo, p->tok, p->w, p->n_seq, p->T, p->key, 0.0, &loss, &ws,
                             &err);
    SP_ASSERT_MSG(rc == 0, "%s", err.msg);
    return loss;
}

static double fd(problem *p, float *x, double h)
{
    float x0 = *x;
    *x = (float)(x0 + h);
    double lp = loss_at(p);
    *x = (float)(x0 - h);
    double lm = loss_at(p);
    *x = x0;
    return (lp - lm) / (2 * h);
}

/* Checks N_PICK elements of every A and B; returns the worst relative L2 error per target. */
static void grad_check(problem *p, const char *label, double worst[SP_LORA_NT][2])
{
    sp_error err = {{0}};
    double loss = 0, ws = 0;
    sp_lora_zero_grad(p->lo);
    CHECK(sp_trainer_step(p->tr, p->lo, p->tok, p->w, p->n_seq, p->T, p->key, 1.0, &loss, &ws,
                          &err) == 0, "%s", err.msg);
    for (int i = 0; i < p->lo->n_layers * SP_LORA_NT; i++) {
        if (!p->lo->A[i]) continue;
        int t = i % SP_LORA_NT;
        if (!(p->check & (1u << t))) continue;
        for (int ab = 0; ab < 2; ab++) {
            float *x = ab ? p->lo->B[i] : p->lo->A[i], *g = ab ? p->lo->gB[i] : p->lo->gA[i];
            size_t n = (size_t)p->lo->cfg.rank * (size_t)(ab ? p->lo->out[t] : p->lo->in[t]);
            double num = 0, den = 0;
            for (int k = 0; k < p->n_pick; k++) {
                size_t j = (size_t)(sp_rng_uniform(99, (uint64_t)i, (uint64_t)ab, (uint64_t)k) * n);
                double d1 = fd(p, x + j, 0x1p-11), d2 = fd(p, x + j, 0x1p-12);
                double num_g = (4 * d2 - d1) / 3;
                num += (num_g - g[j]) * (num_g - g[j]), den += (double)g[j] * g[j];
            }
            double rel = sqrt(num) / (sqrt(den) > 0 ? sqrt(den) : 1);
            CHECK(sqrt(den) > 0, "%s layer %d %s %s: zero gradient", label, i / SP_LORA_NT,
                  sp_lora_target_names[t], ab ? "B" : "A");
            if (!(rel <= worst[t][ab])) worst[t][ab] = rel;
        }
    }
}

static void report(const char *label, double worst[SP_LORA_NT][2], double tol, unsigned check)
{
    printf("%s:", label);
    for (int t = 0; t < SP_LORA_NT; t++) {
        if (!(check & (1u << t))) continue;
        printf(" %s A %.1e B %.1e", sp_lora_target_names[t], worst[t][0], worst[t][1]);
        CHECK(worst[t][0] <= tol && worst[t][1] <= tol, "%s %s: relative error A %g B %g > %g",
              label, sp_lora_target_names[t], worst[t][0], worst[t][1], tol);
    }
    printf("\n");
}

static void make_problem(const sp_model *m, problem *p, int f64, int recompute, sp_lora *lo,
                         uint64_t key)
{
    sp_error err = {{0}};
    sp_mask rm = keep_mask((int)m->cfg.n_layers);
    sp_trainer_options o = {1, recompute, N_SEQ * T_LEN > T_LONG ? N_SEQ * T_LEN : T_LONG};
    int rc = f64 ? sp_trainer_create_f64(m, &rm, &o, &p->tr, &err)
                 : sp_trainer_create(m, &rm, &o, &p->tr, &err);
    SP_ASSERT_MSG(rc == 0, "%s", err.msg);
    p->lo = lo;
    p->key = key;
    p->n_seq = N_SEQ, p->T = T_LEN, p->check = (1u << SP_LORA_NT) - 1, p->n_pick = N_PICK;
    for (int n = 0; n < T_LONG; n++) {
        p->tok[n] = (int32_t)(sp_rng_uniform(5, 0, (uint64_t)n, 0) * (double)m->cfg.vocab);
        p->w[n] = n % 5 == 2 ? 0.0f : (float)(0.5 + (n % 3) * 0.75);
    }
}

static void lora_make(const sp_model *m, double dropout, sp_lora *lo)
{
    sp_error err = {{0}};
    sp_mask rm = keep_mask((int)m->cfg.n_layers);
    sp_lora_config lc = {2, 3.0, dropout, (1u << SP_LORA_NT) - 1};
    SP_ASSERT_MSG(sp_lora_create(&m->cfg, &rm, &lc, 7, lo, &err) == 0, "%s", err.msg);
    fill_adapter(lo, 11);
}

/* Relative L2 distance of two gradient vectors. */
static double rel_l2(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d, den += (double)b[i] * b[i];
    }
    return sqrt(num) / (den > 0 ? sqrt(den) : 1);
}

static void fp64_checks(const sp_model *m)
{
    for (int d = 0; d < 2; d++) {
        sp_lora lo;
        lora_make(m, d ? 0.25 : 0.0, &lo);
        problem p;
        make_problem(m, &p, 1, 0, &lo, 1234);
        double worst[SP_LORA_NT][2] = {{0}};
        grad_check(&p, d ? "fp64 dropout 0.25" : "fp64", worst);
        report(d ? "grad check fp64, dropout 0.25 (max rel L2 per target)"
                 : "grad check fp64 (max rel L2 per target)", worst, TOL_FD_F64, p.check);
        sp_trainer_free(p.tr);
        sp_lora_free(&lo);
    }
    /* one sequence of T_LONG tokens: the attention's second query block, q/k/v/o only */
    sp_lora lo;
    lora_make(m, 0.0, &lo);
    problem p;
    make_problem(m, &p, 1, 0, &lo, 5);
    p.n_seq = 1, p.T = T_LONG, p.n_pick = 2;
    p.check = 1u << SP_LORA_Q | 1u << SP_LORA_K | 1u << SP_LORA_V | 1u << SP_LORA_O;
    double worst[SP_LORA_NT][2] = {{0}};
    grad_check(&p, "fp64 long", worst);
    report("grad check fp64, one sequence of 150 tokens", worst, TOL_FD_F64, p.check);
    sp_trainer_free(p.tr);
    sp_lora_free(&lo);
}

/* One gradient with a given trainer flavour; returns a malloc'ed copy of gA|gB. */
static float *grad_of(const sp_model *m, int f64, int recompute, double dropout)
{
    sp_lora lo;
    lora_make(m, dropout, &lo);
    problem p;
    make_problem(m, &p, f64, recompute, &lo, 77);
    sp_error err = {{0}};
    double loss = 0, ws = 0;
    CHECK(sp_trainer_step(p.tr, &lo, p.tok, p.w, N_SEQ, T_LEN, p.key, 0.5, &loss, &ws, &err) == 0,
          "%s", err.msg);
    float *g = malloc(lo.n_params * sizeof(float));
    memcpy(g, lo.arena + lo.n_params, lo.n_params * sizeof(float));
    sp_trainer_free(p.tr);
    sp_lora_free(&lo);
    return g;
}

static void flavour_checks(const sp_model *m)
{
    sp_lora lo;
    lora_make(m, 0.0, &lo);
    size_t n = lo.n_params;
    sp_lora_free(&lo);
    for (int d = 0; d < 2; d++) {
        double drop = d ? 0.25 : 0.0;
        float *g64 = grad_of(m, 1, 0, drop), *g32 = grad_of(m, 0, 0, drop);
        float *g32r = grad_of(m, 0, 1, drop);
        double e = rel_l2(g32, g64, n);
        printf("fp32 vs fp64 gradient (dropout %.2f): rel L2 %.2e\n", drop, e);
        CHECK(e <= TOL_F32_VS_F64, "fp32 vs fp64 gradients: rel L2 %g", e);
        CHECK(memcmp(g32, g32r, n * sizeof(float)) == 0, "recompute mode changes the gradient "
              "(rel L2 %g)", rel_l2(g32r, g32, n));
        free(g64), free(g32), free(g32r);
    }
}

int main(void)
{
    SP_TEST_REQUIRE_SHARED("test_train_grad");
    sp_model m;
    sp_error err = {{0}};
    if (sp_model_open(sp_test_shared_path("fixtures/tiny-brown-24L"), &m, &err)) {
        fprintf(stderr, "open fixture: %s\n", err.msg);
        return 1;
    }
    fp64_checks(&m);
    flavour_checks(&m);
    sp_model_close(&m);
    return sp_test_finish("test_train_grad");
}
