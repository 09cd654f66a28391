/* checkpoint_lock.c — X.h5.lock, our own guard against two writers of one checkpoint (HDF5's
 * file locking is off on some parallel filesystems). Created with O_CREAT|O_EXCL, it holds
 * "pid hostname starttime\n" (starttime: field 22 of /proc/<pid>/stat, so a recycled pid is not
 * mistaken for the holder), then "job restart": the Slurm job id and SLURM_RESTART_COUNT of the
 * holder ("-" and 0 outside Slurm). A holder whose process is not alive on this host is stale: we
 * take it over with a warning (and remove its leftover X.h5.tmp.<pid>). A holder on another host
 * cannot be checked and is refused, except an earlier run of our own Slurm job (same job id, lower
 * restart count): Slurm requeues a job only after ending the previous run, and that run may have
 * died with its node. As a guard against a holder that is still alive anyway (a partitioned node
 * whose processes run on), the holder checks that the lock still names it before every checkpoint
 * write (sp_ckpt_lock_check) and stops when it was taken over. Known limit: two processes taking
 * over the same stale lock at the same instant can both succeed (unlink + O_EXCL is not one
 * atomic step); that needs two restarts of one job on one host within microseconds. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"

typedef struct {
    long pid;
    char host[256];
    unsigned long long start; /* 0 when unknown */
    char job[64];             /* Slurm job id, "-" outside Slurm */
    long restart;             /* SLURM_RESTART_COUNT */
} holder;

/* Our Slurm job ("-" outside Slurm) and restart count. */
static void my_job(char *buf, size_t size, long *restart)
{
    const char *j = getenv("SLURM_JOB_ID"), *r = getenv("SLURM_RESTART_COUNT");
    snprintf(buf, size, "%s", j && *j && !strchr(j, ' ') ? j : "-");
    *restart = r ? atol(r) : 0;
}

static void my_host(char *buf, size_t size)
{
    if (gethostname(buf, size - 1) != 0) snprintf(buf, size, "unknown");
    buf[size - 1] = '\0';
}

/* Start time of a process in clock ticks since boot (0 when unavailable) and whether it is a
 * zombie (dead, not yet reaped). */
static unsigned long long proc_start_time(long pid, int *zombie)
{
    char path[64], buf[1024];
    if (zombie) *zombie = 0;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may contain spaces */
    unsigned long long v = 0;
    if (!p) return 0;
    p++;
    for (int field = 3; field <= 22 && *p; field++) { /* fields after ")" start at 3 */
        while (*p == ' ') p++;
        if (field == 3 && zombie) *zombie = *p == 'Z' || *p == 'X';
        if (field == 22) v = strtoull(p, NULL, 10);
        while (*p && *p != ' ') p++;
    }
    return v;
}

/* Creates the lock file exclusively; 1 = created, 0 = exists, -1 = other error. */
static int try_create(const char *lock_path, sp_error *err)
{
    int fd = open(lock_path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        if (errno == EEXIST) return 0;
        return sp_error_set(err, "%s: cannot create lock file: %s", lock_path, strerror(errno));
    }
    char host[256], job[64], line[400];
    long restart;
    my_host(host, sizeof host);
    my_job(job, sizeof job, &restart);
    int n = snprintf(line, sizeof line, "%ld %s %llu %s %ld\n", (long)getpid(), host,
                     proc_start_time((long)getpid(), NULL), job, restart);
    int ok = write(fd, line, (size_t)n) == n && fsync(fd) == 0;
    int e = errno;
    close(fd);
    if (!ok) {
        unlink(lock_path);
        return sp_error_set(err, "%s: cannot write lock file: %s", lock_path, strerror(e));
    }
    return 1;
}

/* Reads "pid host"; -1 when the file vanished or is unreadable/garbled (h->pid = 0). */
static int read_holder(const char *lock_path, holder *h)
{
    memset(h, 0, sizeof *h);
    FILE *f = fopen(lock_path, "r");
    if (!f) return -1;
    int n = fscanf(f, "%ld %255s %llu %63s %ld", &h->pid, h->host, &h->start, h->job, &h->restart);
    fclose(f);
    if (n < 3) h->start = 0;
    if (n < 5) snprintf(h->job, sizeof h->job, "-"), h->restart = 0;
    return n >= 2 && h->pid > 0 ? 0 : -1;
}

/* The holder runs when its pid is alive and (when both are known) started at the same time. */
static int holder_alive(const holder *h)
{
    if (!(kill((pid_t)h->pid, 0) == 0 || errno == EPERM)) return 0;
    int zombie = 0;
    unsigned long long now = proc_start_time(h->pid, &zombie);
    return !zombie && !(h->start && now && now != h->start);
}

/* Removes a stale holder's leftover temp file "<ckpt>.tmp.<pid>". */
static void remove_stale_tmp(const char *lock_path, long pid)
{
    char tmp[4200];
    size_t n = strlen(lock_path) - strlen(".lock");
    snprintf(tmp, sizeof tmp, "%.*s.tmp.%ld", (int)n, lock_path, pid);
    unlink(tmp);
}

/* The holder is an earlier run of the Slurm job we belong to (requeued since). */
static int earlier_run_of_our_job(const holder *h)
{
    char job[64];
    long restart;
    my_job(job, sizeof job, &restart);
    return strcmp(job, "-") != 0 && strcmp(h->job, job) == 0 && h->restart < restart;
}

int sp_ckpt_lock_check(const sp_ckpt_lock *lock, sp_error *err)
{
    if (!lock || !lock->held) return 0;
    holder h;
    char host[256];
    my_host(host, sizeof host);
    if (read_holder(lock->lock_path, &h) == 0 && h.pid == (long)getpid() && strcmp(h.host, host) == 0)
        return 0;
    if (h.pid > 0)
        return sp_error_set(err, "%s was taken over by pid %ld on host %s (Slurm job %s, restart "
                            "%ld): another run owns the checkpoint now; stopping without writing",
                            lock->lock_path, h.pid, h.host, h.job, h.restart);
    return sp_error_set(err, "%s: our lock file is gone or unreadable: stopping without writing "
                        "the checkpoint", lock->lock_path);
}

int sp_ckpt_lock_acquire(const char *path, sp_ckpt_lock *lock, sp_error *err)
{
    memset(lock, 0, sizeof *lock);
    sp_error_clear(err);
    size_t n = strlen(path) + 6;
    lock->lock_path = sp_xmalloc(n);
    snprintf(lock->lock_path, n, "%s.lock", path);
    char host[256];
    my_host(host, sizeof host);
    /* A live holder on this host gets a short grace: after a kill or a requeue the previous
     * run's processes can take a moment to die. SWARMPRUNE_LOCK_WAIT overrides (seconds). */
    const char *wv = getenv("SWARMPRUNE_LOCK_WAIT");
    double wait_s = wv ? atof(wv) : 15.0, waited = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        int rc = try_create(lock->lock_path, err);
        if (rc < 0) break;
        if (rc == 1) {
            lock->held = 1;
            return 0;
        }
        holder h;
        if (read_holder(lock->lock_path, &h) < 0) {
            if (access(lock->lock_path, F_OK) != 0) continue; /* released meanwhile: retry */
            sp_error_set(err, "%s: lock file exists but is unreadable or garbled; if no other "
                              "swarmprune is writing %s, delete it", lock->lock_path, path);
            break;
        }
        if (strcmp(h.host, host) == 0 && holder_alive(&h) && waited < wait_s) {
            struct timespec ts = {0, 200000000};
            nanosleep(&ts, NULL);
            waited += 0.2;
            attempt--; /* not an attempt: the holder may still go away */
            continue;
        }
        int requeued = strcmp(h.host, host) != 0 && earlier_run_of_our_job(&h);
        if (!requeued && (strcmp(h.host, host) != 0 || holder_alive(&h))) {
            sp_error_set(err, "%s is locked by pid %ld on host %s (lock file %s): another "
                              "swarmprune is writing it; if that process is gone, delete the "
                              "lock file", path, h.pid, h.host, lock->lock_path);
            break;
        }
        if (requeued)
            fprintf(stderr, "swarmprune: warning: taking over lock %s from pid %ld on %s: an "
                            "earlier run (restart %ld) of this Slurm job %s, which Slurm ended\n",
                    lock->lock_path, h.pid, h.host, h.restart, h.job);
        else
            fprintf(stderr, "swarmprune: warning: taking over stale lock %s (pid %ld on %s is "
                            "not running)\n", lock->lock_path, h.pid, h.host);
        if (unlink(lock->lock_path) < 0 && errno != ENOENT) {
            sp_error_set(err, "%s: cannot remove stale lock: %s", lock->lock_path, strerror(errno));
            break;
        }
        remove_stale_tmp(lock->lock_path, h.pid);
        lock->took_over_stale = 1;
    }
    if (!err || !err->msg[0]) sp_error_set(err, "%s: could not acquire the lock", lock->lock_path);
    free(lock->lock_path);
    lock->lock_path = NULL;
    return -1;
}

void sp_ckpt_lock_release(sp_ckpt_lock *lock)
{
    if (!lock || !lock->lock_path) return;
    if (lock->held) {
        holder h;
        char host[256];
        my_host(host, sizeof host);
        /* Only remove it if it is still ours (never someone else's after a takeover). */
        if (read_holder(lock->lock_path, &h) == 0 && h.pid == (long)getpid() &&
            strcmp(h.host, host) == 0)
            unlink(lock->lock_path);
    }
    free(lock->lock_path);
    memset(lock, 0, sizeof *lock);
}
