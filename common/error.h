/* error.h — the two error tiers of swarmprune.
 * Tier 1, bad input: functions return int (0 ok, -1 failure) and fill an sp_error with a
 * message naming the file, JSON path, tensor or byte offset. The message travels up to main,
 * which prints it and exits non-zero.
 * Tier 2, broken invariants: SP_ASSERT is always on (unlike assert()), prints the condition,
 * file:line, rank/host/pid, then aborts (MPI_Abort when MPI is up). */
#ifndef SP_ERROR_H
#define SP_ERROR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus /* included by the CUDA sources */
#define SP_NORETURN [[noreturn]]
extern "C" {
#else
#define SP_NORETURN _Noreturn
#endif

#define SP_ERROR_MSG_MAX 2048

typedef struct {
    char msg[SP_ERROR_MSG_MAX]; /* empty string when no error was set */
} sp_error;

/* Sets err->msg (printf style) and returns -1 so callers can `return sp_error_set(...)`.
 * err may be NULL (the message is then dropped). */
int sp_error_set(sp_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to an existing message (adds context on the way up). Returns -1. */
int sp_error_wrap(sp_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void sp_error_clear(sp_error *err);

/* Identity printed by fatal reporters: set once MPI is initialised (rank -1 otherwise). */
void sp_error_set_rank(int rank, int mpi_is_up);

/* Context for fatal reports of the calling thread: while set, sp_fatal adds "(during <what>
 * <index>)", e.g. ("layer", 12) so a failed CUDA call names the layer it ran for. what must
 * outlive the setting (a string literal); NULL clears. Cheap: two stores. */
void sp_fatal_context(const char *what, long long index);

/* Prints "swarmprune: fatal: <what> at file:line (func) [rank r host h pid p]" to stderr and
 * aborts the job. Used by SP_ASSERT and the check-macro family. */
SP_NORETURN void sp_fatal(const char *file, int line, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define SP_ASSERT(cond)                                                                  \
    do {                                                                                 \
        if (!(cond)) sp_fatal(__FILE__, __LINE__, __func__, "assertion failed: %s", #cond); \
    } while (0)

#define SP_ASSERT_MSG(cond, ...)                                                         \
    do {                                                                                 \
        if (!(cond)) sp_fatal(__FILE__, __LINE__, __func__, __VA_ARGS__);               \
    } while (0)

/* Checked size arithmetic: return 0 on success, -1 on overflow. */
static inline int sp_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return -1;
    *out = a * b;
    return 0;
}
static inline int sp_add_size(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a) return -1;
    *out = a + b;
    return 0;
}

/* malloc/calloc that abort on out-of-memory with the requested size (tier 2: we cannot go on). */
void *sp_xmalloc(size_t n);
void *sp_xcalloc(size_t count, size_t size);
void *sp_xrealloc(void *p, size_t n);
char *sp_xstrdup(const char *s);

#ifdef __cplusplus
}
#endif

#endif
