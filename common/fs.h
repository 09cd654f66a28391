/* fs.h — small filesystem helpers shared by the commands that write output directories. */
#ifndef SP_FS_H
#define SP_FS_H

#include "error.h"

/* Creates `path` and its missing parents (like mkdir -p); fails when it ends up not being a
 * directory. Messages name the component that failed. */
int sp_mkdir_p(const char *path, sp_error *err);

/* Removes a directory tree (files, then directories; symbolic links are not followed). Best
 * effort: used to clean up temporary output after a failure. */
void sp_remove_tree(const char *dir);

/* Writes text to path through path.tmp + rename, so readers see the old or the new file. */
int sp_write_text_atomic(const char *path, const char *text, sp_error *err);

#endif
