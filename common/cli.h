/* cli.h — the subcommand table and small option-parsing helpers shared by every subcommand.
 * Each subcommand is `int cmd_NAME(int argc, char **argv)` (argv[0] is the subcommand name),
 * prints its own --help, and returns the process exit status. */
#ifndef SP_CLI_H
#define SP_CLI_H

#include <stdint.h>

#include "error.h"

/* Exit statuses shared by every subcommand (documented in the README). */
enum {
    SP_EXIT_OK = 0,
    SP_EXIT_FAILURE = 1,   /* bad input or a failed operation, with a message on stderr */
    SP_EXIT_USAGE = 2,     /* bad command line */
    SP_EXIT_RESUMABLE = 75 /* stopped on a signal after writing a checkpoint (EX_TEMPFAIL) */
};

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} sp_command;

/* The table lives in coordinator/main.c. */
extern const sp_command sp_commands[];

/* Returns 1 when argv holds -h or --help. */
int sp_cli_wants_help(int argc, char **argv);

/* Option values: "--ctx" "512" -> parse with a range; message names the option. */
int sp_cli_int(const char *opt, const char *val, int64_t lo, int64_t hi, int64_t *out,
               sp_error *err);
int sp_cli_double(const char *opt, const char *val, double lo, double hi, double *out,
                  sp_error *err);

/* Takes the value of option argv[*i] (advancing *i); error when missing. */
int sp_cli_value(int argc, char **argv, int *i, const char **val, sp_error *err);

/* Prints "swarmprune NAME: message" to stderr and returns SP_EXIT_FAILURE / SP_EXIT_USAGE. */
int sp_cli_fail(const char *cmd, const sp_error *err);
int sp_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Monotonic wall clock in seconds. */
double sp_now(void);

#endif
