/* version.h — what `swarmprune --version` prints (common/version.c). */
#ifndef SP_VERSION_H
#define SP_VERSION_H

#include <stdio.h>

void sp_print_version(FILE *f);

#endif
