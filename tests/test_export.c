/* test_export.c — `export` on the tiny-brown-24L fixture: the export without layers 3,7,11,15
 * opens as a 20-layer model whose tensors are the kept source tensors byte for byte and whose
 * NLL equals the source's with the same mask exactly (and a golden mask within 1e-3); params,
 * config, shard metadata and swarmprune_export.json are checked; a re-export composes the layer
 * maps; tiny shards give a valid index; bad input and interruptions leave nothing behind. */
#include <dirent.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/json_util.h"
#include "common/model.h"
#include "common/signals.h"
#include "coordinator/search_run.h"
#include "test_util.h"
#include "worker/engine.h"
#include "worker/export.h"

#define N_SEQ 4            /* first sequences of the golden batch: enough to tell masks apart */
#define TOL_GOLDEN_NLL 1e-3 /* HF fp32 vs our fp32 from the same bf16 weights (fixture README) */

static char g_dir[256];

static const char *tpath(const char *name)
{
    static char buf[16][1024];
    static int k = 0;
    k = (k + 1) % 16;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static sp_mask mask_of(const int *idx, int n)
{
    sp_mask m;
    sp_mask_clear(&m);
    for (int i = 0; i < n; i++) sp_mask_set(&m, idx[i]);
    return m;
}

/* ---- scoring ------------------------------------------------------------------------------ */

typedef struct {
    int n_seq, len;  /* n_seq sequences of len tokens each */
    int32_t *ids;    /* [n_seq x len] */
} eval_set;

static int load_eval(const char *path, int max_seq, eval_set *es)
{
    cJSON *root = NULL;
    sp_error err = {{0}};
    if (sp_json_parse_file(path, &root, &err)) return -1;
    const cJSON *ev = sp_json_get(root, "eval_ids");
    int n = cJSON_GetArraySize(ev);
    es->n_seq = n < max_seq ? n : max_seq;
    es->len = cJSON_GetArraySize(ev->child);
    es->ids = calloc((size_t)es->n_seq * (size_t)es->len, sizeof *es->ids);
    int s = 0;
    for (const cJSON *q = ev->child; q && s < es->n_seq; q = q->next, s++) {
        int j = 0;
        SP_ASSERT(cJSON_GetArraySize(q) == es->len);
        for (const cJSON *v = q->child; v; v = v->next) es->ids[s * es->len + j++] = (int32_t)v->valuedouble;
    }
    cJSON_Delete(root);
    return 0;
}

/* Mean NLL (nats/token) over every predicted token of the set, layers in `removed` skipped. */
static double mean_nll(const sp_model *m, const eval_set *es, const sp_mask *removed)
{
    sp_engine_options opt = {SP_BACKEND_CPU, 1};
    sp_engine *e = NULL;
    sp_error err = {{0}};
    if (sp_engine_create(m, &opt, &e, &err)) {
        CHECK(0, "engine: %s", err.msg);
        return NAN;
    }
    int64_t T = (int64_t)es->n_seq * es->len, R = (int64_t)es->n_seq * (es->len - 1), r = 0;
    int64_t *off = calloc((size_t)es->n_seq + 1, sizeof *off), *rows = calloc((size_t)R, sizeof *rows);
    int32_t *pl = calloc((size_t)es->n_seq, sizeof *pl), *tg = calloc((size_t)R, sizeof *tg);
    float *lp = calloc((size_t)R, sizeof *lp);
    for (int s = 0; s < es->n_seq; s++) {
        off[s + 1] = off[s] + es->len;
        pl[s] = es->len;
        for (int j = 0; j + 1 < es->len; j++, r++) {
            rows[r] = off[s] + j;
            tg[r] = es->ids[off[s] + j + 1];
        }
    }
    sp_batch b = {T, es->ids, es->n_seq, off, pl, NULL};
    sp_head_request req = {R, rows, tg, lp, NULL};
    double sum = NAN;
    if (sp_engine_forward(e, &b, removed, &req, &err) == 0) {
        sum = 0;
        for (r = 0; r < R; r++) sum -= lp[r];
    } else {
        CHECK(0, "forward: %s", err.msg);
    }
    sp_engine_free(e);
    free(off), free(rows), free(pl), free(tg), free(lp);
    return sum / (double)R;
}

/* ---- structural checks ---------------------------------------------------------------------- */

static int tensors_equal(const sp_tensor *a, const sp_tensor *b)
{
    if (a->dtype != b->dtype || a->ndim != b->ndim || a->nbytes != b->nbytes) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return memcmp(a->data, b->data, a->nbytes) == 0;
}

/* Export layer j must be source layer kept[j], byte for byte; so must the non-layer tensors. */
static void check_same_weights(const sp_model *src, const sp_model *ex, const sp_mask *removed,
                               const char *what)
{
    int j = 0;
    CHECK(ex->cfg.n_layers == src->cfg.n_layers - sp_mask_count(removed), "%s: %lld layers", what,
          (long long)ex->cfg.n_layers);
    for (int l = 0; l < src->cfg.n_layers && j < ex->cfg.n_layers; l++) {
        if (sp_mask_test(removed, l)) continue;
        const sp_layer_tensors *a = &src->layers[l], *b = &ex->layers[j];
        const sp_tensor *ta[9] = {a->attn_norm, a->q, a->k, a->v, a->o, a->mlp_norm, a->gate, a->up, a->down};
        const sp_tensor *tb[9] = {b->attn_norm, b->q, b->k, b->v, b->o, b->mlp_norm, b->gate, b->up, b->down};
        for (int t = 0; t < 9; t++)
            CHECK(tensors_equal(ta[t], tb[t]), "%s: export layer %d tensor %s != source layer %d",
                  what, j, tb[t]->name, l);
        j++;
    }
    CHECK(tensors_equal(src->embed, ex->embed), "%s: embed", what);
    CHECK(tensors_equal(src->final_norm, ex->final_norm), "%s: final norm", what);
    CHECK(tensors_equal(src->lm_head, ex->lm_head), "%s: lm_head", what);
}

static int files_equal(const char *a, const char *b)
{
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    sp_error err = {{0}};
    int eq = sp_read_file(a, &x, &nx, &err) == 0 && sp_read_file(b, &y, &ny, &err) == 0 &&
             nx == ny && memcmp(x, y, nx) == 0;
    free(x), free(y);
    return eq;
}

/* Every shard's __metadata__ names the removed layers and the source fingerprint. */
static void check_shard_meta(const sp_model *ex, const char *removed, const char *fp)
{
    for (int f = 0; f < ex->st.n_files; f++) {
        const char *mj = ex->st.files[f].metadata_json;
        cJSON *root = NULL;
        sp_error err = {{0}};
        CHECK(mj && sp_json_parse(mj, strlen(mj), "meta", &root, &err) == 0, "shard %d meta", f);
        const cJSON *r = sp_json_get(root, "swarmprune_removed_layers");
        const cJSON *s = sp_json_get(root, "swarmprune_source"), *fmt = sp_json_get(root, "format");
        CHECK(cJSON_IsString(r) && strcmp(r->valuestring, removed) == 0, "shard %d removed", f);
        CHECK(cJSON_IsString(s) && strcmp(s->valuestring, fp) == 0, "shard %d source", f);
        CHECK(cJSON_IsString(fmt) && strcmp(fmt->valuestring, "pt") == 0, "shard %d format", f);
        cJSON_Delete(root);
    }
}

/* swarmprune_export.json: removed layers, old->new map, fingerprint, sizes. */
static void check_record(const char *dir, const sp_model *src, const sp_mask *removed,
                         const sp_export_result *res)
{
    char path[600];
    snprintf(path, sizeof path, "%s/swarmprune_export.json", dir);
    cJSON *root = NULL;
    sp_error err = {{0}};
    CHECK(sp_json_parse_file(path, &root, &err) == 0, "%s", err.msg);
    if (!root) return;
    const cJSON *map = sp_json_get(root, "layer_map"), *rm = sp_json_get(root, "removed_layers");
    int k = 0, n_rm = 0;
    for (int l = 0; l < src->cfg.n_layers; l++) {
        char key[16];
        snprintf(key, sizeof key, "%d", l);
        const cJSON *v = sp_json_get(map, key);
        if (sp_mask_test(removed, l)) CHECK(v == NULL, "layer_map has removed layer %d", l);
        else CHECK(v && (int)v->valuedouble == k++, "layer_map[%d]", l);
    }
    for (const cJSON *v = rm ? rm->child : NULL; v; v = v->next, n_rm++)
        CHECK(sp_mask_test(removed, (int)v->valuedouble), "removed_layers lists %d", (int)v->valuedouble);
    CHECK(n_rm == sp_mask_count(removed), "removed_layers count %d", n_rm);
    const cJSON *fp = sp_json_get(root, "source_fingerprint");
    CHECK(cJSON_IsString(fp) && strcmp(fp->valuestring, res->fingerprint) == 0, "fingerprint");
    CHECK(sp_json_get(root, "params_after")->valuedouble == (double)res->params_after, "params_after");
    CHECK(sp_json_get(root, "bytes_after")->valuedouble == (double)res->bytes_after, "bytes_after");
    cJSON_Delete(root);
}

/* No DIR.tmp.* or DIR.old.* may be left in the test directory. */
static void check_no_leftovers(const char *when)
{
    DIR *d = opendir(g_dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        CHECK(!strstr(e->d_name, ".tmp.") && !strstr(e->d_name, ".old."), "%s: left %s", when,
              e->d_name);
    if (d) closedir(d);
}

static int export_to(const sp_model *m, const sp_mask *rm, const char *name, uint64_t shard,
                     int force, sp_export_result *res, sp_error *err)
{
    sp_export_options opt = {.shard_size = shard, .force = force};
    return sp_export_model(m, rm, tpath(name), &opt, res, err);
}

/* ---- the main export -------------------------------------------------------------------------- */

static void test_export_main(const sp_model *src, const eval_set *es)
{
    static const int rm_idx[4] = {3, 7, 11, 15};
    sp_mask rm = mask_of(rm_idx, 4);
    sp_export_result res;
    sp_error err = {{0}};
    CHECK(export_to(src, &rm, "a", 0, 0, &res, &err) == 0, "export: %s", err.msg);
    check_no_leftovers("export a");
    int64_t lp = sp_config_layer_params(&src->cfg);
    size_t lb = 0;
    for (int i = 0; i < 4; i++) lb += sp_model_layer_bytes(src, rm_idx[i]);
    CHECK(res.layers_before == 24 && res.layers_after == 20 && res.n_shards == 1, "result layers");
    CHECK(res.params_after == res.params_before - 4 * lp, "params %lld -> %lld",
          (long long)res.params_before, (long long)res.params_after);
    CHECK(res.bytes_after == res.bytes_before - lb, "bytes");
    char fp[17];
    sp_model_fingerprint(src, fp);
    CHECK(strcmp(res.fingerprint, fp) == 0, "fingerprint %s vs %s", res.fingerprint, fp);

    sp_model ex;
    if (sp_model_open(tpath("a"), &ex, &err)) {
        CHECK(0, "open export: %s", err.msg);
        return;
    }
    check_same_weights(src, &ex, &rm, "a");
    /* analyze-level count: from the export's config */
    CHECK(sp_config_total_params(&ex.cfg) == sp_config_total_params(&src->cfg) - 4 * lp,
          "config params %lld", (long long)sp_config_total_params(&ex.cfg));
    CHECK(sp_config_total_params(&ex.cfg) == res.params_after, "result params vs config");
    check_shard_meta(&ex, "3,7,11,15", fp);
    check_record(tpath("a"), src, &rm, &res);

    /* config.json: the source text with only num_hidden_layers changed */
    char *text = NULL, *want = NULL;
    size_t len = 0;
    char path[600];
    snprintf(path, sizeof path, "%s/config.json", src->dir);
    CHECK(sp_read_file(path, &text, &len, &err) == 0, "%s", err.msg);
    char *at = text ? strstr(text, "\"num_hidden_layers\": 24") : NULL;
    CHECK(at != NULL, "source config spelling");
    if (at) {
        want = calloc(len + 1, 1);
        memcpy(want, text, (size_t)(at - text));
        strcat(want, "\"num_hidden_layers\": 20");
        strcat(want, at + strlen("\"num_hidden_layers\": 24"));
        char *got = NULL;
        size_t glen = 0;
        CHECK(sp_read_file(tpath("a/config.json"), &got, &glen, &err) == 0, "%s", err.msg);
        CHECK(got && strcmp(got, want) == 0, "exported config.json differs beyond num_hidden_layers");
        free(got);
    }
    free(text), free(want);
    static const char *const copied[] = {"tokenizer.json", "tokenizer_config.json",
                                         "generation_config.json"};
    for (int i = 0; i < 3; i++) {
        char s[600], d[600];
        snprintf(s, sizeof s, "%s/%s", src->dir, copied[i]);
        snprintf(d, sizeof d, "a/%s", copied[i]);
        CHECK(files_equal(s, tpath(d)), "%s not copied verbatim", copied[i]);
    }
    CHECK(access(tpath("a/special_tokens_map.json"), F_OK) != 0, "special_tokens_map invented");

    /* same weights, same arithmetic: exactly the same NLL */
    double nll_ex = mean_nll(&ex, es, NULL), nll_src = mean_nll(src, es, &rm);
    CHECK(nll_ex == nll_src, "export NLL %.9f != source with mask %.9f", nll_ex, nll_src);
    CHECK(nll_ex > 3.0 && nll_ex < 6.0, "NLL %.6f implausible", nll_ex);
    sp_model_close(&ex);
}

/* A golden mask: the export's full-batch NLL against Hugging Face's for [7, 11, 12, 15]. */
static void test_export_golden(const sp_model *src, const eval_set *all)
{
    static const int rm_idx[4] = {7, 11, 12, 15};
    sp_mask rm = mask_of(rm_idx, 4);
    sp_export_result res;
    sp_error err = {{0}};
    sp_model ex;
    CHECK(export_to(src, &rm, "golden", 0, 0, &res, &err) == 0, "export: %s", err.msg);
    if (sp_model_open(tpath("golden"), &ex, &err)) {
        CHECK(0, "open golden export: %s", err.msg);
        return;
    }
    CHECK_NEAR(mean_nll(&ex, all, NULL), 4.738971, TOL_GOLDEN_NLL, "golden mask [7,11,12,15]");
    sp_model_close(&ex);
}

/* Re-export of the export without its layer 0 (= source layer 0): the source without
 * {0,3,7,11,15}. */
static void test_reexport(const sp_model *src, const eval_set *es)
{
    static const int all_idx[5] = {0, 3, 7, 11, 15};
    sp_mask combined = mask_of(all_idx, 5), rm0 = mask_of(all_idx, 1);
    sp_export_result res;
    sp_error err = {{0}};
    sp_model a, b;
    if (sp_model_open(tpath("a"), &a, &err)) {
        CHECK(0, "open a: %s", err.msg);
        return;
    }
    CHECK(export_to(&a, &rm0, "b", 0, 0, &res, &err) == 0, "re-export: %s", err.msg);
    char fpa[17];
    sp_model_fingerprint(&a, fpa);
    if (sp_model_open(tpath("b"), &b, &err) == 0) {
        check_same_weights(src, &b, &combined, "b");
        check_shard_meta(&b, "0", fpa);
        double nb = mean_nll(&b, es, NULL), ns = mean_nll(src, es, &combined);
        CHECK(nb == ns, "re-export NLL %.9f != source without {0,3,7,11,15} %.9f", nb, ns);
        sp_model_close(&b);
    } else {
        CHECK(0, "open b: %s", err.msg);
    }
    sp_model_close(&a);
}

/* Tiny shards: several files named model-0000i-of-0000N, a valid index, the same weights. */
static void test_shards(const sp_model *src)
{
    static const int rm_idx[4] = {3, 7, 11, 15};
    sp_mask rm = mask_of(rm_idx, 4);
    sp_export_result res;
    sp_error err = {{0}};
    const uint64_t shard = 1000000; /* < the 1.5 MB embedding: that one must sit alone */
    CHECK(export_to(src, &rm, "c", shard, 0, &res, &err) == 0, "export: %s", err.msg);
    CHECK(res.n_shards > 5, "only %d shards", res.n_shards);
    for (int s = 1; s <= res.n_shards; s++) {
        char name[96];
        snprintf(name, sizeof name, "c/model-%05d-of-%05d.safetensors", s, res.n_shards);
        CHECK(access(tpath(name), F_OK) == 0, "missing %s", name);
    }
    CHECK(access(tpath("c/model.safetensors"), F_OK) != 0, "model.safetensors beside shards");
    sp_model ex;
    if (sp_model_open(tpath("c"), &ex, &err)) { /* validates the index against every shard */
        CHECK(0, "open sharded export: %s", err.msg);
        return;
    }
    check_same_weights(src, &ex, &rm, "c");
    check_shard_meta(&ex, "3,7,11,15", res.fingerprint);
    CHECK(ex.st.n_files == res.n_shards, "%d files", ex.st.n_files);
    uint64_t *bytes = calloc((size_t)ex.st.n_files, sizeof *bytes), total = 0;
    int *count = calloc((size_t)ex.st.n_files, sizeof *count);
    for (int i = 0; i < ex.st.n_tensors; i++) {
        bytes[ex.st.tensors[i].file_index] += ex.st.tensors[i].nbytes;
        count[ex.st.tensors[i].file_index]++;
        total += ex.st.tensors[i].nbytes;
    }
    for (int f = 0; f < ex.st.n_files; f++)
        CHECK(bytes[f] <= shard || count[f] == 1, "shard %d: %llu bytes in %d tensors", f,
              (unsigned long long)bytes[f], count[f]);
    cJSON *idx = NULL;
    CHECK(sp_json_parse_file(tpath("c/model.safetensors.index.json"), &idx, &err) == 0, "%s", err.msg);
    const cJSON *ts = sp_json_get(sp_json_get(idx, "metadata"), "total_size");
    CHECK(cJSON_IsNumber(ts) && ts->valuedouble == (double)total && total == res.bytes_after,
          "index total_size vs %llu", (unsigned long long)total);
    CHECK(cJSON_GetArraySize(sp_json_get(idx, "weight_map")) == ex.st.n_tensors, "weight_map size");
    cJSON_Delete(idx);
    free(bytes), free(count);
    sp_model_close(&ex);
}

/* ---- refusals ------------------------------------------------------------------------------- */

#define EXPECT_FAIL(call, needle, what)                                                        \
    do {                                                                                       \
        sp_error_clear(&err);                                                                  \
        CHECK((call) != 0, "%s: accepted", what);                                              \
        CHECK(strstr(err.msg, needle) != NULL, "%s: message \"%s\" lacks \"%s\"", what, err.msg, \
              needle);                                                                         \
    } while (0)

static void test_refusals(const sp_model *src)
{
    sp_export_result res;
    sp_error err = {{0}};
    sp_mask rm;
    sp_mask_clear(&rm);
    sp_mask_set(&rm, 24);
    EXPECT_FAIL(export_to(src, &rm, "r1", 0, 0, &res, &err), "layer 24 out of range", "range");
    sp_mask_clear(&rm);
    for (int l = 0; l < 24; l++) sp_mask_set(&rm, l);
    EXPECT_FAIL(export_to(src, &rm, "r1", 0, 0, &res, &err), "cannot remove all 24", "all");
    EXPECT_FAIL(sp_mask_parse("3,7,3", 24, "--remove", &rm, &err), "listed twice", "duplicate");
    sp_mask_clear(&rm);
    sp_mask_set(&rm, 1);
    EXPECT_FAIL(export_to(src, &rm, "a", 0, 0, &res, &err), "already exists", "existing out");
    EXPECT_FAIL(export_to(src, &rm, "nope/x", 0, 0, &res, &err), "nope/x.tmp.", "no parent");
    CHECK(access(tpath("r1"), F_OK) != 0 && access(tpath("nope"), F_OK) != 0, "refusals wrote");

    /* --force replaces a directory, but never the source or a directory holding it */
    sp_model a;
    if (sp_model_open(tpath("a"), &a, &err) == 0) {
        sp_export_options opt = {.force = 1};
        EXPECT_FAIL(sp_export_model(&a, &rm, tpath("a"), &opt, &res, &err), "source", "out=src");
        EXPECT_FAIL(sp_export_model(&a, &rm, g_dir, &opt, &res, &err), "contains it", "out>src");
        sp_model_close(&a);
    }
    CHECK(mkdir(tpath("d"), 0755) == 0, "mkdir d");
    FILE *f = fopen(tpath("d/marker"), "w");
    if (f) fclose(f);
    CHECK(export_to(src, &rm, "d", 0, 1, &res, &err) == 0, "--force: %s", err.msg);
    CHECK(access(tpath("d/marker"), F_OK) != 0, "--force kept the old directory's files");
    CHECK(access(tpath("d/model.safetensors"), F_OK) == 0, "--force: no model");
    check_no_leftovers("force");
}

/* Results files: the last best row, checked against the model and --k. */
static void test_from_results(const sp_model *src)
{
    sp_error err = {{0}};
    char fp[17];
    sp_model_fingerprint(src, fp);
    static const int idx[4] = {3, 7, 11, 15}, idx0[2] = {5, 6};
    sp_mask best = mask_of(idx, 4), first = mask_of(idx0, 2);
    const char *names[1] = {"nll"};
    sp_ckpt c;
    sp_ckpt_init(&c, 24, 1, names);
    sp_ckpt_set_job(&c, "t", "{}");
    sp_ckpt_set_model(&c, fp);
    sp_ckpt_set_algorithm(&c, "pso");
    c.minimize = 1;
    c.status = SP_CKPT_DONE;
    CHECK(sp_ckpt_write(tpath("empty.h5"), &c, &err) == 0, "%s", err.msg);
    double metric = 4.7;
    sp_ckpt_history_append(&c.history, &first, 4, 0, 4.9, &metric, 1.0, 0);
    sp_ckpt_history_append(&c.history, &best, 4, 0, 4.7, &metric, 2.0, 0);
    sp_ckpt_best_append(&c.best, 1, 4.9, &first);
    sp_ckpt_best_append(&c.best, 2, 4.7, &best);
    CHECK(sp_ckpt_write(tpath("results.h5"), &c, &err) == 0, "%s", err.msg);
    sp_ckpt_set_model(&c, "0123456789abcdef");
    CHECK(sp_ckpt_write(tpath("other.h5"), &c, &err) == 0, "%s", err.msg);
    sp_ckpt_free(&c);

    sp_export_best b;
    CHECK(sp_export_best_mask(tpath("results.h5"), src, 4, &b, &err) == 0, "%s", err.msg);
    CHECK(sp_mask_equal(&b.mask, &best) && b.fitness == 4.7 && b.evaluation == 2, "best row");
    CHECK(sp_export_best_mask(tpath("results.h5"), src, -1, &b, &err) == 0, "%s", err.msg);
    EXPECT_FAIL(sp_export_best_mask(tpath("results.h5"), src, 3, &b, &err), "removes 4 layers",
                "--k 3");
    EXPECT_FAIL(sp_export_best_mask(tpath("empty.h5"), src, -1, &b, &err), "no best mask", "empty");
    EXPECT_FAIL(sp_export_best_mask(tpath("other.h5"), src, -1, &b, &err), "different model",
                "fingerprint");
    EXPECT_FAIL(sp_export_best_mask(tpath("missing.h5"), src, -1, &b, &err), "missing.h5",
                "missing file");
}

/* ---- pure helpers --------------------------------------------------------------------------- */

static void test_helpers(void)
{
    sp_error err = {{0}};
    static const int idx[2] = {1, 3};
    sp_mask rm = mask_of(idx, 2);
    const char *cfg = "{\n  \"a\": 8.0,\n  \"layer_types\": [\n    \"x0\",\n    \"x1\",\n"
                      "    \"x2\",\n    \"x3\"\n  ],\n  \"num_hidden_layers\": 4,\n"
                      "  \"s\": \"[layer, \\\"}\"\n}\n";
    const char *want = "{\n  \"a\": 8.0,\n  \"layer_types\": [\n    \"x0\",\n    \"x2\"\n  ],\n"
                       "  \"num_hidden_layers\": 2,\n  \"s\": \"[layer, \\\"}\"\n}\n";
    char *out = NULL;
    size_t n = 0;
    CHECK(sp_export_rewrite_config(cfg, strlen(cfg), "c.json", 4, &rm, &out, &n, &err) == 0,
          "%s", err.msg);
    CHECK(out && strcmp(out, want) == 0 && n == strlen(want), "rewrite:\n%s", out ? out : "");
    free(out);
    const char *bad = "{\"num_hidden_layers\": 4, \"mlp_only_layers\": [1, 2]}";
    EXPECT_FAIL(sp_export_rewrite_config(bad, strlen(bad), "c.json", 4, &rm, &out, &n, &err),
                "not implemented: c.json: mlp_only_layers", "other layer list");
    const char *none = "{\"hidden_size\": 4}";
    EXPECT_FAIL(sp_export_rewrite_config(none, strlen(none), "c.json", 4, &rm, &out, &n, &err),
                "no num_hidden_layers", "missing key");

    uint64_t v = 0;
    CHECK(sp_export_parse_size("5GB", "s", &v, &err) == 0 && v == 5000000000ull, "5GB");
    CHECK(sp_export_parse_size("2GiB", "s", &v, &err) == 0 && v == (2ull << 30), "2GiB");
    CHECK(sp_export_parse_size("500mb", "s", &v, &err) == 0 && v == 500000000ull, "500mb");
    CHECK(sp_export_parse_size("1048576", "s", &v, &err) == 0 && v == 1048576, "bytes");
    EXPECT_FAIL(sp_export_parse_size("0", "--shard-size", &v, &err), "positive", "0");
    EXPECT_FAIL(sp_export_parse_size("5XB", "--shard-size", &v, &err), "unknown unit", "5XB");
    EXPECT_FAIL(sp_export_parse_size("-1", "--shard-size", &v, &err), "not a size", "-1");
    EXPECT_FAIL(sp_export_parse_size("99999999TB", "--shard-size", &v, &err), "too large", "big");

    char name[128];
    int layer;
    CHECK(sp_export_tensor_name("model.layers.4.mlp.up_proj.weight", 24, &rm, name, sizeof name,
                                &layer) == 1 && strcmp(name, "model.layers.2.mlp.up_proj.weight") == 0 &&
              layer == 2, "rename 4 -> 2: %s", name);
    CHECK(sp_export_tensor_name("model.layers.3.mlp.up_proj.weight", 24, &rm, name, sizeof name,
                                &layer) == 0, "removed layer kept");
    CHECK(sp_export_tensor_name("model.norm.weight", 24, &rm, name, sizeof name, &layer) == 1 &&
              strcmp(name, "model.norm.weight") == 0 && layer == -1, "non-layer tensor");
}

/* A signal during the export aborts it and leaves nothing (run last: the flag stays set). */
static void test_interrupted(const sp_model *src)
{
    sp_export_result res;
    sp_error err = {{0}};
    sp_mask rm;
    sp_mask_clear(&rm);
    sp_signal_raise_flag(SIGTERM);
    EXPECT_FAIL(export_to(src, &rm, "e", 0, 0, &res, &err), "interrupted by signal", "signal");
    CHECK(access(tpath("e"), F_OK) != 0, "interrupted export left e");
    check_no_leftovers("interrupted");
}

int main(void)
{
    SP_TEST_REQUIRE_SHARED("test_export");
    const char *fx = sp_test_shared_path("fixtures/tiny-brown-24L");
    char fixture[4096];
    snprintf(fixture, sizeof fixture, "%s", fx);
    eval_set es = {0}, all = {0};
    const char *gold = sp_test_shared_path("fixtures/tiny-brown-24L-goldens/mask_nll_goldens.json");
    if (load_eval(gold, N_SEQ, &es) || load_eval(gold, 1 << 30, &all))
        return sp_test_skip("test_export", "mask_nll_goldens.json not readable");
    snprintf(g_dir, sizeof g_dir, "/tmp/sp_test_export.XXXXXX");
    SP_ASSERT(mkdtemp(g_dir) != NULL);
    sp_model src;
    sp_error err = {{0}};
    if (sp_model_open(fixture, &src, &err)) {
        fprintf(stderr, "open fixture: %s\n", err.msg);
        return 1;
    }
    test_helpers();
    test_export_main(&src, &es);
    test_export_golden(&src, &all);
    test_reexport(&src, &es);
    test_shards(&src);
    test_refusals(&src);
    test_from_results(&src);
    test_interrupted(&src);
    sp_model_close(&src);
    free(es.ids), free(all.ids);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (!sp_test_failures && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return sp_test_finish("test_export");
}
