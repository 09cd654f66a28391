/* cmd_analyze.c — swarmprune analyze (being written). */
#include <stdio.h>

#include "commands.h"

int cmd_analyze(int argc, char **argv)
{
    fprintf(stderr, "swarmprune analyze: not implemented yet\n");
    return 1;
}
