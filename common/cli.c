/* cli.c — option-parsing helpers shared by the subcommands. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int sp_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
    return 0;
}

int sp_cli_int(const char *opt, const char *val, int64_t lo, int64_t hi, int64_t *out,
               sp_error *err)
{
    errno = 0;
    char *end = NULL;
    long long v = strtoll(val, &end, 10);
    if (errno || end == val || *end != '\0')
        return sp_error_set(err, "%s: expected an integer, got \"%s\"", opt, val);
    if (v < lo || v > hi)
        return sp_error_set(err, "%s: expected an integer in [%lld, %lld], got %lld", opt,
                            (long long)lo, (long long)hi, v);
    *out = v;
    return 0;
}

int sp_cli_double(const char *opt, const char *val, double lo, double hi, double *out,
                  sp_error *err)
{
    errno = 0;
    char *end = NULL;
    double v = strtod(val, &end);
    if (errno || end == val || *end != '\0' || !isfinite(v))
        return sp_error_set(err, "%s: expected a number, got \"%s\"", opt, val);
    if (!(v >= lo && v <= hi))
        return sp_error_set(err, "%s: expected a number in [%g, %g], got %g", opt, lo, hi, v);
    *out = v;
    return 0;
}

int sp_cli_value(int argc, char **argv, int *i, const char **val, sp_error *err)
{
    if (*i + 1 >= argc) return sp_error_set(err, "%s: missing value", argv[*i]);
    *i += 1;
    *val = argv[*i];
    return 0;
}

int sp_cli_fail(const char *cmd, const sp_error *err)
{
    fprintf(stderr, "swarmprune %s: error: %s\n", cmd, err->msg);
    return SP_EXIT_FAILURE;
}

int sp_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "swarmprune %s: %s (see 'swarmprune %s --help')\n", cmd, msg, cmd);
    return SP_EXIT_USAGE;
}

double sp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
