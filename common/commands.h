/* commands.h — every subcommand's entry point (argv[0] is the subcommand name). */
#ifndef SP_COMMANDS_H
#define SP_COMMANDS_H

int cmd_analyze(int argc, char **argv);  /* common/cmd_analyze.c */
int cmd_tokenize(int argc, char **argv); /* common/cmd_tokenize.c */
int cmd_eval(int argc, char **argv);     /* worker/cmd_eval.c */
int cmd_search(int argc, char **argv);   /* coordinator/cmd_search.c */
int cmd_inspect(int argc, char **argv);  /* common/cmd_inspect.c */
int cmd_convert(int argc, char **argv);  /* common/cmd_convert.c */
int cmd_plan(int argc, char **argv);     /* coordinator/cmd_plan.c */
int cmd_report(int argc, char **argv);   /* coordinator/cmd_report.c */
int cmd_export(int argc, char **argv);   /* worker/cmd_export.c */
int cmd_heal(int argc, char **argv);     /* worker/cmd_heal.c */

#endif
