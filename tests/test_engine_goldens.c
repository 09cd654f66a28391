/* test_engine_goldens.c — the CPU engine on the tiny-brown-24L fixture against Hugging Face
 * goldens: per-position log-probabilities and last-position top-5 of 4 sequences, the mean NLL of
 * a 32 x 128 batch under 26 layer masks; then packing properties: one item with a prefix and 2
 * branches == the 2 plain sequences, several items in one batch == one by one. */
#include <stdint.h>
#include <stdlib.h>

#include "common/json_util.h"
#include "common/model.h"
#include "golden_seqs.h"
#include "test_util.h"
#include "worker/engine.h"

/* Tolerances from the fixture README: HF computed in fp32 from the same bf16 weights; only the
 * summation order differs. Packing: same arithmetic up to sgemm blocking, so much tighter. */
#define TOL_LOGPROB 2e-3
#define TOL_MEAN_NLL 1e-3
#define TOL_PACKING 1e-4

static int cpu_forward(const void *e, const sp_batch *b, const sp_mask *removed,
                       const sp_head_request *req, sp_error *err)
{
    return sp_engine_forward((sp_engine *)e, b, removed, req, err);
}

static int score_seqs(sp_engine *e, const seq *ss, int n_seq, const sp_mask *removed, float *lp,
                      sp_error *err)
{
    return score_seqs_with(cpu_forward, e, ss, n_seq, removed, lp, err);
}

static void test_logprobs(sp_engine *e, const char *path, seq *out4)
{
    cJSON *root = NULL;
    sp_error err = {{0}};
    CHECK(sp_json_parse_file(path, &root, &err) == 0, "%s", err.msg);
    if (!root) return;
    const cJSON *seqs = sp_json_get(root, "sequences");
    int k = 0;
    for (const cJSON *s = seqs ? seqs->child : NULL; s && k < 4; s = s->next, k++) {
        seq *sq = &out4[k];
        CHECK(json_ids(sp_json_get(s, "ids"), sq) == 0, "sequence %d ids", k);
        float *lp = malloc((size_t)sq->n * sizeof(float));
        CHECK(score_seqs(e, sq, 1, NULL, lp, &err) == 0, "%s", err.msg);
        const cJSON *g = sp_json_get(s, "logprobs");
        CHECK(cJSON_GetArraySize(g) == sq->n - 1, "sequence %d: %d golden logprobs", k,
              cJSON_GetArraySize(g));
        double worst = 0;
        int64_t j = 0;
        for (const cJSON *v = g ? g->child : NULL; v && j < sq->n - 1; v = v->next, j++) {
            double d = fabs(lp[j] - v->valuedouble);
            if (!(d <= worst)) worst = d;
        }
        CHECK(worst <= TOL_LOGPROB, "sequence %d: max |logprob - golden| = %g", k, worst);
        /* last position: full logits, top 5 */
        int64_t V = sp_engine_config(e)->vocab, last = sq->n - 1;
        float *logits = malloc((size_t)V * sizeof(float));
        int64_t off[2] = {0, sq->n};
        int32_t pl = (int32_t)sq->n;
        sp_batch b = {sq->n, sq->ids, 1, off, &pl, NULL};
        sp_head_request req = {1, &last, NULL, NULL, logits};
        CHECK(sp_engine_forward(e, &b, NULL, &req, &err) == 0, "%s", err.msg);
        const cJSON *tid = sp_json_get(s, "last_top5_ids"), *tlg = sp_json_get(s, "last_top5_logits");
        const cJSON *gi = tid ? tid->child : NULL, *gl = tlg ? tlg->child : NULL;
        for (int r = 0; r < 5 && gi && gl; r++, gi = gi->next, gl = gl->next) {
            int64_t best = -1; /* r-th largest: largest below the previous ones */
            for (int64_t v = 0; v < V; v++) {
                int taken = 0;
                const cJSON *p = tid->child;
                for (int q = 0; q < r; q++, p = p->next) taken |= (int64_t)p->valuedouble == v;
                if (!taken && (best < 0 || logits[v] > logits[best])) best = v;
            }
            CHECK(best == (int64_t)gi->valuedouble, "sequence %d top-%d id %lld, golden %d", k,
                  r + 1, (long long)best, (int)gi->valuedouble);
            CHECK(fabs(logits[best] - gl->valuedouble) <= TOL_LOGPROB, "sequence %d top-%d logit "
                  "%g vs %g", k, r + 1, logits[best], gl->valuedouble);
        }
        free(logits);
        free(lp);
    }
    CHECK(k == 4, "expected 4 sequences, got %d", k);
    cJSON_Delete(root);
}

static void test_mask_nll(sp_engine *e, const char *path)
{
    cJSON *root = NULL;
    sp_error err = {{0}};
    CHECK(sp_json_parse_file(path, &root, &err) == 0, "%s", err.msg);
    if (!root) return;
    const cJSON *ev = sp_json_get(root, "eval_ids"), *masks = sp_json_get(root, "masks");
    int n_seq = cJSON_GetArraySize(ev), n_mask = 0, i = 0;
    seq *ss = calloc((size_t)n_seq, sizeof *ss);
    int64_t R = 0;
    for (const cJSON *s = ev ? ev->child : NULL; s; s = s->next, i++) {
        json_ids(s, &ss[i]);
        R += ss[i].n - 1;
    }
    float *lp = malloc((size_t)R * sizeof(float));
    for (const cJSON *m = masks ? masks->child : NULL; m; m = m->next, n_mask++) {
        sp_mask mask;
        sp_mask_clear(&mask);
        const cJSON *rm = sp_json_get(m, "removed");
        for (const cJSON *l = rm ? rm->child : NULL; l; l = l->next) sp_mask_set(&mask, (int)l->valuedouble);
        CHECK(score_seqs(e, ss, n_seq, &mask, lp, &err) == 0, "%s", err.msg);
        double sum = 0;
        for (int64_t r = 0; r < R; r++) sum -= lp[r];
        double golden = sp_json_get(m, "mean_nll")->valuedouble;
        char buf[256];
        CHECK(fabs(sum / (double)R - golden) <= TOL_MEAN_NLL, "mask [%s]: mean nll %.6f, golden %.6f",
              sp_mask_format(&mask, buf, sizeof buf), sum / (double)R, golden);
    }
    CHECK(n_seq == 32 && R == 32 * 127 && n_mask == 26, "goldens: %d sequences, %lld rows, %d masks",
          n_seq, (long long)R, n_mask);
    for (i = 0; i < n_seq; i++) free(ss[i].ids);
    free(ss);
    free(lp);
    cJSON_Delete(root);
}

/* One item = prefix s[0, P) + branch 1 s[P, P+B1) + branch 2 s[P+B1, P+B1+B2) (a different
 * continuation); compare with the two plain sequences prefix+branch. */
static void test_branches(sp_engine *e, const seq *s)
{
    enum { P = 40, B1 = 20, B2 = 30, N = P + B1 + B2 };
    SP_ASSERT(s->n >= N);
    int32_t br[N], pl = P;
    for (int i = 0; i < N; i++) br[i] = i < P ? 0 : i < P + B1 ? 1 : 2;
    int64_t off[2] = {0, N}, rows[N];
    int32_t tg[N];
    float lp[N];
    /* rows: every prefix position predicting its successor, then each branch's first token from
     * the last prefix row (the same row, twice), then within-branch successors */
    int64_t R = 0;
    for (int i = 0; i + 1 < P; i++) rows[R] = i, tg[R++] = s->ids[i + 1];
    for (int b = 1; b <= 2; b++) {
        int a = b == 1 ? P : P + B1, n = b == 1 ? B1 : B2;
        rows[R] = P - 1, tg[R++] = s->ids[a];
        for (int i = 0; i + 1 < n; i++) rows[R] = a + i, tg[R++] = s->ids[a + i + 1];
    }
    sp_batch b = {N, s->ids, 1, off, &pl, br};
    sp_head_request req = {R, rows, tg, lp, NULL};
    sp_error err = {{0}};
    CHECK(sp_engine_forward(e, &b, NULL, &req, &err) == 0, "%s", err.msg);
    seq plain[2];
    float plp[2][N];
    for (int k = 0; k < 2; k++) {
        int a = k == 0 ? P : P + B1, n = k == 0 ? B1 : B2;
        plain[k].n = P + n;
        plain[k].ids = malloc((size_t)(P + n) * sizeof(int32_t));
        memcpy(plain[k].ids, s->ids, P * sizeof(int32_t));
        memcpy(plain[k].ids + P, s->ids + a, (size_t)n * sizeof(int32_t));
        CHECK(score_seqs(e, &plain[k], 1, NULL, plp[k], &err) == 0, "%s", err.msg);
    }
    double worst = 0;
    int64_t r = 0;
    for (int i = 0; i + 1 < P; i++, r++) worst = fmax(worst, fabs(lp[r] - plp[0][i]));
    for (int k = 0; k < 2; k++)
        for (int i = P - 1; i + 1 < plain[k].n; i++, r++)
            worst = isnan(lp[r]) ? INFINITY : fmax(worst, fabs(lp[r] - plp[k][i]));
    CHECK(r == R && worst <= TOL_PACKING, "prefix + 2 branches vs plain: max diff %g", worst);
    free(plain[0].ids), free(plain[1].ids);
}

/* The 4 golden sequences (lengths 128, 114, 125, 26) in one batch == one at a time. */
static void test_multi_item(sp_engine *e, const seq *ss)
{
    int64_t R = 0;
    for (int i = 0; i < 4; i++) R += ss[i].n - 1;
    float *all = malloc((size_t)R * sizeof(float)), one[256];
    sp_error err = {{0}};
    sp_mask m;
    sp_mask_clear(&m);
    sp_mask_set(&m, 4);
    CHECK(score_seqs(e, ss, 4, &m, all, &err) == 0, "%s", err.msg);
    double worst = 0;
    int64_t r = 0;
    for (int i = 0; i < 4; i++) {
        CHECK(score_seqs(e, &ss[i], 1, &m, one, &err) == 0, "%s", err.msg);
        for (int64_t j = 0; j + 1 < ss[i].n; j++, r++)
            worst = isnan(all[r]) ? INFINITY : fmax(worst, fabs(all[r] - one[j]));
    }
    CHECK(worst <= TOL_PACKING, "4 items in one batch vs one by one: max diff %g", worst);
    free(all);
}

static void test_bad_input(sp_engine *e, const seq *s)
{
    sp_error err = {{0}};
    int32_t tok[3] = {5, 4096, 7}, pl = 3, tg = 1;
    int64_t off[2] = {0, 3}, row = 0;
    float lp;
    sp_batch b = {3, tok, 1, off, &pl, NULL};
    sp_head_request req = {1, &row, &tg, &lp, NULL};
    CHECK(sp_engine_forward(e, &b, NULL, &req, &err) != 0 && strstr(err.msg, "token 1"), "%s",
          err.msg);
    tok[1] = 4;
    row = 3;
    CHECK(sp_engine_forward(e, &b, NULL, &req, &err) != 0 && strstr(err.msg, "row 0"), "%s",
          err.msg);
    row = 0;
    pl = 1; /* branches claimed but no branch array */
    CHECK(sp_engine_forward(e, &b, NULL, &req, &err) != 0 && strstr(err.msg, "branch"), "%s",
          err.msg);
    pl = 3;
    sp_mask m;
    sp_mask_clear(&m);
    sp_mask_set(&m, 30);
    CHECK(sp_engine_forward(e, &b, &m, &req, &err) != 0 && strstr(err.msg, "layer 30"), "%s",
          err.msg);
    (void)s;
}

int main(void)
{
    SP_TEST_REQUIRE_SHARED("test_engine_goldens");
    char model_dir[4096], lp_path[4096], nll_path[4096];
    snprintf(model_dir, sizeof model_dir, "%s", sp_test_shared_path("fixtures/tiny-brown-24L"));
    snprintf(lp_path, sizeof lp_path, "%s",
             sp_test_shared_path("fixtures/tiny-brown-24L-goldens/logprob_goldens.json"));
    snprintf(nll_path, sizeof nll_path, "%s",
             sp_test_shared_path("fixtures/tiny-brown-24L-goldens/mask_nll_goldens.json"));
    sp_model model;
    sp_engine *e = NULL;
    sp_error err = {{0}};
    if (sp_model_open(model_dir, &model, &err) != 0) {
        CHECK(0, "open model: %s", err.msg);
        return sp_test_finish("test_engine_goldens");
    }
    sp_engine_options opt = {SP_BACKEND_CPU, 0};
    CHECK(sp_engine_create(&model, &opt, &e, &err) == 0, "%s", err.msg);
    if (e) {
        seq four[4] = {{0}};
        test_logprobs(e, lp_path, four);
        if (four[0].n >= 90 && four[3].n > 0) {
            test_branches(e, &four[0]);
            test_multi_item(e, four);
            test_bad_input(e, &four[0]);
        }
        test_mask_nll(e, nll_path);
        for (int i = 0; i < 4; i++) free(four[i].ids);
        sp_engine_free(e);
    }
    /* Without CUDA in the build, or without a usable GPU, the CUDA backend fails loudly (the
     * CUDA engine itself is checked by test_cuda_engine on a GPU machine). */
    opt.backend = SP_BACKEND_CUDA;
    err.msg[0] = '\0';
    if (sp_engine_create(&model, &opt, &e, &err) == 0) sp_engine_free(e);
    else
        CHECK(strstr(err.msg, "not implemented") || strstr(err.msg, "no usable CUDA device"),
              "CUDA backend must fail with a clear message: %s", err.msg);
    sp_model_close(&model);
    return sp_test_finish("test_engine_goldens");
}
