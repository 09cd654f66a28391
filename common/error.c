/* error.c — error messages, fatal reporter, checked allocation. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef SP_HAVE_MPI
#include <mpi.h>
#endif

static int g_rank = -1;
static int g_mpi_up = 0;

int sp_error_set(sp_error *err, const char *fmt, ...)
{
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int sp_error_wrap(sp_error *err, const char *fmt, ...)
{
    if (!err) return -1;
    char prefix[SP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[SP_ERROR_MSG_MAX];
    memcpy(old, err->msg, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof err->msg - 3) n = sizeof err->msg - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t room = sizeof err->msg - n - 3, m = strlen(old);
    if (m > room) m = room;
    memcpy(err->msg + n + 2, old, m);
    err->msg[n + 2 + m] = '\0';
    return -1;
}

void sp_error_clear(sp_error *err)
{
    if (err) err->msg[0] = '\0';
}

void sp_error_set_rank(int rank, int mpi_is_up)
{
    g_rank = rank;
    g_mpi_up = mpi_is_up;
}

static _Thread_local const char *g_ctx_what;
static _Thread_local long long g_ctx_index;

void sp_fatal_context(const char *what, long long index)
{
    g_ctx_what = what;
    g_ctx_index = index;
}

SP_NORETURN void sp_fatal(const char *file, int line, const char *func, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (g_ctx_what && n >= 0 && (size_t)n < sizeof what)
        snprintf(what + n, sizeof what - (size_t)n, " (during %s %lld)", g_ctx_what, g_ctx_index);
    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    fprintf(stderr, "swarmprune: fatal: %s at %s:%d (%s) [rank %d host %s pid %ld]\n", what, file,
            line, func, g_rank, host, (long)getpid());
    fflush(stderr);
#ifdef SP_HAVE_MPI
    if (g_mpi_up) MPI_Abort(MPI_COMM_WORLD, 134);
#endif
    abort();
}

void *sp_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    SP_ASSERT_MSG(p, "out of memory allocating %zu bytes", n);
    return p;
}

void *sp_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    SP_ASSERT_MSG(p, "out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *sp_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    SP_ASSERT_MSG(q, "out of memory reallocating %zu bytes", n);
    return q;
}

char *sp_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = sp_xmalloc(n);
    memcpy(d, s, n);
    return d;
}
