/* cmd_tokenize.c — swarmprune tokenize (being written). */
#include <stdio.h>

#include "commands.h"

int cmd_tokenize(int argc, char **argv)
{
    fprintf(stderr, "swarmprune tokenize: not implemented yet\n");
    return 1;
}
