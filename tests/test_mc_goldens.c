/* test_mc_goldens.c — HellaSwag scoring of the tiny fixture reproduces lm-evaluation-harness:
 * acc / acc_norm over the 600 Brown cloze items exactly, per-item log-likelihoods of the first
 * 100 within 5e-3 (goldens from HF transformers in fp32; our CPU engine is fp32 too, the
 * tolerance covers summation-order differences over ~20 tokens). Also: the shared-prefix
 * packing gives the same lls as scoring every (context + ending) as its own sequence. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/json_util.h"
#include "common/model.h"
#include "common/tokenizer.h"
#include "test_util.h"
#include "worker/engine.h"
#include "worker/mc_data.h"
#include "worker/task_mc.h"

#define NAME "test_mc_goldens"

static void check_goldens(const sp_mc_requests *rq, const sp_mc_result *res, const char *gpath)
{
    cJSON *g = NULL;
    sp_error err = {{0}};
    CHECK(sp_json_parse_file(gpath, &g, &err) == 0, "%s", err.msg);
    if (!g) return;
    const cJSON *acc = sp_json_get(g, "acc"), *acc_norm = sp_json_get(g, "acc_norm");
    const cJSON *items = sp_json_get(g, "per_item_first100");
    CHECK(cJSON_IsNumber(acc) && cJSON_IsNumber(acc_norm) && cJSON_IsArray(items), "golden keys");
    if (cJSON_IsNumber(acc) && cJSON_IsNumber(acc_norm)) {
        /* Exact: compare hit counts (0.32 * 600 = 192, 0.405 * 600 = 243). */
        long want = lround(acc->valuedouble * 600), want_n = lround(acc_norm->valuedouble * 600);
        long got = lround(res->acc * 600), got_n = lround(res->acc_norm * 600);
        CHECK(got == want, "acc %ld/600 vs golden %ld/600", got, want);
        CHECK(got_n == want_n, "acc_norm %ld/600 vs golden %ld/600", got_n, want_n);
    }
    double worst = 0;
    int i = 0;
    for (const cJSON *it = items ? items->child : NULL; it && i < rq->n; it = it->next, i++) {
        const cJSON *lls = sp_json_get(it, "lls");
        const cJSON *a = sp_json_get(it, "acc"), *an = sp_json_get(it, "acc_norm");
        for (int k = 0; k < 4; k++) {
            double want = cJSON_GetArrayItem(lls, k)->valuedouble;
            double d = fabs(res->lls[i * SP_MC_MAX_ENDINGS + k] - want);
            if (!(d <= worst)) worst = d;
            CHECK(d <= 5e-3, "item %d ending %d: ll %.5f vs golden %.5f", i, k,
                  res->lls[i * SP_MC_MAX_ENDINGS + k], want);
        }
        CHECK((res->pred[i] == rq->req[i].label) == (int)a->valuedouble, "item %d acc flag", i);
        CHECK((res->pred_norm[i] == rq->req[i].label) == (int)an->valuedouble,
              "item %d acc_norm flag", i);
    }
    CHECK(i == 100, "golden items %d", i);
    if (sp_test_failures) fprintf(stderr, "worst per-item ll difference %.3g\n", worst);
    cJSON_Delete(g);
}

/* Shared-prefix packing vs each (context + ending) as a plain sequence, on the first items. */
static void check_packing(sp_engine *e, const sp_mc_requests *rq, const sp_mc_result *res)
{
    sp_mc_requests few = {6, rq->req};
    sp_mc_options plain = {512, SP_MC_PACK_PLAIN};
    sp_mc_result r2;
    sp_error err = {{0}};
    CHECK(sp_mc_score(e, NULL, &few, &plain, &r2, &err) == 0, "%s", err.msg);
    if (r2.n != few.n) return;
    for (int i = 0; i < few.n; i++)
        for (int k = 0; k < few.req[i].n_endings; k++) {
            double a = res->lls[i * SP_MC_MAX_ENDINGS + k], b = r2.lls[i * SP_MC_MAX_ENDINGS + k];
            CHECK(fabs(a - b) <= 1e-4, "item %d ending %d: shared %.6f vs plain %.6f", i, k, a, b);
        }
    CHECK(r2.tokens_forward == r2.tokens_naive, "plain forwards the naive count");
    sp_mc_result_free(&r2);
}

int main(void)
{
    SP_TEST_REQUIRE_SHARED(NAME);
    char mdir[4096], data[4096], gold[4096];
    snprintf(mdir, sizeof mdir, "%s", sp_test_shared_path("fixtures/tiny-brown-24L"));
    snprintf(data, sizeof data, "%s",
             sp_test_shared_path("fixtures/tiny-brown-24L-goldens/brown_cloze_val.jsonl"));
    snprintf(gold, sizeof gold, "%s",
             sp_test_shared_path("fixtures/tiny-brown-24L-goldens/mc_goldens.json"));
    sp_error err = {{0}};
    sp_model m;
    sp_tokenizer *tok = NULL;
    sp_engine *e = NULL;
    sp_mc_set set;
    if (sp_model_open(mdir, &m, &err) || sp_tokenizer_load(mdir, &tok, &err) ||
        sp_mc_load(data, &set, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    sp_engine_options eo = {SP_BACKEND_CPU, 0};
    CHECK(sp_engine_create(&m, &eo, &e, &err) == 0, "%s", err.msg);
    sp_mc_requests rq;
    int rc = sp_mc_build(&set, NULL, 0, sp_mc_encode_tokenizer, tok, sp_tokenizer_bos(tok),
                         m.cfg.max_pos, &rq, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (e && rc == 0) {
        sp_mc_options opt = {4096, SP_MC_PACK_SHARED};
        sp_mc_result res;
        CHECK(sp_mc_score(e, NULL, &rq, &opt, &res, &err) == 0, "%s", err.msg);
        if (res.n == 600) {
            CHECK(res.tokens_forward < res.tokens_naive, "packing saves tokens");
            check_goldens(&rq, &res, gold);
            check_packing(e, &rq, &res);
            sp_mc_result_free(&res);
        }
        sp_mc_requests_free(&rq);
    }
    sp_engine_free(e);
    sp_mc_free(&set);
    sp_tokenizer_free(tok);
    sp_model_close(&m);
    return sp_test_finish(NAME);
}
