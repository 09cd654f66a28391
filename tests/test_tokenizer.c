/* test_tokenizer.c — the Hugging Face tokenizer against the goldens (55 strings x {tiny-brown,
 * Llama-3.1} x {no BOS, BOS}, exact ids), decode(encode(s)) == s, added tokens in the text, a
 * small hand-written GPT-2 style tokenizer (merge order, both merge formats), and bad inputs
 * (missing file, malformed JSON with its byte offset, non-BPE model, invalid UTF-8, bad ids). */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/json_util.h"
#include "common/tokenizer.h"
#include "test_util.h"

static char tmp_dir[] = "/tmp/sp_test_tokenizer_XXXXXX";

/* Compares encode(strings[i]) with every golden list; reports the first mismatch per list. */
static void check_goldens(const sp_tokenizer *tok, const cJSON *strings, const cJSON *gold,
                          int add_bos, const char *name)
{
    int i = 0;
    CHECK(cJSON_GetArraySize(strings) == 55 && cJSON_GetArraySize(gold) == 55, "%s: 55", name);
    for (const cJSON *s = strings->child, *g = gold->child; s && g; s = s->next, g = g->next, i++) {
        int32_t *ids;
        size_t n;
        sp_error err = {{0}};
        if (sp_tokenizer_encode(tok, s->valuestring, strlen(s->valuestring), add_bos, &ids, &n,
                                &err)) {
            CHECK(0, "%s: string %d: %s", name, i, err.msg);
            return;
        }
        int same = (size_t)cJSON_GetArraySize(g) == n;
        size_t k = 0;
        for (const cJSON *e = g->child; same && e; e = e->next, k++) same = e->valueint == ids[k];
        if (!same) {
            char exp[4096] = "", got[4096] = "";
            size_t eo = 0, go = 0;
            for (const cJSON *e = g->child; e && eo < 4000; e = e->next)
                eo += (size_t)snprintf(exp + eo, sizeof exp - eo, " %d", e->valueint);
            for (size_t j = 0; j < n && go < 4000; j++)
                go += (size_t)snprintf(got + go, sizeof got - go, " %d", (int)ids[j]);
            CHECK(0, "%s: string %d (%.60s): expected [%s ] got [%s ]", name, i, s->valuestring,
                  exp, got);
            free(ids);
            return;
        }
        CHECK(1, "match");
        free(ids);
    }
}

static void check_roundtrip(const sp_tokenizer *tok, const cJSON *strings, const char *name)
{
    int i = 0;
    for (const cJSON *s = strings->child; s; s = s->next, i++) {
        int32_t *ids;
        size_t n, len;
        char *text = NULL;
        sp_error err = {{0}};
        const char *in = s->valuestring;
        int ok = sp_tokenizer_encode(tok, in, strlen(in), 0, &ids, &n, &err) == 0;
        ok = ok && sp_tokenizer_decode(tok, ids, n, &text, &len, &err) == 0;
        CHECK(ok && len == strlen(in) && strcmp(text, in) == 0, "%s: roundtrip %d: %s", name, i,
              ok ? text : err.msg);
        if (ok) free(ids);
        free(text);
    }
}

static void test_goldens(void)
{
    cJSON *g;
    sp_error err = {{0}};
    const char *gpath = sp_test_shared_path("fixtures/tiny-brown-24L-goldens/tokenizer_goldens.json");
    if (sp_json_parse_file(gpath, &g, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    const cJSON *strings = sp_json_get(g, "strings");
    sp_tokenizer *tiny = NULL, *llama = NULL;
    /* The tiny model is loaded through its directory, Llama-3.1 through the file itself. */
    CHECK(sp_tokenizer_load(sp_test_shared_path("fixtures/tiny-brown-24L"), &tiny, &err) == 0,
          "%s", err.msg);
    CHECK(sp_tokenizer_load(sp_test_shared_path("data/llama3.1-tokenizer/tokenizer.json"), &llama,
                            &err) == 0, "%s", err.msg);
    if (tiny) {
        check_goldens(tiny, strings, sp_json_get(g, "tiny_brown"), 0, "tiny_brown");
        check_goldens(tiny, strings, sp_json_get(g, "tiny_brown_with_bos"), 1, "tiny_brown+bos");
        check_roundtrip(tiny, strings, "tiny_brown");
        CHECK(sp_tokenizer_bos(tiny) == 0 && sp_tokenizer_eos(tiny) == 1, "tiny bos/eos %d %d",
              sp_tokenizer_bos(tiny), sp_tokenizer_eos(tiny));
        CHECK(sp_tokenizer_vocab_size(tiny) == 4096, "tiny vocab %lld",
              (long long)sp_tokenizer_vocab_size(tiny));
    }
    if (llama) {
        check_goldens(llama, strings, sp_json_get(g, "llama31"), 0, "llama31");
        check_goldens(llama, strings, sp_json_get(g, "llama31_with_bos"), 1, "llama31+bos");
        check_roundtrip(llama, strings, "llama31");
        CHECK(sp_tokenizer_bos(llama) == 128000 && sp_tokenizer_eos(llama) == 128009,
              "llama bos/eos %d %d", sp_tokenizer_bos(llama), sp_tokenizer_eos(llama));
        CHECK(sp_tokenizer_vocab_size(llama) == 128256, "llama vocab");
        /* Added tokens are matched in the raw text, before the regex. */
        const char *t1 = "<|begin_of_text|>Hello world<|eot_id|>", *t2 = "Hello world";
        int32_t *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        CHECK(sp_tokenizer_encode(llama, t1, strlen(t1), 0, &a, &na, &err) == 0, "%s", err.msg);
        CHECK(sp_tokenizer_encode(llama, t2, strlen(t2), 0, &b, &nb, &err) == 0, "%s", err.msg);
        CHECK(na == nb + 2 && a[0] == 128000 && a[na - 1] == 128009 &&
              memcmp(a + 1, b, nb * sizeof *b) == 0, "special tokens in text (%zu vs %zu)", na, nb);
        /* Invalid UTF-8 is refused with its byte offset; bad ids are refused by decode. */
        int32_t *ids = NULL;
        size_t n;
        CHECK(sp_tokenizer_encode(llama, "ab\xff" "c", 4, 0, &ids, &n, &err) != 0 &&
              strstr(err.msg, "byte offset 2"), "bad utf8: %s", err.msg);
        CHECK(sp_tokenizer_encode(llama, "a\xe0\x80\x80", 4, 0, &ids, &n, &err) != 0 &&
              strstr(err.msg, "byte offset 1"), "overlong: %s", err.msg);
        int32_t bad[2] = {5, 128256};
        char *text = NULL;
        CHECK(sp_tokenizer_decode(llama, bad, 2, &text, &n, &err) != 0 &&
              strstr(err.msg, "128256"), "bad id: %s", err.msg);
        /* A token that splits a character decodes lossily (U+FFFD), like HF. */
        CHECK(sp_tokenizer_decode(llama, b, 1, &text, &n, &err) == 0 && strcmp(text, "Hello") == 0,
              "decode one");
        free(text);
        free(a);
        free(b);
    }
    sp_tokenizer_free(tiny);
    sp_tokenizer_free(llama);
    cJSON_Delete(g);
}

static const char *write_tmp(const char *name, const char *content)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return path;
    fputs(content, f);
    fclose(f);
    return path;
}

#define SMALL_HEAD "{\"normalizer\": null, \"decoder\": {\"type\": \"ByteLevel\"}, " \
                   "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"use_regex\": true}, "
#define SMALL_VOCAB "\"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3, \"bc\": 4, " \
                    "\"abc\": 5, \"\\u0120\": 6, \"aa\": 7}"

/* encode(s) must equal want[0..n). */
static void check_small(const sp_tokenizer *tok, const char *s, const int32_t *want, size_t nw)
{
    int32_t *ids = NULL;
    size_t n = 0;
    sp_error err = {{0}};
    int ok = sp_tokenizer_encode(tok, s, strlen(s), 1, &ids, &n, &err) == 0;
    CHECK(ok && n == nw && memcmp(ids, want, n * sizeof *ids) == 0, "small \"%s\": %s (n %zu)", s,
          err.msg, n);
    free(ids);
}

static void test_small(void)
{
    sp_error err = {{0}};
    sp_tokenizer *t = NULL;
    /* merges as strings: "a b" (rank 0) before "b c": abc -> ab c -> abc */
    const char *p = write_tmp("s1.json", SMALL_HEAD "\"model\": {\"type\": \"BPE\", " SMALL_VOCAB
                              ", \"merges\": [\"a b\", \"ab c\", \"b c\", \"a a\"]}}");
    CHECK(sp_tokenizer_load(p, &t, &err) == 0, "%s", err.msg);
    if (t) {
        check_small(t, "abc", (int32_t[]){5}, 1);
        check_small(t, "aaa", (int32_t[]){7, 0}, 2); /* leftmost first among equal ranks */
        check_small(t, "abc abc", (int32_t[]){5, 6, 5}, 3); /* " abc" one pre-token, no Ġ merge */
        CHECK(sp_tokenizer_bos(t) == -1 && sp_tokenizer_eos(t) == -1, "no bos/eos");
        sp_tokenizer_free(t);
        t = NULL;
    }
    /* merges as pairs, "b c" first: abc -> a bc (no "a bc" merge) */
    p = write_tmp("s2.json", SMALL_HEAD "\"model\": {\"type\": \"BPE\", " SMALL_VOCAB
                  ", \"merges\": [[\"b\", \"c\"], [\"a\", \"b\"]]}}");
    CHECK(sp_tokenizer_load(p, &t, &err) == 0, "%s", err.msg);
    if (t) {
        /* found by fuzz_tokenizer_load (UBSan, second round): a word of bytes without tokens
         * gives no ids; cached first (no id array yet) and looked up again, it computed NULL + 0 */
        for (int k = 0; k < 2; k++) {
            int32_t *ids = NULL;
            size_t n = 1;
            CHECK(sp_tokenizer_encode(t, "xx", 2, 0, &ids, &n, &err) == 0 && n == 0,
                  "\"xx\" (time %d): n=%zu %s", k + 1, n, err.msg);
            free(ids);
        }
        check_small(t, "abc", (int32_t[]){0, 4}, 2);
        check_small(t, "abab", (int32_t[]){3, 3}, 2);
        sp_tokenizer_free(t);
        t = NULL;
    }
    /* found by fuzz_tokenizer_load (UBSan, in the ASan test run): an empty first vocab key
     * did pointer arithmetic on the still-NULL string arenas */
    p = write_tmp("s4.json", SMALL_HEAD "\"model\": {\"type\": \"BPE\", \"vocab\": {\"\": 8, "
                  "\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3, \"bc\": 4, \"abc\": 5, \"\\u0120\": 6, "
                  "\"aa\": 7}, \"merges\": [\"a b\", \"ab c\"]}}");
    CHECK(sp_tokenizer_load(p, &t, &err) == 0, "empty vocab key: %s", err.msg);
    if (t) {
        check_small(t, "abc", (int32_t[]){5}, 1);
        sp_tokenizer_free(t);
        t = NULL;
    }
    /* found by fuzz_tokenizer_load (UBSan, campaign): a second vocab key with the same (empty)
     * bytes as an empty first key looked it up in the map while its arena was still NULL */
    p = write_tmp("s5.json", SMALL_HEAD "\"model\": {\"type\": \"BPE\", \"vocab\": {\"\": 8, "
                  "\"\": 9, \"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3, \"bc\": 4, \"abc\": 5, "
                  "\"\\u0120\": 6, \"aa\": 7}, \"merges\": [\"a b\"]}}");
    CHECK(sp_tokenizer_load(p, &t, &err) == 0, "empty vocab key twice: %s", err.msg);
    if (t) {
        check_small(t, "abc", (int32_t[]){3, 2}, 2);
        sp_tokenizer_free(t);
        t = NULL;
    }
    /* added tokens with lstrip/rstrip; template "<x> A <y>" applied when BOS is requested */
    p = write_tmp("s3.json", SMALL_HEAD "\"added_tokens\": [{\"id\": 8, \"content\": \"<x>\", "
                  "\"lstrip\": true, \"rstrip\": true, \"special\": true}, {\"id\": 9, "
                  "\"content\": \"<y>\", \"special\": true}], \"post_processor\": {\"type\": "
                  "\"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<x>\"}}, "
                  "{\"Sequence\": {\"id\": \"A\"}}, {\"SpecialToken\": {\"id\": \"<y>\"}}], "
                  "\"special_tokens\": {\"<x>\": {\"ids\": [8]}, \"<y>\": {\"ids\": [9]}}}, "
                  "\"model\": {\"type\": \"BPE\", " SMALL_VOCAB ", \"merges\": [\"a b\"]}}");
    CHECK(sp_tokenizer_load(p, &t, &err) == 0, "%s", err.msg);
    if (t) {
        check_small(t, "ab  <x> c", (int32_t[]){8, 3, 8, 2, 9}, 5);   /* spaces absorbed */
        check_small(t, "ab <y> c", (int32_t[]){8, 3, 6, 9, 6, 2, 9}, 7); /* kept: no strip */
        CHECK(sp_tokenizer_bos(t) == 8 && sp_tokenizer_vocab_size(t) == 10, "s3 bos/vocab");
        sp_tokenizer_free(t);
        t = NULL;
    }
}

static void test_bad_inputs(void)
{
    sp_error err = {{0}};
    sp_tokenizer *t = NULL;
    CHECK(sp_tokenizer_load("/nonexistent/tokenizer.json", &t, &err) != 0 &&
          strstr(err.msg, "/nonexistent"), "missing: %s", err.msg);
    CHECK(sp_tokenizer_load(tmp_dir, &t, &err) != 0 && strstr(err.msg, "no tokenizer.json"),
          "dir without tokenizer.json: %s", err.msg);
    const char *p = write_tmp("bad.json", "{\"model\": {\"type\": \"BPE\",, }}");
    CHECK(sp_tokenizer_load(p, &t, &err) != 0 && strstr(err.msg, "byte 26"), "malformed: %s",
          err.msg);
    p = write_tmp("wp.json", SMALL_HEAD "\"model\": {\"type\": \"WordPiece\", " SMALL_VOCAB "}}");
    CHECK(sp_tokenizer_load(p, &t, &err) != 0 && strstr(err.msg, "model.type") &&
          strstr(err.msg, "WordPiece"), "non-BPE: %s", err.msg);
    p = write_tmp("nm.json", "{\"normalizer\": {\"type\": \"NFC\"}, \"decoder\": {\"type\": "
                  "\"ByteLevel\"}, \"model\": {\"type\": \"BPE\"}}");
    CHECK(sp_tokenizer_load(p, &t, &err) != 0 && strstr(err.msg, "normalizer"), "normalizer: %s",
          err.msg);
    p = write_tmp("mg.json", SMALL_HEAD "\"model\": {\"type\": \"BPE\", " SMALL_VOCAB
                  ", \"merges\": [\"a b\", \"c c\"]}}");
    CHECK(sp_tokenizer_load(p, &t, &err) != 0 && strstr(err.msg, "model.merges[1]"),
          "merge not in vocab: %s", err.msg);
    /* found by fuzz_tokenizer_load: a template id inside the id range that no token has (ids 9
     * and 10 are holes) was taken as BOS, and decoding the encoder's own output failed */
    p = write_tmp("hole.json", SMALL_HEAD "\"added_tokens\": [{\"id\": 8, \"content\": \"<x>\", "
                  "\"special\": true}, {\"id\": 11, \"content\": \"<y>\", \"special\": true}], "
                  "\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": "
                  "{\"id\": \"<x>\"}}, {\"Sequence\": {\"id\": \"A\"}}], \"special_tokens\": {\"<x>\": "
                  "{\"ids\": [10]}}}, \"model\": {\"type\": \"BPE\", " SMALL_VOCAB ", \"merges\": []}}");
    CHECK(sp_tokenizer_load(p, &t, &err) != 0 && strstr(err.msg, "special_tokens.\"<x>\".ids") &&
          strstr(err.msg, "10 is not the id of any token"), "template id not a token: %s", err.msg);
    CHECK(t == NULL, "no tokenizer on failure");
}

int main(void)
{
    SP_TEST_REQUIRE_SHARED("test_tokenizer");
    if (!mkdtemp(tmp_dir)) return sp_test_skip("test_tokenizer", "cannot create a temp dir");
    test_goldens();
    test_small();
    test_bad_inputs();
    const char *names[] = {"s1.json", "s2.json", "s3.json", "bad.json", "wp.json", "nm.json", "mg.json"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[300];
        snprintf(path, sizeof path, "%s/%s", tmp_dir, names[i]);
        unlink(path);
    }
    rmdir(tmp_dir);
    return sp_test_finish("test_tokenizer");
}
