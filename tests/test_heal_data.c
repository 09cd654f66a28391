/* test_heal_data.c — heal's training windows on the fixture tokenizer: plain text packed as
 * `eval --task ppl` does (BOS + ctx-1 tokens, every token once, weights 1 but at each window's
 * end), jsonl text records (BOS + text + EOS), Alpaca records with --loss response (weights on
 * the output + EOS only), the per-epoch shuffle (a permutation, reproducible, different per
 * epoch and seed), padded micro-batches, and the errors (file:line). */
#include <unistd.h>

#include "common/fs.h"
#include "common/model_config.h"
#include "common/tokenizer.h"
#include "test_util.h"
#include "worker/heal_data.h"

static char g_dir[] = "/tmp/test_heal_data.XXXXXX";
static const char *g_model;
static sp_model_config g_cfg;

static const char *put(const char *name, const char *text)
{
    static char path[8][512];
    static int k = 0;
    char *p = path[k++ % 8];
    snprintf(p, 512, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "w");
    SP_ASSERT(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static int load(const char *file, int64_t ctx, sp_heal_loss loss, sp_heal_data *d, sp_error *err)
{
    sp_heal_data_options o = {ctx, loss};
    const char *files[1] = {file};
    return sp_heal_data_load(files, 1, g_model, &g_cfg, &o, d, err);
}

static void test_plain(void)
{
    char text[4000] = "";
    for (int i = 0; i < 40; i++) strcat(text, "The jury said it did find that many of the laws. ");
    const char *f = put("a.txt", text);
    sp_heal_data d;
    sp_error err = {{0}};
    SP_ASSERT(load(f, 16, SP_HEAL_LOSS_ALL, &d, &err) == 0);
    sp_tokenizer *tok = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    SP_ASSERT(sp_tokenizer_load(g_model, &tok, &err) == 0);
    SP_ASSERT(sp_tokenizer_encode(tok, text, strlen(text), 0, &ids, &n, &err) == 0);
    int32_t bos = sp_tokenizer_bos(tok) >= 0 ? sp_tokenizer_bos(tok) : (int32_t)g_cfg.bos_id;
    CHECK(d.n_windows == (int64_t)((n + 14) / 15), "%lld windows for %zu tokens",
          (long long)d.n_windows, n);
    size_t k = 0;
    int ok = 1;
    for (int64_t w = 0; w < d.n_windows; w++) {
        int64_t o = d.offset[w], len = d.offset[w + 1] - o;
        ok &= d.tokens[o] == bos && len <= 16 && (w == d.n_windows - 1 || len == 16);
        for (int64_t t = 1; t < len; t++) ok &= k < n && d.tokens[o + t] == ids[k++];
        for (int64_t t = 0; t < len; t++) ok &= d.weight[o + t] == (t < len - 1 ? 1.0f : 0.0f);
    }
    CHECK(ok && k == n, "windows are not BOS + consecutive tokens with weights 1 (%zu of %zu)", k, n);
    CHECK(d.weight_total == (double)n, "weight total %g, tokens %zu", d.weight_total, n);
    /* shuffle: a permutation per epoch, reproducible, different per epoch and seed */
    int64_t N = d.n_windows, same01 = 0, same_seed = 0;
    int *seen = calloc((size_t)N, sizeof *seen);
    int64_t *e0 = malloc((size_t)N * sizeof *e0);
    for (int64_t p = 0; p < N; p++) e0[p] = sp_heal_data_window(&d, 3, 1, p);
    for (int64_t p = 0; p < N; p++) seen[e0[p]]++;
    int perm = 1;
    for (int64_t w = 0; w < N; w++) perm &= seen[w] == 1;
    CHECK(perm, "epoch 0 is not a permutation");
    for (int64_t p = 0; p < N; p++) same01 += sp_heal_data_window(&d, 3, 1, N + p) == e0[p];
    for (int64_t p = 0; p < N; p++) same_seed += sp_heal_data_window(&d, 4, 1, p) == e0[p];
    CHECK(same01 < N / 2 && same_seed < N / 2, "epoch 1 / seed 4 repeat %lld / %lld of %lld",
          (long long)same01, (long long)same_seed, (long long)N);
    int again = 1;
    for (int64_t p = 0; p < N; p++) again &= sp_heal_data_window(&d, 3, 1, p) == e0[p];
    CHECK(again, "the shuffle is not reproducible");
    /* a batch holding the short last window is padded with weight 0 */
    int32_t tk[64];
    float wt[64];
    int T = 0;
    double ws = 0;
    sp_heal_data_batch(&d, 0, 0, N - 2, 2, tk, wt, &T, &ws);
    int64_t last = d.offset[N] - d.offset[N - 1];
    CHECK(T == 16 && ws == 15 + (double)(last - 1) && (last == 16 || wt[16 + last] == 0.0f),
          "batch T %d, weight %g", T, ws);
    free(seen), free(e0), free(ids);
    sp_tokenizer_free(tok);
    sp_heal_data_free(&d);
}

static void test_jsonl(void)
{
    sp_heal_data d;
    sp_error err = {{0}};
    const char *f = put("b.jsonl", "{\"text\": \"Hello there.\"}\n\n{\"instruction\": \"Say hi.\", "
                                   "\"output\": \"Hi.\"}\n");
    SP_ASSERT(load(f, 512, SP_HEAL_LOSS_ALL, &d, &err) == 0);
    CHECK(d.n_windows == 2 && d.n_records == 2, "%lld windows", (long long)d.n_windows);
    int64_t l0 = d.offset[1];
    CHECK(d.tokens[l0 - 1] == (int32_t)g_cfg.eos_ids[0], "a text record ends with EOS");
    sp_heal_data_free(&d);
    f = put("c.jsonl", "{\"instruction\": \"Say hi.\", \"input\": \"now\", \"output\": \"Hi.\"}\n");
    SP_ASSERT(load(f, 512, SP_HEAL_LOSS_RESPONSE, &d, &err) == 0);
    char *prompt = sp_heal_alpaca_prompt("Say hi.", "now");
    sp_tokenizer *tok = NULL;
    int32_t *p = NULL, *r = NULL;
    size_t np = 0, nr = 0;
    SP_ASSERT(sp_tokenizer_load(g_model, &tok, &err) == 0);
    SP_ASSERT(sp_tokenizer_encode(tok, prompt, strlen(prompt), 0, &p, &np, &err) == 0);
    SP_ASSERT(sp_tokenizer_encode(tok, "Hi.", 3, 0, &r, &nr, &err) == 0);
    CHECK(strstr(prompt, "### Input:\nnow\n\n### Response:\n") != NULL, "template: %s", prompt);
    int64_t len = d.offset[1];
    CHECK(len == (int64_t)(1 + np + nr + 1), "window %lld tokens", (long long)len);
    int ok = 1;
    for (int64_t t = 0; t < len; t++)
        ok &= d.weight[t] == ((t >= (int64_t)np && t < len - 1) ? 1.0f : 0.0f);
    CHECK(ok && d.weight_total == (double)(nr + 1), "response weights (total %g)", d.weight_total);
    free(prompt), free(p), free(r);
    sp_tokenizer_free(tok);
    sp_heal_data_free(&d);
}

static void expect_error(const char *file, sp_heal_loss loss, int64_t ctx, const char *pattern)
{
    sp_heal_data d;
    sp_error err = {{0}};
    int rc = load(file, ctx, loss, &d, &err);
    CHECK(rc != 0 && strstr(err.msg, pattern), "want '%s', got rc %d: %s", pattern, rc, err.msg);
    if (rc == 0) sp_heal_data_free(&d);
}

static void test_errors(void)
{
    expect_error(put("e.txt", ""), SP_HEAL_LOSS_ALL, 64, "e.txt: no tokens (empty text)");
    expect_error(put("e.jsonl", "\n\n"), SP_HEAL_LOSS_ALL, 64, "e.jsonl: no records");
    expect_error(put("s.jsonl", "{\"text\": \"a\"}\n{\"text\": \"b\",}\n"), SP_HEAL_LOSS_ALL, 64,
                 "s.jsonl:2");
    expect_error(put("t.jsonl", "{\"text\": 5}\n"), SP_HEAL_LOSS_ALL, 64, "t.jsonl:1: text");
    expect_error(put("u.jsonl", "{\"prompt\": \"x\"}\n"), SP_HEAL_LOSS_ALL, 64,
                 "u.jsonl:1: a record needs \"text\"");
    expect_error(put("v.jsonl", "[1, 2]\n"), SP_HEAL_LOSS_ALL, 64, "v.jsonl:1: expected a JSON object");
    expect_error(put("w.jsonl", "{\"text\": \"x\"}\n"), SP_HEAL_LOSS_RESPONSE, 64,
                 "w.jsonl:1: --loss response needs instruction records");
    expect_error(put("x.txt", "hello"), SP_HEAL_LOSS_RESPONSE, 64, "x.txt: --loss response");
    expect_error(put("y.txt", "hello"), SP_HEAL_LOSS_ALL, 1, "--ctx 1: must be at least 2");
    expect_error(put("z.txt", "hello"), SP_HEAL_LOSS_ALL, g_cfg.max_pos + 1,
                 "windows longer than the model's");
    /* a prompt longer than ctx: nothing left to score with --loss response */
    expect_error(put("l.jsonl", "{\"instruction\": \"Tell me a long story about the jury and the "
                                "election.\", \"output\": \"No.\"}\n"),
                 SP_HEAL_LOSS_RESPONSE, 8, "every response truncated away at --ctx 8");
}

int main(void)
{
    SP_TEST_REQUIRE_SHARED("test_heal_data");
    g_model = sp_xstrdup(sp_test_shared_path("fixtures/tiny-brown-24L"));
    sp_error err = {{0}};
    char cfg[600];
    snprintf(cfg, sizeof cfg, "%s/config.json", g_model);
    SP_ASSERT(sp_config_load(cfg, &g_cfg, &err) == 0);
    SP_ASSERT(mkdtemp(g_dir) != NULL);
    test_plain();
    test_jsonl();
    test_errors();
    sp_remove_tree(g_dir);
    return sp_test_finish("test_heal_data");
}
