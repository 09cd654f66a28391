/* test_hardening.c — regression tests for the defects of the adversarial pass (issue 18) that
 * need crafted files: models with more layers than the mask holds (generated here: 300 and 256
 * layers of tiny width, config.json and GGUF), sp_tensor_numel with a zero dimension beside
 * huge ones, tokenizer.json with an empty vocab or one huge id, and a checkpoint write that hits
 * the file-size limit (the stand-in for a full disk). Runs under ASan + UBSan in CI. */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/checkpoint.h"
#include "common/json_util.h"
#include "common/gguf.h"
#include "common/gguf_convert.h"
#include "common/mask.h"
#include "common/model.h"
#include "common/safetensors_write.h"
#include "common/tokenizer.h"
#include "coordinator/job.h"
#include "coordinator/search_problem.h"
#include "worker/mc_data.h"
#include "gguf_craft.h"
#include "test_util.h"

static char g_dir[256];

static const char *tpath(const char *name)
{
    static char buf[16][512];
    static int k = 0;
    k = (k + 1) % 16;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int ok = fputs(text, f) >= 0;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* ---- a tiny Llama of any depth: H 4, NH = NKV 2, D 2, F 4, V 8, tied embeddings ---------- */

#define TH 4
#define TF 4
#define TV 8
static const char *const layer_parts[9] = {
    "input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
    "self_attn.o_proj", "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj",
    "mlp.down_proj"};

static void part_shape(int p, sp_stw_tensor *t)
{
    t->dtype = SP_DT_F32;
    if (p == 0 || p == 5) {
        t->ndim = 1, t->shape[0] = TH;
        return;
    }
    t->ndim = 2;
    t->shape[0] = p == 6 || p == 7 ? TF : TH;
    t->shape[1] = p == 8 ? TF : TH;
}

/* Writes dir/config.json + dir/model.safetensors; returns 0 on success. nan_layer >= 0 puts a
 * NaN in that layer's input_layernorm (every mask keeping the layer then scores NaN). */
static int make_model_nan(const char *dir, int n_layers, int nan_layer)
{
    char path[600], cfg[1024];
    mkdir(dir, 0755);
    snprintf(cfg, sizeof cfg,
             "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": %d, "
             "\"num_hidden_layers\": %d, \"num_attention_heads\": 2, \"num_key_value_heads\": 2, "
             "\"intermediate_size\": %d, \"vocab_size\": %d, \"max_position_embeddings\": 64, "
             "\"rms_norm_eps\": 1e-5, \"rope_theta\": 10000.0, \"hidden_act\": \"silu\", "
             "\"tie_word_embeddings\": true}\n", TH, n_layers, TF, TV);
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (write_text(path, cfg)) return -1;
    int n = 2 + 9 * n_layers;
    sp_stw_tensor *t = calloc((size_t)n, sizeof *t);
    char (*names)[64] = calloc((size_t)n, sizeof *names);
    snprintf(names[0], 64, "model.embed_tokens.weight");
    t[0] = (sp_stw_tensor){.name = names[0], .dtype = SP_DT_F32, .ndim = 2, .shape = {TV, TH}};
    for (int l = 0; l < n_layers; l++)
        for (int p = 0; p < 9; p++) {
            int i = 1 + 9 * l + p;
            snprintf(names[i], 64, "model.layers.%d.%s.weight", l, layer_parts[p]);
            t[i].name = names[i];
            part_shape(p, &t[i]);
        }
    snprintf(names[n - 1], 64, "model.norm.weight");
    t[n - 1] = (sp_stw_tensor){.name = names[n - 1], .dtype = SP_DT_F32, .ndim = 1, .shape = {TH}};
    sp_st_writer w;
    sp_error err = {{0}};
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    int rc = sp_st_writer_open(&w, path, t, n, NULL, &err);
    for (int i = 0; i < n && rc == 0; i++) {
        float v[TV * TH];
        int64_t cnt = t[i].ndim == 1 ? t[i].shape[0] : t[i].shape[0] * t[i].shape[1];
        for (int64_t k = 0; k < cnt; k++) /* norms 1, weights small and varied */
            v[k] = t[i].ndim == 1 ? 1.0f : 0.05f * (float)((i * 7 + k * 3) % 11 - 5);
        if (nan_layer >= 0 && i == 1 + 9 * nan_layer) v[1] = NAN;
        rc = sp_st_writer_write(&w, v, (size_t)cnt * sizeof(float), &err);
    }
    if (rc == 0) rc = sp_st_writer_close(&w, &err);
    if (rc) fprintf(stderr, "make_model: %s\n", err.msg);
    free(t);
    free(names);
    return rc;
}

static int make_model(const char *dir, int n_layers) { return make_model_nan(dir, n_layers, -1); }

/* Runs a shell command line; returns the exit status, or 1000 + signal when killed. */
static int run_cmd(const char *cmd)
{
    int st = system(cmd);
    if (st == -1) return -1;
    return WIFSIGNALED(st) ? 1000 + WTERMSIG(st) : WEXITSTATUS(st);
}

static int file_has(const char *path, const char *needle)
{
    char *buf = calloc(1, 1 << 16);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, (1 << 16) - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = '\0';
    int found = strstr(buf, needle) != NULL;
    free(buf);
    return found;
}

static void test_layer_limit(void)
{
    const char *bin = getenv("SP_BIN");
    const char *m300 = tpath("m300"), *m256 = tpath("m256");
    char tok[600], cmd[2400], err_path[600];
    snprintf(tok, sizeof tok, "%s/tok.json", g_dir);
    snprintf(err_path, sizeof err_path, "%s/eval.err", g_dir);
    CHECK(write_text(tok, "[[1, 2, 3, 4, 5, 6, 7, 0, 1, 2]]\n") == 0, "tokens");
    CHECK(make_model(m300, 300) == 0 && make_model(m256, 256) == 0, "models written");
    sp_model m;
    sp_error err = {{0}};
    CHECK(sp_model_open(m300, &m, &err) != 0 && strstr(err.msg, "at most 256 layers") &&
              strstr(err.msg, "config.json") && strstr(err.msg, "num_hidden_layers"),
          "300 layers: %s", err.msg);
    int ok256 = sp_model_open(m256, &m, &err) == 0;
    CHECK(ok256, "256 layers: %s", err.msg);
    if (ok256) sp_model_close(&m);
    if (!bin) {
        printf("test_hardening: SP_BIN unset: the eval command lines are not run\n");
        return;
    }
    /* `eval --remove 280` on 300 layers overflowed a stack buffer: now a clean refusal. */
    snprintf(cmd, sizeof cmd, "'%s' eval '%s' --task nll --tokens '%s' --remove 280 "
             ">/dev/null 2>'%s'", bin, m300, tok, err_path);
    int rc = run_cmd(cmd);
    CHECK(rc == 1 && file_has(err_path, "at most 256 layers"), "eval 300 layers: rc %d", rc);
    snprintf(cmd, sizeof cmd, "'%s' eval '%s' --task nll --tokens '%s' >/dev/null 2>'%s'", bin,
             m300, tok, err_path);
    rc = run_cmd(cmd);
    CHECK(rc == 1 && file_has(err_path, "at most 256 layers"), "eval 300, no --remove: %d", rc);
    /* The largest model the mask holds works, its last layer removable. */
    snprintf(cmd, sizeof cmd, "'%s' eval '%s' --task nll --tokens '%s' --remove 255 --json "
             ">/dev/null 2>'%s'", bin, m256, tok, err_path);
    rc = run_cmd(cmd);
    CHECK(rc == 0, "eval 256 layers --remove 255: rc %d", rc);
}

static void test_gguf_layer_limit(void)
{
    gc_file f = {0};
    gc_kv_str(&f, "general.architecture", "llama");
    gc_kv_u32(&f, "llama.block_count", 300);
    gc_kv_u32(&f, "llama.embedding_length", TH);
    gc_kv_u32(&f, "llama.feed_forward_length", TF);
    gc_kv_u32(&f, "llama.attention.head_count", 2);
    gc_kv_u32(&f, "llama.context_length", 64);
    gc_buf b = gc_build(&f, NULL, NULL);
    const char *p = tpath("deep.gguf");
    CHECK(gc_write(p, b.p, b.len) == 0, "write gguf");
    sp_gguf g;
    sp_model_config cfg;
    sp_error err = {{0}};
    if (sp_gguf_open(p, &g, &err) == 0) {
        CHECK(sp_gguf_to_config(&g, &cfg, &err) != 0 && strstr(err.msg, "at most 256 layers") &&
                  strstr(err.msg, "llama.block_count") && strstr(err.msg, "deep.gguf"),
              "gguf 300 layers: %s", err.msg);
        sp_gguf_close(&g);
    } else {
        CHECK(0, "gguf open: %s", err.msg);
    }
    free(b.p);
    gc_free(&f);
}

/* ---- small UB cases ---------------------------------------------------------------------- */

static void test_numel_zero_dim(void)
{
    sp_tensor t;
    memset(&t, 0, sizeof t);
    t.ndim = 3;
    t.shape[0] = INT64_C(1) << 40, t.shape[1] = INT64_C(1) << 40, t.shape[2] = 0;
    CHECK(sp_tensor_numel(&t) == 0, "numel of [2^40, 2^40, 0] = %lld",
          (long long)sp_tensor_numel(&t)); /* signed overflow (UBSan) before the fix */
    t.shape[2] = 3, t.shape[0] = 0;
    CHECK(sp_tensor_numel(&t) == 0, "numel of [0, 2^40, 3]");
    t.shape[0] = 5, t.shape[1] = 7;
    CHECK(sp_tensor_numel(&t) == 105, "numel of [5, 7, 3]");
}

#define TOK_HEAD "{\"normalizer\": null, \"decoder\": {\"type\": \"ByteLevel\"}, " \
                 "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"use_regex\": true}, "

static void test_tokenizer_bad_vocab(void)
{
    sp_tokenizer *t = NULL;
    sp_error err = {{0}};
    /* Empty vocab with an added token: memcpy from NULL, everything encoded to nothing. */
    const char *p = tpath("empty_vocab.json");
    CHECK(write_text(p, TOK_HEAD "\"added_tokens\": [{\"id\": 0, \"content\": \"<s>\", "
                        "\"special\": true}], \"model\": {\"type\": \"BPE\", \"vocab\": {}, "
                        "\"merges\": []}}") == 0, "write");
    CHECK(sp_tokenizer_load(p, &t, &err) != 0 && strstr(err.msg, "model.vocab: empty"),
          "empty vocab: %s", err.msg);
    sp_tokenizer_free(t);
    t = NULL;
    /* One huge id: tables were sized by the largest id (8 GiB here). */
    p = tpath("huge_id.json");
    CHECK(write_text(p, TOK_HEAD "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": "
                        "2000000000}, \"merges\": []}}") == 0, "write");
    CHECK(sp_tokenizer_load(p, &t, &err) != 0 && strstr(err.msg, "2000000000") &&
              strstr(err.msg, "dense"), "huge id: %s", err.msg);
    sp_tokenizer_free(t);
}

/* ---- a checkpoint write that fails for lack of space ------------------------------------ */

static void fill_ckpt(sp_ckpt *c, int64_t n_evals)
{
    static const char *const names[2] = {"nll", "seconds"};
    sp_ckpt_init(c, 24, 2, names);
    sp_ckpt_set_job(c, "diskfull", "{\"name\": \"diskfull\"}");
    sp_ckpt_set_model(c, "0123456789abcdef");
    sp_ckpt_set_algorithm(c, "pso");
    c->iteration = n_evals;
    for (int64_t i = 0; i < n_evals; i++) {
        sp_mask m;
        sp_mask_clear(&m);
        sp_mask_set(&m, (int)(i % 24));
        double metrics[2] = {1.0 + (double)i, 0.5};
        sp_ckpt_history_append(&c->history, &m, 1, i / 8, 1.0 + (double)i, metrics,
                               0.1 * (double)i, 0);
    }
}

/* In a child with RLIMIT_FSIZE (SIGXFSZ ignored, so write() fails with EFBIG like a full disk
 * fails with ENOSPC): the first, small checkpoint fits; a larger one must fail with a message,
 * keep the small one intact, and the child must then exit normally (it died with SIGSEGV in
 * HDF5's library shutdown when a failed H5Fclose left a file id open). */
static void test_disk_full(void)
{
    const char *p = tpath("full.h5"), *msg = tpath("full.msg");
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        sp_ckpt a, b;
        sp_error err = {{0}};
        fill_ckpt(&a, 4);
        if (sp_ckpt_write(p, &a, &err)) _exit(10);
        struct stat sb;
        if (stat(p, &sb)) _exit(11);
        struct rlimit rl = {(rlim_t)sb.st_size + 2048, (rlim_t)sb.st_size + 2048};
        if (setrlimit(RLIMIT_FSIZE, &rl)) _exit(12);
        fill_ckpt(&b, 3000);
        if (sp_ckpt_write(p, &b, &err) == 0) _exit(13);
        FILE *f = fopen(msg, "w");
        if (f) fprintf(f, "%s\n", err.msg), fclose(f);
        sp_ckpt_free(&a);
        sp_ckpt_free(&b);
        exit(0); /* through atexit: HDF5 closes the library here */
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %s %d",
          WIFSIGNALED(st) ? "killed by signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) :
                                                                          WEXITSTATUS(st));
    CHECK(file_has(msg, "writing checkpoint") && file_has(msg, "File too large") &&
              file_has(msg, "full.h5.tmp."), "message: see %s", msg);
    sp_ckpt r;
    sp_error err = {{0}};
    CHECK(sp_ckpt_read(p, NULL, NULL, &r, &err) == 0 && r.iteration == 4,
          "the old checkpoint is kept: %s", err.msg);
    sp_ckpt_free(&r);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", p, (long)pid);
    CHECK(access(tmp, F_OK) != 0, "the partial temp file is removed");
}

/* ---- search: task data checked against the model, NaN fitness = infeasible ---------------- */

static void write_job(const char *path, const char *model, const char *tokens, const char *out)
{
    char job[2048];
    snprintf(job, sizeof job,
             "{\"name\": \"hard\", \"model\": \"%s\", \"task\": {\"type\": \"nll\", "
             "\"path\": \"%s\"}, \"objective\": {\"type\": \"nll\"}, \"k\": 1, "
             "\"search\": {\"algorithm\": \"pso\", \"budget\": 12, \"pso\": {\"swarm\": 4}}, "
             "\"seed\": 3, \"output\": \"%s\"}\n", model, tokens, out);
    CHECK(write_text(path, job) == 0, "write %s", path);
}

static void test_search_inputs(void)
{
    const char *bin = getenv("SP_BIN");
    if (!bin) return;
    const char *m = tpath("m6nan"), *job = tpath("nan.json"), *out = tpath("nan_out");
    char tok[600], cmd[2400], o[600], e[600], p[700];
    snprintf(o, sizeof o, "%s/search.out", g_dir);
    snprintf(e, sizeof e, "%s/search.err", g_dir);
    CHECK(make_model_nan(m, 6, 3) == 0, "nan model");
    /* a sequence longer than max_position_embeddings (64): refused before any evaluation */
    snprintf(tok, sizeof tok, "%s/long.json", g_dir);
    char seq[1024] = "[[0";
    for (int i = 1; i < 70; i++)
        snprintf(seq + strlen(seq), sizeof seq - strlen(seq), ", %d", i % 8);
    strcat(seq, "], [1, 2, 3]]\n");
    CHECK(write_text(tok, seq) == 0, "tokens");
    write_job(job, m, tok, out);
    /* Open MPI's own allocations show up as leaks under ASan: leak checking off for search */
    snprintf(cmd, sizeof cmd, "ASAN_OPTIONS=detect_leaks=0 '%s' search '%s' >'%s' 2>'%s'", bin,
             job, o, e);
    int rc = run_cmd(cmd);
    CHECK(rc == 1 && file_has(e, "max_position_embeddings") && file_has(e, "long.json") &&
              file_has(e, "sequence 0 has 70 tokens"), "long sequence: rc %d (see %s)", rc, e);
    /* NaN for every mask keeping layer 3: infeasible candidates, the search goes on to {3} */
    snprintf(tok, sizeof tok, "%s/short.json", g_dir);
    CHECK(write_text(tok, "[[1, 2, 3, 4, 5, 6, 7, 0, 1, 2], [3, 4, 5, 6]]\n") == 0, "tokens");
    write_job(job, m, tok, out);
    rc = run_cmd(cmd);
    CHECK(rc == 0, "NaN search: rc %d (see %s)", rc, e);
    CHECK(file_has(e, "recorded as infeasible") && file_has(e, "metric nll is NaN") &&
              file_has(e, "candidate removing {"), "no infeasible warning naming the mask");
    snprintf(p, sizeof p, "%s/summary.json", out);
    CHECK(file_has(p, "\"infeasible_candidates\"") && file_has(p, "\"removed_layers\":\t[3]"),
          "summary.json: best {3} and the infeasible list expected");
    snprintf(cmd, sizeof cmd, "'%s' report '%s/results.h5' --out '%s/rep' >'%s' 2>'%s'", bin, out,
             out, o, e);
    rc = run_cmd(cmd);
    snprintf(p, sizeof p, "%s/rep/report.md", out);
    CHECK(rc == 0 && file_has(p, "infeasible candidate(s) (metric nll is NaN"),
          "report: rc %d, no infeasible note in %s", rc, p);
}

/* ---- messages and leniency ---------------------------------------------------------------- */

/* Parses a job whose "seed"/"search"/"checkpoint" members are given; returns sp_job_parse's rc. */
static int parse_job(const char *extra, const char *search, sp_error *err)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"name\": \"j\", \"model\": \"m\", \"task\": {\"type\": \"nll\", \"path\": "
             "\"t.json\"}, \"objective\": {\"type\": \"nll\"}, \"k\": 2, \"search\": %s, "
             "\"output\": \"out\"%s}", search, extra);
    sp_job job;
    int rc = sp_job_parse(text, strlen(text), tpath("job.json"), &job, err);
    if (rc == 0) sp_job_free(&job);
    return rc;
}

static void test_job_messages(void)
{
    const char *pso = "{\"algorithm\": \"pso\", \"budget\": 10}";
    sp_error err = {{0}};
    CHECK(parse_job(", \"seed\": \"18446744073709551615\"", pso, &err) == 0, "2^64-1: %s",
          err.msg);
    CHECK(parse_job(", \"seed\": \"18446744073709551616\"", pso, &err) != 0 &&
              strstr(err.msg, "above 2^64-1"), "2^64 clamped: %s", err.msg);
    CHECK(parse_job(", \"seed\": \"+5\"", pso, &err) != 0 && strstr(err.msg, "seed"), "+5: %s",
          err.msg);
    CHECK(parse_job(", \"seed\": \" 5\"", pso, &err) != 0 && strstr(err.msg, "seed"), "' 5': %s",
          err.msg);
    CHECK(parse_job("", "{\"algorithm\": \"pso\", \"budget\": 10, \"woa\": {\"whales\": 4}}",
                    &err) != 0 && strstr(err.msg, "search.woa") && strstr(err.msg, "\"pso\""),
          "woa block under pso: %s", err.msg);
    CHECK(parse_job("", "{\"algorithm\": \"bpso\", \"budget\": 10, \"pso\": {\"swarm\": 4}}",
                    &err) == 0, "pso block under bpso: %s", err.msg);
    CHECK(parse_job(", \"checkpoint\": {\"path\": \"ck/\"}", pso, &err) != 0 &&
              strstr(err.msg, "checkpoint.path: \"ck/\"") && strstr(err.msg, "directory"),
          "checkpoint.path dir/: %s", err.msg);
    CHECK(parse_job(", \"checkpoint\": {\"path\": \".\"}", pso, &err) != 0 &&
              strstr(err.msg, "checkpoint.path: \".\"") && strstr(err.msg, "directory"),
          "checkpoint.path .: %s", err.msg);
    /* protected covering every layer but one */
    sp_search_problem p;
    sp_mask prot;
    sp_mask_clear(&prot);
    for (int i = 0; i < 8; i++) sp_mask_set(&prot, i);
    CHECK(sp_search_problem_init(&p, 8, 1, &prot, 1, &err) != 0 &&
              strstr(err.msg, "protected") && strstr(err.msg, "leave 0 of the 8") &&
              !strstr(err.msg, "[1, -1]"), "all protected: %s", err.msg);
}

static void test_parser_messages(void)
{
    sp_error err = {{0}};
    cJSON *root = NULL;
    /* deep nesting */
    size_t depth = 1500;
    char *deep = malloc(2 * depth + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    CHECK(sp_json_parse(deep, 2 * depth, "deep.json", &root, &err) != 0 &&
              strstr(err.msg, "nested deeper than"), "deep nesting: %s", err.msg);
    free(deep);
    /* NUL bytes are not whitespace */
    CHECK(sp_json_parse("{\"a\": 1}\0\0", 10, "nul.json", &root, &err) != 0 &&
              strstr(err.msg, "NUL byte at byte 8"), "trailing NUL: %s", err.msg);
    CHECK(sp_json_parse("{\"a\":\0 1}", 9, "nul.json", &root, &err) != 0 &&
              strstr(err.msg, "NUL byte at byte 5"), "inner NUL: %s", err.msg);
    /* a safetensors header padded with NULs */
    const char *st = tpath("nul.safetensors");
    unsigned char buf[8 + 16] = {16};
    memcpy(buf + 8, "{}\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    CHECK(gc_write(st, buf, sizeof buf) == 0, "write");
    sp_safetensors sft;
    CHECK(sp_st_open_file(st, &sft, &err) != 0 && strstr(err.msg, "NUL byte") &&
              strstr(err.msg, "nul.safetensors"), "safetensors NUL header: %s", err.msg);
    /* multiple choice: a BOM before JSON lines; \u0000 inside a context */
    static const char jl[] = "\xEF\xBB\xBF{\"context\": \"The cat\", \"choices\": [\"sat\", "
                             "\"flew\"], \"label\": 0}\n";
    sp_mc_set set;
    CHECK(sp_mc_load_buffer("bom.jsonl", jl, sizeof jl - 1, &set, &err) == 0 && set.n == 1 &&
              set.format == SP_MC_FORMAT_GENERIC_JSONL, "BOM jsonl: %s", err.msg);
    sp_mc_free(&set);
    static const char jz[] = "{\"context\": \"The c\\u0000at\", \"choices\": [\"a\", \"b\"], "
                             "\"label\": 0}\n";
    CHECK(sp_mc_load_buffer("nul.jsonl", jz, sizeof jz - 1, &set, &err) != 0 &&
              strstr(err.msg, "\\u0000") && strstr(err.msg, "nul.jsonl:1"), "\\u0000: %s", err.msg);
    static const char je[] = "{\"context\": \"a \\\\u0000 b\", \"choices\": [\"a\", \"b\"], "
                             "\"label\": 1}\n"; /* an escaped backslash, then text: allowed */
    CHECK(sp_mc_load_buffer("esc.jsonl", je, sizeof je - 1, &set, &err) == 0, "\\\\u0000: %s",
          err.msg);
    sp_mc_free(&set);
    /* FIFOs where files are expected: refused at once instead of blocking */
    const char *fifo_dir = tpath("fifo_model");
    char path[600];
    mkdir(fifo_dir, 0755);
    snprintf(path, sizeof path, "%s/config.json", fifo_dir);
    CHECK(mkfifo(path, 0600) == 0, "mkfifo");
    sp_model_config cfg;
    CHECK(sp_config_load(path, &cfg, &err) != 0 && strstr(err.msg, "not a regular file"),
          "config FIFO: %s", err.msg);
    snprintf(path, sizeof path, "%s/tokenizer.json", fifo_dir);
    CHECK(mkfifo(path, 0600) == 0, "mkfifo");
    sp_tokenizer *tok = NULL;
    CHECK(sp_tokenizer_load(path, &tok, &err) != 0 && strstr(err.msg, "not a regular file"),
          "tokenizer FIFO: %s", err.msg);
    snprintf(path, sizeof path, "%s/model.safetensors", fifo_dir);
    CHECK(mkfifo(path, 0600) == 0, "mkfifo");
    CHECK(sp_st_open_file(path, &sft, &err) != 0 && strstr(err.msg, "not a regular file"),
          "safetensors FIFO: %s", err.msg);
    snprintf(path, sizeof path, "%s/job.json", fifo_dir);
    CHECK(mkfifo(path, 0600) == 0, "mkfifo");
    sp_job job;
    CHECK(sp_job_load(path, &job, &err) != 0 && strstr(err.msg, "not a regular file"),
          "job FIFO: %s", err.msg);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/sp_test_hard_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_layer_limit();
    test_gguf_layer_limit();
    test_numel_zero_dim();
    test_tokenizer_bad_vocab();
    test_disk_full();
    test_search_inputs();
    test_job_messages();
    test_parser_messages();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (sp_test_failures == 0 && !getenv("SP_TEST_KEEP") && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
    return sp_test_finish("test_hardening");
}
