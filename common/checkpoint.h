/* checkpoint.h — the search checkpoint (and results.h5): a versioned HDF5 schema holding the
 * job, the algorithm's state (an sp_state, one dataset per entry), the full evaluation history,
 * per-layer pruning frequencies and the best-so-far trajectory. Writes are atomic (temp file,
 * fsync, rename; the previous file is kept as X.h5.prev), reads verify per-dataset checksums,
 * the schema version, the job hash and the model fingerprint. The schema is in docs/CHECKPOINT.md.
 * Dimension letters: E evaluations, L layers, M metrics, I iterations, B best-trajectory rows. */
#ifndef SP_CHECKPOINT_H
#define SP_CHECKPOINT_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "mask.h"
#include "state.h"

#define SP_CKPT_SCHEMA_VERSION 1
#ifdef SP_VERSION
#define SP_CKPT_PROGRAM_VERSION SP_VERSION
#else
#define SP_CKPT_PROGRAM_VERSION "0.1.0"
#endif

typedef enum { SP_CKPT_RUNNING = 0, SP_CKPT_STOPPED = 1, SP_CKPT_DONE = 2 } sp_ckpt_status;

/* Every evaluation, in the order the coordinator recorded them (parallel arrays). */
typedef struct {
    size_t n, cap;        /* E */
    int n_layers;         /* L */
    int n_metrics;        /* M */
    char **metric_names;  /* [M] e.g. "nll", "hellaswag_acc" */
    sp_mask *mask;        /* [E] removed layers */
    int64_t *fidelity;    /* [E] fidelity level (e.g. number of eval sequences) */
    int64_t *iteration;   /* [E] search iteration that proposed it */
    double *fitness;      /* [E] */
    double *metrics;      /* [E x M] row-major */
    double *wall_time;    /* [E] seconds since the search started */
    int64_t *worker;      /* [E] worker group that evaluated it */
} sp_ckpt_history;

/* Per-layer pruning frequency (fraction of candidates removing layer l). */
typedef struct {
    size_t n_iter, cap;   /* I */
    int n_layers;         /* L */
    double *per_iter;     /* [I x L] one row per completed iteration */
    double *overall;      /* [L] over all evaluations (set by the caller) */
} sp_ckpt_freq;

/* Best-so-far trajectory: one row each time the best fitness improved. */
typedef struct {
    size_t n, cap;        /* B */
    int64_t *evaluation;  /* [B] number of evaluations done when it improved */
    double *fitness;      /* [B] */
    sp_mask *mask;        /* [B] */
} sp_ckpt_best;

typedef struct {
    int64_t schema_version;   /* set by read (write always writes SP_CKPT_SCHEMA_VERSION) */
    char *program_version;    /* set by read: the swarmprune version that wrote the file */
    char *job_name;
    char *job_text;           /* canonical job text */
    char job_hash[17];        /* 16 hex digits, FNV-1a 64 of job_text (sp_ckpt_set_job) */
    char *model_fingerprint;  /* computed by the caller (config + tensor table hash) */
    char *algorithm;          /* "pso", "woa", ... */
    sp_ckpt_status status;
    int64_t iteration;        /* completed iterations */
    int n_layers;             /* L */
    int minimize;             /* 1: lower fitness is better, 0: higher is better */
    int64_t created, updated; /* unix seconds, informational; write sets updated (and created
                                 when 0) in the file, not in the struct */
    sp_state state;           /* algorithm state: entry "pso/positions" -> /state/pso/positions */
    sp_ckpt_history history;
    sp_ckpt_freq freq;
    sp_ckpt_best best;
} sp_ckpt;

/* ---- building --------------------------------------------------------------------------- */

/* Empty checkpoint for a model of n_layers (1..SP_MAX_LAYERS) and M named metrics. */
void sp_ckpt_init(sp_ckpt *c, int n_layers, int n_metrics, const char *const *metric_names);
void sp_ckpt_free(sp_ckpt *c);
/* Copies the strings; set_job also computes job_hash from the text. */
void sp_ckpt_set_job(sp_ckpt *c, const char *name, const char *canonical_text);
void sp_ckpt_set_model(sp_ckpt *c, const char *fingerprint);
void sp_ckpt_set_algorithm(sp_ckpt *c, const char *algorithm);

void sp_ckpt_history_append(sp_ckpt_history *h, const sp_mask *mask, int64_t fidelity,
                            int64_t iteration, double fitness, const double *metrics /* [M] */,
                            double wall_time, int64_t worker);
void sp_ckpt_freq_append(sp_ckpt_freq *f, const double *row /* [L] */);
void sp_ckpt_best_append(sp_ckpt_best *b, int64_t evaluation, double fitness,
                         const sp_mask *mask);

const char *sp_ckpt_status_name(sp_ckpt_status s); /* "running", "stopped", "done" */
int sp_ckpt_status_parse(const char *s, sp_ckpt_status *out);

/* FNV-1a 64 (continue a running hash by passing the previous value as h; start with
 * SP_CKPT_FNV_OFFSET) and its 16-digit lowercase hex form. */
#define SP_CKPT_FNV_OFFSET 0xcbf29ce484222325ull
uint64_t sp_ckpt_fnv1a(uint64_t h, const void *data, size_t len);
void sp_ckpt_hex64(uint64_t h, char out[17]);
/* Hash of a canonical job text, as stored in job_hash. */
void sp_ckpt_job_hash(const char *canonical_text, char out[17]);

/* ---- files ------------------------------------------------------------------------------ */

/* Atomic write: path.tmp.<pid> in the same directory, H5Fclose, fsync, the old path kept as
 * path.prev (hard link, rename when links are unsupported), rename tmp over path, fsync the
 * directory. Either path or path.prev is a complete checkpoint at every instant. */
int sp_ckpt_write(const char *path, const sp_ckpt *c, sp_error *err);

/* For crash tests: performs the write up to (not including) step `stop` and returns as if the
 * process had died there (the temp file is left behind). */
typedef enum {
    SP_CKPT_STOP_NONE = 0,        /* full write */
    SP_CKPT_STOP_BEFORE_FSYNC,    /* temp file written and closed, not synced */
    SP_CKPT_STOP_BEFORE_PREV,     /* temp file synced, nothing renamed */
    SP_CKPT_STOP_BEFORE_RENAME    /* path.prev made, temp not yet renamed over path */
} sp_ckpt_stop;
int sp_ckpt_write_until(const char *path, const sp_ckpt *c, sp_ckpt_stop stop, sp_error *err);

/* Reads and verifies a checkpoint into *out (initialised here; sp_ckpt_free it, also after a
 * failure). expect_job_hash / expect_fingerprint: NULL skips that check. Refusals name the
 * file and field; when path.prev exists the message says it may be usable. */
int sp_ckpt_read(const char *path, const char *expect_job_hash, const char *expect_fingerprint,
                 sp_ckpt *out, sp_error *err);

/* The sp_state <-> /state adapter (used by write/read; exposed for results files). Each entry
 * becomes a dataset at group/<name> with a "checksum" attribute; *sum accumulates the entries'
 * checksums (root checksum), *count their number. read fills an initialised, empty state. */
int sp_ckpt_write_state(hid_t group, const char *group_path, const sp_state *s, uint64_t *sum,
                        int64_t *count, sp_error *err);
int sp_ckpt_read_state(hid_t group, const char *group_path, sp_state *s, uint64_t *sum,
                       int64_t *count, sp_error *err);

/* ---- lock file -------------------------------------------------------------------------- */

/* path.lock holds "pid hostname starttime slurmjob restart". A live holder (or one on another
 * host) refuses; a holder pid that is not alive on this host is stale: taken over with a warning
 * on stderr; so is a holder on another host that is an earlier run of our own Slurm job (same
 * SLURM_JOB_ID, lower SLURM_RESTART_COUNT: a requeue). */
typedef struct {
    char *lock_path;
    int held;
    int took_over_stale; /* 1 when a stale lock was replaced */
} sp_ckpt_lock;

int sp_ckpt_lock_acquire(const char *path, sp_ckpt_lock *lock, sp_error *err);
/* 0 when the lock file still names this process (or the lock is not held); else an error:
 * another run took it over, and this one must not write the checkpoint. */
int sp_ckpt_lock_check(const sp_ckpt_lock *lock, sp_error *err);
/* Removes the lock file if it is still ours; safe to call on an unheld lock. */
void sp_ckpt_lock_release(sp_ckpt_lock *lock);

#endif
