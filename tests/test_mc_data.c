/* test_mc_data.c — multiple-choice data: lm-eval preprocessing, the three layouts, bad input
 * (each a precise message with file and line), and deterministic subsets. The real HellaSwag
 * and Brown cloze files are checked when ../shared is present. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "worker/mc_data.h"
#include "worker/task_mc.h"

static void check_str(const char *got, const char *want, const char *what)
{
    CHECK(strcmp(got, want) == 0, "%s: got \"%s\", want \"%s\"", what, got, want);
}

static void test_preprocess(void)
{
    char *s = sp_mc_preprocess("  A [title] B [header]C  D  ");
    check_str(s, "A. B C D", "preprocess");
    free(s);
    s = sp_mc_preprocess("x    y"); /* str.replace is one pass: 4 spaces -> 2 */
    check_str(s, "x  y", "double space one pass");
    free(s);
    s = sp_mc_preprocess("a [b\nc] d [e] [unclosed");
    check_str(s, "a [b\nc] d [unclosed", "brackets do not cross newlines");
    free(s);
    s = sp_mc_preprocess("[step] Cut it.[title] Then");
    check_str(s, " Cut it. Then", "markers");
    free(s);
    s = sp_mc_capitalize("hELLO World");
    check_str(s, "Hello world", "capitalize");
    free(s);
    s = sp_mc_capitalize("\xc3\xa9" "COLE \xc3\x89T\xc3\x89");
    check_str(s, "\xc3\x89" "cole \xc3\xa9t\xc3\xa9", "capitalize Latin-1");
    free(s);
    s = sp_mc_capitalize("");
    check_str(s, "", "capitalize empty");
    free(s);
    CHECK(sp_mc_utf8_check("ok \xe2\x82\xac", 6) == -1, "valid utf8");
    CHECK(sp_mc_utf8_check("ab\xe2\x82", 4) == 2, "truncated utf8");
    CHECK(sp_mc_utf8_check("a\xc0\x80", 3) == 1, "overlong utf8");
    CHECK(sp_mc_utf8_check("\xed\xa0\x80", 3) == 0, "surrogate");
}

static void test_layouts(void)
{
    sp_mc_set set;
    sp_error err = {{0}};
    const char *hs = "{\"activity_label\": \"Cooking\", \"ctx_a\": \"A man cuts. \", \"ctx_b\": "
                     "\"tHEN he\", \"endings\": [\"eats [title] it.\", \"runs\", \"x\"], "
                     "\"label\": \"1\"}\n\n{\"activity_label\": \"B\", \"ctx_a\": \"c\", "
                     "\"ctx_b\": \"\", \"endings\": [\"p\", \"q\"], \"label\": 0}\n";
    CHECK(sp_mc_load_buffer("h.jsonl", hs, strlen(hs), &set, &err) == 0, "%s", err.msg);
    if (set.n == 2) {
        CHECK(set.format == SP_MC_FORMAT_HELLASWAG_JSONL, "format");
        check_str(set.items[0].query, "Cooking: A man cuts. Then he", "hellaswag query");
        check_str(set.items[0].endings[0], "eats. it.", "ending preprocess");
        CHECK(set.items[0].label == 1 && set.items[0].n_endings == 3, "label/endings");
        CHECK(set.items[1].line == 3 && set.items[1].label == 0, "line %lld", (long long)set.items[1].line);
        check_str(set.items[1].query, "B: c", "empty ctx_b stripped");
    }
    sp_mc_free(&set);
    const char *gen = "{\"context\": \"Q? \", \"choices\": [\"a\", \"b [x]\"], \"label\": 1}\n";
    CHECK(sp_mc_load_buffer("g.jsonl", gen, strlen(gen), &set, &err) == 0, "%s", err.msg);
    if (set.n == 1) {
        CHECK(set.format == SP_MC_FORMAT_GENERIC_JSONL, "generic format");
        check_str(set.items[0].query, "Q? ", "generic verbatim");
        check_str(set.items[0].endings[1], "b [x]", "generic ending verbatim");
    }
    sp_mc_free(&set);
    const char *txt = "Q one: a b\n2\ne0\ne1\ne2\ne3\nQ two\r\n0\r\nf0\r\nf1\r\nf2\r\nf3\r\n";
    CHECK(sp_mc_load_buffer("t.txt", txt, strlen(txt), &set, &err) == 0, "%s", err.msg);
    if (set.n == 2) {
        CHECK(set.format == SP_MC_FORMAT_LLAMACPP_TXT, "txt format");
        check_str(set.items[1].query, "Q two", "crlf");
        check_str(set.items[1].endings[3], "f3", "crlf ending");
        CHECK(set.items[0].label == 2 && set.items[1].line == 7, "txt label/line");
    }
    sp_mc_free(&set);
}

static void expect_bad(const char *what, const char *path, const char *text, const char *pattern)
{
    sp_mc_set set;
    sp_error err = {{0}};
    int rc = sp_mc_load_buffer(path, text, strlen(text), &set, &err);
    CHECK(rc == -1, "%s: accepted", what);
    CHECK(strstr(err.msg, pattern) != NULL, "%s: message \"%s\" lacks \"%s\"", what, err.msg,
          pattern);
    if (rc == 0) sp_mc_free(&set);
}

#define HS(label, endings)                                                                  \
    "{\"activity_label\": \"a\", \"ctx_a\": \"b\", \"ctx_b\": \"c\", \"endings\": " endings \
    ", \"label\": " label "}\n"

static void test_bad_input(void)
{
    const char *ok = HS("0", "[\"x\", \"y\"]");
    char buf[1024];
    snprintf(buf, sizeof buf, "%s%s", ok, HS("\"\"", "[\"x\", \"y\"]"));
    expect_bad("test split", "hs.jsonl", buf, "hs.jsonl:2: labels are empty: this looks like the "
                                             "HellaSwag test split");
    expect_bad("missing label", "hs.jsonl",
               "{\"activity_label\": \"a\", \"ctx_a\": \"b\", \"ctx_b\": \"c\", \"endings\": [\"x\", \"y\"]}",
               "hs.jsonl:1: missing \"label\"");
    expect_bad("label range", "hs.jsonl", HS("2", "[\"x\", \"y\"]"), "hs.jsonl:1: label 2 out of range");
    expect_bad("label string range", "hs.jsonl", HS("\"7\"", "[\"x\", \"y\"]"), "label 7 out of range");
    expect_bad("label negative", "hs.jsonl", HS("-1", "[\"x\", \"y\"]"), "out of range");
    expect_bad("label fraction", "hs.jsonl", HS("0.5", "[\"x\", \"y\"]"), "out of range");
    expect_bad("label null", "hs.jsonl", HS("null", "[\"x\", \"y\"]"), "\"label\" must be");
    expect_bad("one ending", "hs.jsonl", HS("0", "[\"x\"]"), "hs.jsonl:1: \"endings\" has 1 entries, need at least 2");
    expect_bad("ending type", "hs.jsonl", HS("0", "[\"x\", 3]"), "endings[1] must be a string");
    expect_bad("invalid utf8", "hs.jsonl", "{\"a\": 1}\n{\"b\": \"\xff\"}\n",
               "hs.jsonl:2: invalid UTF-8 at byte 7 of the line");
    expect_bad("empty", "e.jsonl", "", "e.jsonl: empty file");
    expect_bad("blank", "e.jsonl", "\n \n", "e.jsonl: empty file");
    snprintf(buf, sizeof buf, "%s{\"activity_label\": \"a\", \"ctx_a\" \"b\"}\n", ok);
    expect_bad("malformed json", "m.jsonl", buf, "m.jsonl:2: invalid JSON at byte 32");
    expect_bad("unknown schema", "u.jsonl", "{\"q\": 1}\n", "unknown multiple-choice schema");
    expect_bad("missing ctx_b", "u.jsonl",
               "{\"activity_label\": \"a\", \"ctx_a\": \"b\", \"endings\": [\"x\", \"y\"], \"label\": 0}",
               "u.jsonl:1: missing \"ctx_b\"");
    expect_bad("truncated txt", "t.txt", "q\n1\na\nb\nc\nd\nq2\n0\na\n",
               "t.txt:9: truncated item 2");
    expect_bad("txt label", "t.txt", "q\nx\na\nb\nc\nd\n", "t.txt:2: label \"x\" is not an integer");
    expect_bad("txt empty label", "t.txt", "q\n\na\nb\nc\nd\n", "t.txt:2: labels are empty");
    expect_bad("txt label range", "t.txt", "q\n4\na\nb\nc\nd\n", "t.txt:2: label 4 out of range");
    expect_bad("txt empty ending", "t.txt", "q\n1\na\n\nc\nd\n", "t.txt:4: ending 1 is empty");
    sp_mc_set set;
    sp_error err = {{0}};
    CHECK(sp_mc_load("/nonexistent/x.jsonl", &set, &err) == -1 && strstr(err.msg, "/nonexistent/x.jsonl"),
          "missing file: %s", err.msg);
}

static void test_subsets(void)
{
    sp_mc_set set = {0};
    set.n = 1000;
    int64_t *a = NULL, *b = NULL, *c = NULL, na = 0, nb = 0, nc = 0;
    sp_error err = {{0}};
    CHECK(sp_mc_subset_first(&set, 10, &a, &na, &err) == 0 && na == 10 && a[9] == 9, "first");
    free(a);
    CHECK(sp_mc_subset_first(&set, 0, &a, &na, &err) == 0 && na == 1000, "first all");
    free(a);
    CHECK(sp_mc_subset_sample(&set, 100, 7, &a, &na, &err) == 0 && na == 100, "sample");
    CHECK(sp_mc_subset_sample(&set, 100, 7, &b, &nb, &err) == 0 && nb == 100, "sample again");
    CHECK(sp_mc_subset_sample(&set, 300, 7, &c, &nc, &err) == 0 && nc == 300, "larger sample");
    int same = 1, sorted = 1, nested = 1, spread = a[99] - a[0] > 500;
    for (int64_t i = 0; i < 100; i++) {
        same &= a[i] == b[i];
        if (i) sorted &= a[i] > a[i - 1];
        int found = 0;
        for (int64_t j = 0; j < nc; j++) found |= c[j] == a[i];
        nested &= found;
    }
    CHECK(same && sorted && nested && spread, "sample: same %d sorted %d nested %d spread %d",
          same, sorted, nested, spread);
    free(b);
    CHECK(sp_mc_subset_sample(&set, 100, 8, &b, &nb, &err) == 0, "seed 8");
    CHECK(memcmp(a, b, 100 * sizeof(int64_t)) != 0, "different seeds give different samples");
    CHECK(sp_mc_subset_sample(&set, -1, 8, &b, &nb, &err) == -1, "negative size");
    free(a), free(b), free(c);
}

static void test_shared_files(void)
{
    const char *p = sp_test_shared_path("fixtures/tiny-brown-24L-goldens/brown_cloze_val.jsonl");
    if (!p) return;
    sp_mc_set set;
    sp_error err = {{0}};
    CHECK(sp_mc_load(p, &set, &err) == 0, "%s", err.msg);
    if (set.n > 0) {
        CHECK(set.n == 600 && set.format == SP_MC_FORMAT_HELLASWAG_JSONL, "brown: n %lld", (long long)set.n);
        CHECK(set.items[0].label == 2 && set.items[0].n_endings == 4, "brown item 0");
        CHECK(strncmp(set.items[0].query, "Skills and hobbies: Large, long-range bombers", 45) == 0,
              "brown query: %s", set.items[0].query);
        const char *q = set.items[0].query;
        CHECK(strstr(q, "today. There is little enthusiasm") != NULL, "capitalized ctx_b: %s", q);
    }
    sp_mc_free(&set);
    p = sp_test_shared_path("data/hellaswag/hellaswag_val_full.txt");
    CHECK(sp_mc_load(p, &set, &err) == 0, "%s", err.msg);
    if (set.n > 0) {
        CHECK(set.n == 10042 && set.format == SP_MC_FORMAT_LLAMACPP_TXT, "hellaswag: n %lld",
              (long long)set.n);
        check_str(set.items[0].query, "Roof shingle removal: A man is sitting on a roof. he",
                  "hellaswag query 0");
        CHECK(set.items[0].label == 3, "hellaswag label 0");
        check_str(set.items[0].endings[3], "starts pulling up roofing on a roof.", "ending");
        CHECK(set.items[10041].line == 10041 * 6 + 1, "last line");
    }
    sp_mc_free(&set);
}

/* Fake tokenizer: one token per word, the word's leading spaces included (GPT-2 style); the id is
 * a small hash. Lets the lm-eval context/continuation split be checked without a model. */
static int fake_encode(void *ctx, const char *text, size_t len, int32_t **ids, size_t *n,
                       sp_error *err)
{
    (void)ctx, (void)err;
    *ids = malloc((len + 1) * sizeof(int32_t));
    *n = 0;
    for (size_t i = 0; i < len;) {
        uint32_t h = 7;
        size_t j = i;
        while (j < len && text[j] == ' ') h = h * 31 + (unsigned char)text[j++];
        while (j < len && text[j] != ' ') h = h * 31 + (unsigned char)text[j++];
        (*ids)[(*n)++] = (int32_t)(h % 1000) + 2;
        i = j;
    }
    return 0;
}

static void test_requests(void)
{
    const char *gen = "{\"context\": \"A b \", \"choices\": [\"c d\", \"\xc3\xa9t\xc3\xa9\"], \"label\": 1}\n";
    sp_mc_set set;
    sp_mc_requests rq;
    sp_error err = {{0}};
    CHECK(sp_mc_load_buffer("g.jsonl", gen, strlen(gen), &set, &err) == 0, "%s", err.msg);
    if (set.n != 1) return;
    CHECK(sp_mc_build(&set, NULL, 0, fake_encode, NULL, 0, 100, &rq, &err) == 0, "%s", err.msg);
    if (rq.n == 1) {
        const sp_mc_request *r = &rq.req[0];
        int32_t *w = NULL, *c = NULL;
        size_t nw = 0, nc = 0;
        fake_encode(NULL, "A b  c d", 8, &w, &nw, &err); /* trailing space moved to the ending */
        fake_encode(NULL, "A b", 3, &c, &nc, &err);
        CHECK(r->n_ctx == 3 && r->ctx[0] == 0 && r->ctx[1] == c[0] && r->ctx[2] == c[1], "context");
        CHECK(r->n_cont[0] == 2 && r->cont[0][0] == w[2] && r->cont[0][1] == w[3], "continuation");
        CHECK(r->norm_len[0] == 3 && r->norm_len[1] == 3, "norm len %g %g (characters)",
              r->norm_len[0], r->norm_len[1]);
        CHECK(r->label == 1, "label");
        free(w), free(c);
        sp_mc_requests_free(&rq);
    }
    CHECK(sp_mc_build(&set, NULL, 0, fake_encode, NULL, 0, 3, &rq, &err) == -1 &&
          strstr(err.msg, "g.jsonl:1: item 0") && strstr(err.msg, "positions"), "too long: %s", err.msg);
    sp_mc_free(&set);
}

int main(void)
{
    test_requests();
    test_preprocess();
    test_layouts();
    test_bad_input();
    test_subsets();
    test_shared_files();
    return sp_test_finish("test_mc_data");
}
