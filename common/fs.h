/* fs.h — small filesystem helpers shared by the commands that write output directories. */
#ifndef SP_FS_H
#define SP_FS_H

#include "error.h"

/* Creates `path` and its missing parents (like mkdir -p); fails when it ends up not being a
 * directory. Messages name the component that failed. */
int sp_mkdir_p(const char *path, sp_error *err);

#endif
