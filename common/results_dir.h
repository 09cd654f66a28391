/* results_dir.h — a search output directory as `report` and `inspect` take it: DIR/results.h5,
 * or, for a sweep over k, every DIR/k<K>/results.h5 in increasing k. */
#ifndef SP_RESULTS_DIR_H
#define SP_RESULTS_DIR_H

#include <stddef.h>

#include "error.h"

/* When path is a directory: *out = the results files in it (malloc'ed strings in a malloc'ed
 * array, *n >= 1), or an error naming the directory when it holds none. When path is not a
 * directory: *out = {copy of path}, *n = 1. Free with sp_results_free. */
int sp_results_expand(const char *path, char ***out, size_t *n, sp_error *err);
void sp_results_free(char **paths, size_t n);

#endif
