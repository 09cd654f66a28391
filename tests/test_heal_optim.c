/* test_heal_optim.c — heal's AdamW against values worked out by hand from torch.optim.AdamW's
 * definition, global-norm clipping as clip_grad_norm_, and the warmup + cosine / linear /
 * constant schedules at their defining points. */
#include "test_util.h"
#include "worker/heal_optim.h"

/* AdamW in double from the textbook formula (a second implementation). */
static double ref_adamw(double p, const double *g, int steps, double lr, double wd)
{
    double m = 0, v = 0;
    for (int t = 1; t <= steps; t++) {
        p *= 1 - lr * wd;
        m = 0.9 * m + 0.1 * g[t - 1];
        v = 0.999 * v + 0.001 * g[t - 1] * g[t - 1];
        double mh = m / (1 - pow(0.9, t)), vh = sqrt(v) / sqrt(1 - pow(0.999, t));
        p -= lr * mh / (vh + 1e-8);
    }
    return p;
}

static void test_adamw(void)
{
    sp_adamw_config c = {0.9, 0.999, 1e-8, 0.01};
    /* Step 1 by hand: m = 0.1 g, v = 0.001 g^2, bias corrections 0.1 and 0.001, so the update
       is lr * g / (|g| + eps) after the decay: 1 * (1 - 0.1 * 0.01) - 0.1 * 0.5 / (0.5 + 1e-8). */
    float p = 1.0f, g = 0.5f, m = 0, v = 0;
    sp_adamw_update(&c, 0.1, 1, &p, &g, &m, &v, 1);
    /* fp32 arithmetic: a few ulps of 0.9 */
    CHECK_NEAR(p, 0.999 - 0.1 * 0.5 / (0.5 + 1e-8), 2e-7, "step 1");
    CHECK_NEAR(m, 0.05, 1e-9, "m after step 1");
    CHECK_NEAR(v, 0.00025, 2e-10, "v after step 1"); /* fp32: 5e-7 relative */
    /* Step 2 by hand (g = -0.25): m = 0.045 - 0.025 = 0.02, v = 0.999 * 0.00025 + 0.001 * 0.0625
       = 0.00031225, bc1 = 0.19, bc2 = 0.001999. */
    g = -0.25f;
    double p1 = p;
    sp_adamw_update(&c, 0.1, 2, &p, &g, &m, &v, 1);
    double want = p1 * 0.999 - 0.1 / 0.19 * 0.02 / (sqrt(0.00031225) / sqrt(0.001999) + 1e-8);
    CHECK_NEAR(m, 0.02, 1e-8, "m after step 2");
    CHECK_NEAR(v, 0.00031225, 1e-10, "v after step 2");
    CHECK_NEAR(p, want, 1e-6, "step 2");
    /* 50 steps of a varying gradient, no weight decay and with it, against the double form
       (fp32 state: relative 1e-5 over 50 steps). */
    for (int k = 0; k < 2; k++) {
        double gs[50];
        float q = 0.3f, mq = 0, vq = 0;
        c.weight_decay = k ? 0.1 : 0.0;
        for (int t = 0; t < 50; t++) {
            gs[t] = sin(0.7 * t) * 0.01 + 0.002;
            float gt = (float)gs[t];
            gs[t] = gt;
            sp_adamw_update(&c, 1e-3, t + 1, &q, &gt, &mq, &vq, 1);
        }
        double r = ref_adamw(0.3, gs, 50, 1e-3, c.weight_decay);
        CHECK(fabs(q - r) <= 1e-5 * fabs(r), "50 steps wd %g: %.9g vs %.9g", c.weight_decay, q, r);
    }
}

static void test_clip(void)
{
    float a[2] = {3, 0}, b[1] = {4};
    float *g[2] = {a, b};
    size_t n[2] = {2, 1};
    double norm = sp_grad_global_norm(g, n, 2);
    CHECK_NEAR(norm, 5.0, 1e-12, "global norm");
    double coef = sp_grad_clip(g, n, 2, norm, 1.0);
    CHECK_NEAR(coef, 1.0 / (5.0 + 1e-6), 1e-15, "clip coefficient");
    CHECK_NEAR(a[0], 3.0 / (5.0 + 1e-6), 1e-7, "clipped a");
    CHECK_NEAR(b[0], 4.0 / (5.0 + 1e-6), 1e-7, "clipped b");
    CHECK(sp_grad_clip(g, n, 2, 0.5, 1.0) == 1.0 && a[0] == (float)(3.0 / (5.0 + 1e-6)),
          "a norm under the limit is left alone");
}

static void test_schedule(void)
{
    double lr = 2e-4;
    /* warmup 2 of 10 steps: 0, lr/2, then the decay over the 8 remaining steps */
    CHECK_NEAR(sp_schedule_lr(SP_SCHED_COSINE, lr, 2, 10, 0), 0.0, 0, "warmup start");
    CHECK_NEAR(sp_schedule_lr(SP_SCHED_COSINE, lr, 2, 10, 1), lr / 2, 1e-18, "warmup middle");
    CHECK_NEAR(sp_schedule_lr(SP_SCHED_COSINE, lr, 2, 10, 2), lr, 1e-18, "cosine peak");
    CHECK_NEAR(sp_schedule_lr(SP_SCHED_COSINE, lr, 2, 10, 6), lr / 2, 1e-18, "cosine half");
    CHECK_NEAR(sp_schedule_lr(SP_SCHED_COSINE, lr, 2, 10, 4), lr * 0.5 * (1 + sqrt(0.5)), 1e-18,
               "cosine quarter");
    CHECK_NEAR(sp_schedule_lr(SP_SCHED_COSINE, lr, 2, 10, 10), 0.0, 1e-18, "cosine end");
    CHECK_NEAR(sp_schedule_lr(SP_SCHED_LINEAR, lr, 2, 10, 6), lr / 2, 1e-18, "linear half");
    CHECK_NEAR(sp_schedule_lr(SP_SCHED_LINEAR, lr, 0, 10, 0), lr, 1e-18, "linear start");
    CHECK_NEAR(sp_schedule_lr(SP_SCHED_CONSTANT, lr, 2, 10, 9), lr, 0, "constant");
    sp_schedule_kind k;
    sp_error err = {{0}};
    CHECK(sp_schedule_parse("cosine", "--schedule", &k, &err) == 0 && k == SP_SCHED_COSINE, "parse");
    CHECK(sp_schedule_parse("exp", "--schedule", &k, &err) != 0 &&
          strstr(err.msg, "--schedule: \"exp\""), "bad schedule: %s", err.msg);
}

int main(void)
{
    test_adamw();
    test_clip();
    test_schedule();
    return sp_test_finish("test_heal_optim");
}
