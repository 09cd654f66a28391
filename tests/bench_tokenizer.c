/* bench_tokenizer.c — tokenizer throughput: encodes the HellaSwag validation text line by line
 * (no special tokens) with the Llama-3.1 tokenizer and prints MB/s and tokens/s, the best of
 * --reps passes after one warm-up pass, on --threads threads (lines split into equal blocks).
 * Prints the total token count and an id checksum so bench_tokenizer.sh can compare with HF.
 * usage: bench_tokenizer [--threads N] [--reps R] [TOKENIZER_PATH TEXT_PATH] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/json_util.h"
#include "common/tokenizer.h"
#include "test_util.h"

typedef struct {
    const sp_tokenizer *tok;
    const char *text;
    const size_t *line_start; /* [n_lines + 1]; line i is text[start[i], start[i+1] - 1) */
    size_t first, last;       /* lines [first, last) */
    uint64_t tokens, checksum;
    int failed;
} bench_job;

static void *bench_run(void *arg)
{
    bench_job *j = arg;
    sp_error err = {{0}};
    j->tokens = j->checksum = 0;
    for (size_t i = j->first; i < j->last; i++) {
        int32_t *ids;
        size_t n;
        size_t len = j->line_start[i + 1] - 1 - j->line_start[i];
        if (sp_tokenizer_encode(j->tok, j->text + j->line_start[i], len, 0, &ids, &n, &err)) {
            fprintf(stderr, "bench_tokenizer: line %zu: %s\n", i + 1, err.msg);
            j->failed = 1;
            return NULL;
        }
        for (size_t k = 0; k < n; k++) j->checksum = j->checksum * 1000003u + (uint64_t)ids[k];
        j->tokens += n;
        free(ids);
    }
    return NULL;
}

/* One pass over all lines on nthreads threads; returns seconds, fills tokens/checksum (the
 * checksum chains the per-block checksums in order, so it is independent of nthreads only
 * when nthreads matches; the shell script compares single-thread runs). */
static double bench_pass(bench_job *jobs, int nthreads, uint64_t *tokens, int *failed)
{
    pthread_t th[64];
    double t0 = sp_now();
    for (int t = 0; t < nthreads; t++) pthread_create(&th[t], NULL, bench_run, &jobs[t]);
    for (int t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
    double dt = sp_now() - t0;
    *tokens = 0;
    for (int t = 0; t < nthreads; t++) {
        *tokens += jobs[t].tokens;
        *failed |= jobs[t].failed;
    }
    return dt;
}

int main(int argc, char **argv)
{
    int64_t nthreads = 1, reps = 3;
    const char *paths[2] = {NULL, NULL};
    int np = 0;
    sp_error err = {{0}};
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--threads") == 0 || strcmp(argv[i], "--reps") == 0) {
            int64_t *dst = argv[i][2] == 't' ? &nthreads : &reps;
            if (sp_cli_value(argc, argv, &i, &v, &err) || sp_cli_int(argv[i - 1], v, 1, 64, dst, &err)) {
                fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
                return 2;
            }
        } else if (np < 2) paths[np++] = argv[i];
        else return fprintf(stderr, "bench_tokenizer: unexpected argument %s\n", argv[i]), 2;
    }
    if (np == 0) {
        SP_TEST_REQUIRE_SHARED("bench_tokenizer");
        static char tp[4096], xp[4096];
        snprintf(tp, sizeof tp, "%s", sp_test_shared_path("data/llama3.1-tokenizer/tokenizer.json"));
        snprintf(xp, sizeof xp, "%s", sp_test_shared_path("data/hellaswag/hellaswag_val_full.txt"));
        paths[0] = tp, paths[1] = xp;
    } else if (np != 2) {
        return fprintf(stderr, "usage: bench_tokenizer [--threads N] [--reps R] [TOK TEXT]\n"), 2;
    }
    sp_tokenizer *tok;
    char *text;
    size_t len;
    double t0 = sp_now();
    if (sp_tokenizer_load(paths[0], &tok, &err) || sp_read_file(paths[1], &text, &len, &err)) {
        fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
        return 1;
    }
    double load_s = sp_now() - t0;
    /* Line starts; a virtual '\n' after the end makes the last piece (maybe empty) a line. */
    size_t n_lines = 1;
    for (size_t i = 0; i < len; i++) n_lines += text[i] == '\n';
    size_t *start = sp_xmalloc((n_lines + 1) * sizeof *start), k = 1;
    start[0] = 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n') start[k++] = i + 1;
    start[n_lines] = len + 1;
    bench_job jobs[64];
    for (int t = 0; t < nthreads; t++)
        jobs[t] = (bench_job){tok, text, start, n_lines * (size_t)t / (size_t)nthreads,
                              n_lines * (size_t)(t + 1) / (size_t)nthreads, 0, 0, 0};
    uint64_t tokens = 0;
    int failed = 0;
    bench_pass(jobs, (int)nthreads, &tokens, &failed); /* warm-up (fills the BPE cache) */
    double best = 1e30;
    for (int r = 0; r < reps && !failed; r++) {
        double dt = bench_pass(jobs, (int)nthreads, &tokens, &failed);
        if (dt < best) best = dt;
    }
    if (failed) return 1;
    printf("bench_tokenizer: %zu lines, %.2f MB, %llu tokens, checksum %016llx, %lld thread(s), "
           "load %.3f s\n", n_lines, (double)len / 1e6, (unsigned long long)tokens,
           (unsigned long long)jobs[0].checksum, (long long)nthreads, load_s);
    printf("ours: %.4f s  %.2f MB/s  %.0f tokens/s\n", best, (double)len / 1e6 / best,
           (double)tokens / best);
    free(start);
    free(text);
    sp_tokenizer_free(tok);
    return 0;
}
