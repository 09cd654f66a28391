/* test_checkpoint.c — the HDF5 checkpoint: round trip of every part, h5dump readability,
 * refusal of truncated / bit-flipped / newer-schema / other-job / other-model files, atomic
 * write keeping .prev, lock file (held, stale, other host), simulated crashes at each step of
 * the write, SIGKILL of a writer at random moments (10 trials), and `inspect` output. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/checkpoint.h"
#include "common/h5io.h"
#include "common/h5seal.h"
#include "common/rng.h"
#include "test_util.h"

int cmd_inspect(int argc, char **argv); /* common/cmd_inspect.c */

#define L 24
#define NP 8 /* particles in the fake PSO state */

static char g_dir[256];

static const char *tpath(const char *name)
{
    static char buf[64][512];
    static int k = 0;
    k = (k + 1) % 64;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

/* A checkpoint whose every value depends on `seed`; E evaluations. */
static void make_ckpt(sp_ckpt *c, uint64_t seed, size_t E)
{
    const char *names[2] = {"nll", "hellaswag_acc"};
    sp_ckpt_init(c, L, 2, names);
    sp_ckpt_set_job(c, "tiny-pso", "{\"model\": \"tiny\", \"search\": \"pso\", \"note\": \"é ✓\"}");
    sp_ckpt_set_model(c, "fp:0123abcd");
    sp_ckpt_set_algorithm(c, "pso");
    c->iteration = (int64_t)seed;
    c->status = SP_CKPT_RUNNING;
    sp_error err = {{0}};
    double pos[NP * L], vel[NP * L];
    for (int i = 0; i < NP * L; i++) {
        pos[i] = sp_rng_uniform(seed, 1, (uint64_t)i, 0);
        vel[i] = sp_rng_uniform(seed, 2, (uint64_t)i, 0) - 0.5;
    }
    int64_t rng_state[3] = {(int64_t)seed, 7, -5};
    uint8_t flags[5] = {1, 0, 255, 3, 9};
    size_t scalar_dims[2] = {1, 1}, empty_dims[2] = {0, 1};
    int64_t iters = (int64_t)seed;
    SP_ASSERT(sp_state_put_f64(&c->state, "pso/positions", NP, L, pos, &err) == 0);
    SP_ASSERT(sp_state_put_f64(&c->state, "pso/velocities", NP, L, vel, &err) == 0);
    SP_ASSERT(sp_state_put_i64(&c->state, "rng/state", 3, 0, rng_state, &err) == 0);
    SP_ASSERT(sp_state_put_u8(&c->state, "flags", 5, 0, flags, &err) == 0);
    SP_ASSERT(sp_state_put(&c->state, "iters", SP_STATE_I64, 0, scalar_dims, &iters, &err) == 0);
    SP_ASSERT(sp_state_put(&c->state, "pso/empty", SP_STATE_F64, 1, empty_dims, NULL, &err) == 0);
    double best = 1e9;
    for (size_t e = 0; e < E; e++) {
        sp_mask m;
        sp_mask_clear(&m);
        for (int l = 1; l < L; l++)
            if (sp_rng_uniform(seed, 3, e, (uint64_t)l) < 0.25) sp_mask_set(&m, l);
        double fit = 3.0 + sp_rng_uniform(seed, 4, e, 0) + 0.05 * sp_mask_count(&m);
        double metrics[2] = {fit, 0.25 + 0.01 * (double)e};
        sp_ckpt_history_append(&c->history, &m, 32 + (int64_t)(e % 3), (int64_t)(e / 10), fit,
                               metrics, 0.5 * (double)e, (int64_t)(e % 4));
        if (fit < best) {
            best = fit;
            sp_ckpt_best_append(&c->best, (int64_t)e + 1, fit, &m);
        }
    }
    for (int it = 0; it < 5; it++) {
        double row[L];
        for (int l = 0; l < L; l++) row[l] = sp_rng_uniform(seed, 5, (uint64_t)it, (uint64_t)l);
        sp_ckpt_freq_append(&c->freq, row);
    }
    for (int l = 0; l < L; l++) c->freq.overall[l] = (double)l / L;
}

static int same_masks(const sp_mask *a, const sp_mask *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!sp_mask_equal(&a[i], &b[i])) return 0;
    return 1;
}

static void compare(const sp_ckpt *a, const sp_ckpt *b)
{
    CHECK(b->schema_version == SP_CKPT_SCHEMA_VERSION, "schema %lld", (long long)b->schema_version);
    CHECK(strcmp(a->job_name, b->job_name) == 0 && strcmp(a->job_text, b->job_text) == 0, "job");
    CHECK(strcmp(a->job_hash, b->job_hash) == 0, "job hash %s %s", a->job_hash, b->job_hash);
    CHECK(strcmp(a->model_fingerprint, b->model_fingerprint) == 0, "fingerprint");
    CHECK(strcmp(a->algorithm, b->algorithm) == 0 && a->status == b->status, "alg/status");
    CHECK(a->iteration == b->iteration && a->n_layers == b->n_layers, "iteration/L");
    CHECK(a->minimize == b->minimize && b->updated > 0 && b->created > 0, "goal/times");
    CHECK(b->state.n == a->state.n, "state entries %zu vs %zu", b->state.n, a->state.n);
    for (size_t i = 0; i < a->state.n; i++) {
        const sp_state_entry *x = &a->state.entries[i], *y = sp_state_find(&b->state, x->name);
        CHECK(y != NULL, "state entry %s missing", x->name);
        if (!y) continue;
        CHECK(y->type == x->type && y->ndim == x->ndim && y->count == x->count &&
                  y->dims[0] == x->dims[0] && y->dims[1] == x->dims[1],
              "state entry %s shape", x->name);
        if (y->count == x->count && x->count)
            CHECK(memcmp(x->data, y->data, x->count * sp_state_type_size(x->type)) == 0,
                  "state entry %s data", x->name);
    }
    const sp_ckpt_history *h = &a->history, *g = &b->history;
    CHECK(g->n == h->n && g->n_metrics == h->n_metrics, "history size %zu", g->n);
    if (g->n == h->n && g->n_metrics == h->n_metrics) {
        size_t n = h->n;
        CHECK(same_masks(h->mask, g->mask, n), "history masks");
        CHECK(memcmp(h->fidelity, g->fidelity, n * 8) == 0 &&
                  memcmp(h->iteration, g->iteration, n * 8) == 0 &&
                  memcmp(h->fitness, g->fitness, n * 8) == 0 &&
                  memcmp(h->wall_time, g->wall_time, n * 8) == 0 &&
                  memcmp(h->worker, g->worker, n * 8) == 0 &&
                  memcmp(h->metrics, g->metrics, n * 8 * (size_t)h->n_metrics) == 0,
              "history columns");
        for (int j = 0; j < h->n_metrics; j++)
            CHECK(strcmp(h->metric_names[j], g->metric_names[j]) == 0, "metric name %d", j);
    }
    CHECK(b->freq.n_iter == a->freq.n_iter &&
              memcmp(a->freq.per_iter, b->freq.per_iter, a->freq.n_iter * L * 8) == 0 &&
              memcmp(a->freq.overall, b->freq.overall, L * 8) == 0,
          "frequencies");
    CHECK(b->best.n == a->best.n && a->best.n > 0, "best rows %zu", b->best.n);
    if (b->best.n == a->best.n)
        CHECK(memcmp(a->best.evaluation, b->best.evaluation, a->best.n * 8) == 0 &&
                  memcmp(a->best.fitness, b->best.fitness, a->best.n * 8) == 0 &&
                  same_masks(a->best.mask, b->best.mask, a->best.n),
              "best trajectory");
}

static int copy_file(const char *from, const char *to)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    return system(cmd);
}

/* Reads path and expects a refusal whose message contains both needles. */
static void expect_refused(const char *path, const char *jh, const char *fp, const char *needle1,
                           const char *needle2)
{
    sp_ckpt r;
    sp_error err = {{0}};
    int rc = sp_ckpt_read(path, jh, fp, &r, &err);
    CHECK(rc != 0, "%s: accepted, expected a refusal mentioning \"%s\"", path, needle1);
    CHECK(rc == 0 || (strstr(err.msg, needle1) && strstr(err.msg, needle2) &&
                      strstr(err.msg, path)),
          "message lacks \"%s\"/\"%s\"/path: %s", needle1, needle2, err.msg);
    sp_ckpt_free(&r);
}

static void test_round_trip(void)
{
    sp_ckpt c, r;
    sp_error err = {{0}};
    make_ckpt(&c, 3, 50);
    const char *p = tpath("rt.h5");
    CHECK(sp_ckpt_write(p, &c, &err) == 0, "write: %s", err.msg);
    CHECK(sp_ckpt_read(p, c.job_hash, c.model_fingerprint, &r, &err) == 0, "read: %s", err.msg);
    compare(&c, &r);
    sp_ckpt_free(&r);
    if (system("command -v h5dump > /dev/null 2>&1") == 0) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "h5dump -H '%s' > /dev/null 2>&1", p);
        CHECK(system(cmd) == 0, "h5dump -H %s failed", p);
        snprintf(cmd, sizeof cmd, "h5dump -a /job_hash '%s' | grep -q '%s'", p, c.job_hash);
        CHECK(system(cmd) == 0, "h5dump does not show job_hash %s", c.job_hash);
    }
    /* An empty checkpoint (no evaluations yet) round-trips too. */
    sp_ckpt e;
    sp_ckpt_init(&e, 5, 0, NULL);
    sp_ckpt_set_job(&e, "empty", "");
    sp_ckpt_set_model(&e, "");
    sp_ckpt_set_algorithm(&e, "woa");
    e.minimize = 0;
    e.status = SP_CKPT_DONE;
    CHECK(sp_ckpt_write(tpath("empty.h5"), &e, &err) == 0, "write empty: %s", err.msg);
    CHECK(sp_ckpt_read(tpath("empty.h5"), NULL, NULL, &r, &err) == 0, "read empty: %s", err.msg);
    CHECK(r.n_layers == 5 && r.history.n == 0 && r.best.n == 0 && r.minimize == 0 &&
              r.status == SP_CKPT_DONE && r.state.n == 0,
          "empty fields");
    sp_ckpt_free(&r);
    sp_ckpt_free(&e);
    sp_ckpt_free(&c);
}

static void test_refusals(void)
{
    sp_ckpt c;
    sp_error err = {{0}};
    make_ckpt(&c, 4, 40);
    const char *p = tpath("bad.h5");
    CHECK(sp_ckpt_write(p, &c, &err) == 0, "write: %s", err.msg);
    struct stat sb;
    CHECK(stat(p, &sb) == 0, "stat");
    /* Truncated. */
    const char *t = tpath("trunc.h5");
    CHECK(copy_file(p, t) == 0 && truncate(t, sb.st_size / 2) == 0, "truncate");
    expect_refused(t, NULL, NULL, "whole-file checksum mismatch", "truncated");
    /* A flipped bit in raw data: refused by the whole-file seal, and behind it (resealed, as if
     * the damage had happened before the seal was computed) by the dataset checksum. */
    const char *dsets[3] = {"/history/fitness", "/state/pso/positions", "/best/mask"};
    for (int i = 0; i < 3; i++) {
        const char *f = tpath("flip.h5");
        uint64_t off = 0;
        CHECK(copy_file(p, f) == 0, "copy");
        CHECK(sp_h5_data_offset(f, dsets[i], &off, &err) == 0, "offset: %s", err.msg);
        int fd = open(f, O_RDWR);
        unsigned char byte = 0;
        off_t at = (off_t)off + 5;
        CHECK(fd >= 0 && pread(fd, &byte, 1, at) == 1, "pread");
        byte ^= 0x10;
        CHECK(pwrite(fd, &byte, 1, at) == 1, "pwrite");
        close(fd);
        expect_refused(f, NULL, NULL, "whole-file checksum mismatch", "damaged");
        CHECK(sp_h5seal_reseal(f, &err) == 0, "reseal: %s", err.msg);
        expect_refused(f, NULL, NULL, "checksum mismatch", dsets[i]);
    }
    /* Newer schema. */
    const char *n = tpath("newer.h5");
    CHECK(copy_file(p, n) == 0, "copy");
    hid_t fid = H5Fopen(n, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(fid >= 0 && sp_h5_attr_write_i64(fid, ".", "schema_version", 99, &err) == 0, "%s",
          err.msg);
    if (fid >= 0) H5Fclose(fid);
    expect_refused(n, NULL, NULL, "whole-file checksum mismatch", "damaged");
    CHECK(sp_h5seal_reseal(n, &err) == 0, "reseal: %s", err.msg);
    expect_refused(n, NULL, NULL, "written by a newer swarmprune", "schema_version 99");
    /* Another job / another model. */
    expect_refused(p, "0123456789abcdef", NULL, "job_hash", "different job");
    expect_refused(p, c.job_hash, "fp:other", "model_fingerprint", "different model");
    /* A changed root attribute is caught by the root checksum. */
    fid = H5Fopen(n, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(fid >= 0 && sp_h5_attr_write_i64(fid, ".", "schema_version", 1, &err) == 0 &&
              sp_h5_attr_write_i64(fid, ".", "iteration", 12345, &err) == 0,
          "%s", err.msg);
    if (fid >= 0) H5Fclose(fid);
    CHECK(sp_h5seal_reseal(n, &err) == 0, "reseal: %s", err.msg);
    expect_refused(n, NULL, NULL, "root checksum mismatch", "damaged");
    expect_refused(tpath("missing.h5"), NULL, NULL, "cannot open", "No such file");
    sp_ckpt_free(&c);
}

/* Flips one byte at ~500 offsets spread over the whole file (user block, superblock, object
 * headers, root attributes, raw data): every read must refuse cleanly, naming the seal, and
 * offer the .prev. Before the seal, a few percent of such flips crashed inside libhdf5. */
static void test_flip_everywhere(void)
{
    sp_ckpt c, r;
    sp_error err = {{0}};
    make_ckpt(&c, 6, 50);
    const char *p = tpath("fl.h5"), *prev = tpath("fl.h5.prev");
    CHECK(sp_ckpt_write(p, &c, &err) == 0 && sp_ckpt_write(p, &c, &err) == 0, "write: %s",
          err.msg);
    struct stat sb;
    CHECK(stat(p, &sb) == 0 && access(prev, R_OK) == 0, "stat / .prev");
    size_t size = (size_t)sb.st_size, step = size / 500 ? size / 500 : 1, refused = 0, n = 0;
    unsigned char *orig = malloc(size);
    int fd = open(p, O_RDWR);
    CHECK(fd >= 0 && pread(fd, orig, size, 0) == (ssize_t)size, "read %s", p);
    for (size_t off = 0; fd >= 0 && off < size; off += step + (off % 7), n++) {
        unsigned char b = orig[off] ^ (unsigned char)(1u << (off % 8));
        CHECK(pwrite(fd, &b, 1, (off_t)off) == 1, "pwrite");
        int rc = sp_ckpt_read(p, NULL, NULL, &r, &err);
        sp_ckpt_free(&r);
        int clear = rc != 0 && (strstr(err.msg, "whole-file checksum mismatch") ||
                                strstr(err.msg, "not a sealed swarmprune HDF5 file")) &&
                    strstr(err.msg, "fl.h5.prev may be usable");
        CHECK(clear, "flip at byte %zu: %s", off, rc ? err.msg : "accepted");
        refused += clear;
        CHECK(pwrite(fd, orig + off, 1, (off_t)off) == 1, "restore");
    }
    if (fd >= 0) close(fd);
    CHECK(refused == n && n > 400, "%zu of %zu flips refused cleanly", refused, n);
    CHECK(sp_ckpt_read(p, NULL, NULL, &r, &err) == 0, "restored file: %s", err.msg);
    sp_ckpt_free(&r);
    /* A FIFO where a checkpoint is expected is refused at once (it used to block forever). */
    const char *fifo = tpath("fifo.h5");
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
    expect_refused(fifo, NULL, NULL, "not a regular file", "fifo.h5");
    free(orig);
    sp_ckpt_free(&c);
}

static void test_prev_and_crash(void)
{
    sp_ckpt a, b, r;
    sp_error err = {{0}};
    make_ckpt(&a, 10, 20);
    make_ckpt(&b, 11, 30);
    const char *p = tpath("atomic.h5"), *prev = tpath("atomic.h5.prev");
    CHECK(sp_ckpt_write(p, &a, &err) == 0, "write a: %s", err.msg);
    CHECK(access(prev, F_OK) != 0, "no .prev after the first write");
    CHECK(sp_ckpt_write(p, &b, &err) == 0, "write b: %s", err.msg);
    CHECK(sp_ckpt_read(p, NULL, NULL, &r, &err) == 0 && r.iteration == 11, "main is b: %s", err.msg);
    sp_ckpt_free(&r);
    CHECK(sp_ckpt_read(prev, NULL, NULL, &r, &err) == 0 && r.iteration == 10, "prev is a: %s",
          err.msg);
    sp_ckpt_free(&r);
    /* Crash at every step of a third write: the last complete checkpoint (b) still opens. */
    for (int stop = SP_CKPT_STOP_BEFORE_FSYNC; stop <= SP_CKPT_STOP_BEFORE_RENAME; stop++) {
        CHECK(sp_ckpt_write_until(p, &a, (sp_ckpt_stop)stop, &err) == 0, "partial: %s", err.msg);
        CHECK(sp_ckpt_read(p, NULL, NULL, &r, &err) == 0 && r.iteration == 11,
              "after crash at step %d: %s", stop, err.msg);
        sp_ckpt_free(&r);
    }
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", p, (long)getpid());
    CHECK(access(tmp, F_OK) == 0, "the crashed write left its temp file");
    /* A damaged main checkpoint points to .prev. */
    CHECK(truncate(p, 100) == 0, "truncate");
    expect_refused(p, NULL, NULL, "atomic.h5.prev may be usable", "copy it over");
    sp_ckpt_free(&a);
    sp_ckpt_free(&b);
}

static void test_lock(void)
{
    setenv("SWARMPRUNE_LOCK_WAIT", "0.4", 1); /* a live holder is waited for this long */
    sp_ckpt_lock a, b;
    sp_error err = {{0}};
    const char *p = tpath("locked.h5"), *lp = tpath("locked.h5.lock");
    CHECK(sp_ckpt_lock_acquire(p, &a, &err) == 0 && a.held, "first lock: %s", err.msg);
    char want[64];
    snprintf(want, sizeof want, "locked by pid %ld", (long)getpid());
    CHECK(sp_ckpt_lock_acquire(p, &b, &err) != 0 && strstr(err.msg, want), "second: %s", err.msg);
    sp_ckpt_lock_release(&a);
    CHECK(access(lp, F_OK) != 0, "released");
    /* Stale: a pid that has exited, on this host. */
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    FILE *f = fopen(lp, "w");
    fprintf(f, "%ld %s\n", (long)child, host);
    fclose(f);
    CHECK(sp_ckpt_lock_acquire(p, &a, &err) == 0 && a.took_over_stale, "stale: %s", err.msg);
    sp_ckpt_lock_release(&a);
    /* Held on another host: cannot be checked, refused. */
    f = fopen(lp, "w");
    fprintf(f, "%ld other-host.example\n", (long)child);
    fclose(f);
    CHECK(sp_ckpt_lock_acquire(p, &a, &err) != 0 && strstr(err.msg, "other-host.example"),
          "other host: %s", err.msg);
    /* Another host, but an earlier run of our Slurm job: taken over only after a requeue. */
    f = fopen(lp, "w");
    fprintf(f, "%ld other-host.example 0 4242 0\n", (long)child);
    fclose(f);
    setenv("SLURM_JOB_ID", "4243", 1);
    setenv("SLURM_RESTART_COUNT", "1", 1);
    CHECK(sp_ckpt_lock_acquire(p, &a, &err) != 0, "another job's lock was taken over");
    setenv("SLURM_JOB_ID", "4242", 1);
    setenv("SLURM_RESTART_COUNT", "0", 1);
    CHECK(sp_ckpt_lock_acquire(p, &a, &err) != 0, "the same restart's lock was taken over");
    setenv("SLURM_RESTART_COUNT", "1", 1);
    CHECK(sp_ckpt_lock_acquire(p, &a, &err) == 0 && a.took_over_stale, "requeued: %s", err.msg);
    CHECK(sp_ckpt_lock_check(&a, &err) == 0, "check of our own lock: %s", err.msg);
    /* The holder notices a takeover before writing. */
    f = fopen(lp, "w");
    fprintf(f, "%ld other-host.example 0 4242 2\n", (long)child);
    fclose(f);
    CHECK(sp_ckpt_lock_check(&a, &err) != 0 && strstr(err.msg, "taken over by pid"),
          "takeover not noticed: %s", err.msg);
    sp_ckpt_lock_release(&a);
    CHECK(access(lp, F_OK) == 0, "release removed another run's lock");
    unsetenv("SLURM_JOB_ID");
    unsetenv("SLURM_RESTART_COUNT");
    unlink(lp);
}

/* A child writes checkpoints in a loop; we SIGKILL it after a random few ms. */
static void test_sigkill(void)
{
    const char *p = tpath("killed.h5");
    sp_rng rng = sp_rng_make(20240611, 1);
    int valid = 0;
    for (int trial = 0; trial < 10; trial++) {
        int pipefd[2];
        SP_ASSERT(pipe(pipefd) == 0);
        pid_t pid = fork();
        SP_ASSERT(pid >= 0);
        if (pid == 0) {
            close(pipefd[0]);
            sp_ckpt c;
            sp_error err = {{0}};
            for (uint64_t i = 0;; i++) {
                make_ckpt(&c, (uint64_t)trial * 1000 + i, 400);
                if (sp_ckpt_write(p, &c, &err) != 0) _exit(3);
                sp_ckpt_free(&c);
                if (i == 0 && write(pipefd[1], "x", 1) != 1) _exit(4);
            }
        }
        close(pipefd[1]);
        char x;
        CHECK(read(pipefd[0], &x, 1) == 1, "trial %d: child wrote nothing", trial);
        close(pipefd[0]);
        struct timespec ts = {0, (long)(1 + sp_rng_next_below(&rng, 30)) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int st = 0;
        waitpid(pid, &st, 0);
        CHECK(WIFSIGNALED(st), "trial %d: child exited by itself (status %d)", trial, st);
        sp_ckpt r;
        sp_error err = {{0}};
        int ok = sp_ckpt_read(p, NULL, NULL, &r, &err) == 0;
        if (getenv("SP_TEST_VERBOSE"))
            fprintf(stderr, "trial %d: main %s, %lld writes done\n", trial, ok ? "valid" : "refused",
                    ok ? (long long)(r.iteration - trial * 1000) : -1LL);
        sp_ckpt_free(&r);
        if (!ok) {
            char prev[600];
            snprintf(prev, sizeof prev, "%s.prev", p);
            ok = sp_ckpt_read(prev, NULL, NULL, &r, &err) == 0;
            sp_ckpt_free(&r);
        }
        CHECK(ok, "trial %d: neither %s nor .prev is readable: %s", trial, p, err.msg);
        valid += ok;
    }
    CHECK(valid == 10, "%d of 10 trials left a valid checkpoint", valid);
}

/* Runs cmd_inspect with stdout captured in a file; returns its exit status. */
static int run_inspect(char **argv, int argc, const char *out)
{
    fflush(stdout);
    int saved = dup(1), fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    close(fd);
    int rc = cmd_inspect(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    return rc;
}

static void test_inspect(void)
{
    sp_ckpt c;
    sp_error err = {{0}};
    make_ckpt(&c, 5, 60);
    const char *p = tpath("insp.h5"), *out = tpath("insp.txt");
    CHECK(sp_ckpt_write(p, &c, &err) == 0, "write: %s", err.msg);
    char *argv1[] = {"inspect", (char *)p, NULL};
    CHECK(run_inspect(argv1, 2, out) == 0, "inspect failed");
    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(out, "r");
    if (f) {
        text = calloc(1, 1 << 16);
        len = fread(text, 1, (1 << 16) - 1, f);
        fclose(f);
    }
    char best[64];
    snprintf(best, sizeof best, "%.6g", c.best.fitness[c.best.n - 1]);
    CHECK(text && len > 0 && strstr(text, "status        running") && strstr(text, c.job_hash) &&
              strstr(text, "evaluations   60") && strstr(text, best) &&
              strstr(text, "layer  23 |") && strstr(text, "best per k"),
          "inspect text:\n%s", text ? text : "");
    char *argv2[] = {"inspect", "--json", (char *)p, NULL};
    CHECK(run_inspect(argv2, 3, out) == 0, "inspect --json failed");
    free(text);
    text = NULL;
    f = fopen(out, "r");
    if (f) {
        text = calloc(1, 1 << 16);
        len = fread(text, 1, (1 << 16) - 1, f);
        fclose(f);
    }
    CHECK(text && strstr(text, "\"evaluations\":\t60") && strstr(text, "\"best_per_k\""),
          "inspect json:\n%s", text ? text : "");
    free(text);
    sp_ckpt_free(&c);
}

/* Found by fuzz_checkpoint (ASan): a seal block with the magic but no NUL byte made the
 * mismatch message strlen past the end of the file. Exactly sized heap buffer, no NUL at all. */
static void test_seal_without_nul(void)
{
    const char magic[] = "swarmprune-h5-seal 1\nsize 1024\n";
    size_t len = SP_H5SEAL_BLOCK + 73;
    unsigned char *buf = malloc(len);
    memset(buf, 'x', len);
    memcpy(buf, magic, sizeof magic - 1);
    sp_error err = {{0}};
    CHECK(sp_h5seal_verify(buf, len, &err) != 0 &&
              strstr(err.msg, "whole-file checksum mismatch (file of 585 bytes, seal says "
                              "\"size 1024 xxxxxxxx"),
          "NUL-free seal block: %s", err.msg);
    free(buf);
}

/* The in-memory image's growth step follows the size hint, and files far larger than their
 * first step (the hint underestimating) still round-trip. */
static void test_image_growth(void)
{
    const size_t step = (size_t)64 << 10;
    size_t hints[] = {0, 1, 1000, step, 3 * step + 7, (size_t)5 << 20, (size_t)1 << 40, SIZE_MAX};
    for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++) {
        size_t inc = sp_h5seal_increment(hints[i]);
        CHECK(inc % step == 0 && inc >= step && inc <= (size_t)64 << 20,
              "increment %zu for hint %zu", inc, hints[i]);
        CHECK(hints[i] > ((size_t)56 << 20) || inc >= hints[i] + SP_H5SEAL_BLOCK,
              "increment %zu under hint %zu", inc, hints[i]);
    }
    sp_ckpt c, r;
    sp_error err = {{0}};
    make_ckpt(&c, 2, 30000); /* ~3 MiB of history */
    /* A hint of 0 (the smallest step) for a 3 MiB dataset: the image grows ~50 times. */
    enum { N = 3 << 17 };
    double *x = malloc(N * sizeof *x), *y = NULL;
    for (size_t i = 0; i < N; i++) x[i] = (double)i * 0.5 - 7.0;
    uint64_t dims[2] = {N, 1}, got[2] = {0, 0};
    int rank = 0;
    const char *g = tpath("grown.h5");
    hid_t f = sp_h5seal_create(g, 0, &err);
    CHECK(f >= 0 && sp_h5_write_array(f, "x", SP_H5_F64, 1, dims, x, &err) == 0 &&
              sp_h5seal_save(f, g, &err) == 0,
          "grown image: %s", err.msg);
    f = sp_h5seal_open(g, &err);
    CHECK(f >= 0 && sp_h5_read_array(f, "x", SP_H5_F64, 1, &rank, got, (void **)&y, &err) == 0,
          "read grown image: %s", err.msg);
    CHECK(y && got[0] == N && memcmp(x, y, N * sizeof *x) == 0, "grown image differs");
    if (f >= 0) H5Fclose(f);
    free(x);
    free(y);
    const char *p = tpath("big.h5");
    CHECK(sp_ckpt_write(p, &c, &err) == 0, "write: %s", err.msg);
    CHECK(sp_ckpt_read(p, c.job_hash, c.model_fingerprint, &r, &err) == 0, "read: %s", err.msg);
    compare(&c, &r);
    sp_ckpt_free(&r);
    sp_ckpt_free(&c);
}

int main(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* as swarmprune's main does */
    snprintf(g_dir, sizeof g_dir, "/tmp/sp_test_ckpt_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_refusals();
    test_flip_everywhere();
    test_prev_and_crash();
    test_lock();
    test_sigkill();
    test_inspect();
    test_seal_without_nul();
    test_image_growth();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (sp_test_failures == 0 && !getenv("SP_TEST_KEEP") && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return sp_test_finish("test_checkpoint");
}
