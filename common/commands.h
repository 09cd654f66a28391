/* commands.h — every subcommand's entry point (argv[0] is the subcommand name). */
#ifndef SP_COMMANDS_H
#define SP_COMMANDS_H

int cmd_analyze(int argc, char **argv);  /* common/cmd_analyze.c */
int cmd_tokenize(int argc, char **argv); /* common/cmd_tokenize.c */
int cmd_eval(int argc, char **argv);     /* worker/cmd_eval.c */

#endif
