/* cmd_eval.c — swarmprune eval (being written). */
#include <stdio.h>

#include "common/commands.h"

int cmd_eval(int argc, char **argv)
{
    fprintf(stderr, "swarmprune eval: not implemented yet\n");
    return 1;
}
