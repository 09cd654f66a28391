/* results_dir.c — expands a search output directory into its results files (results_dir.h). */
#include "results_dir.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_file(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int cmp_k(const void *a, const void *b)
{
    int ka = *(const int *)a, kb = *(const int *)b;
    return (ka > kb) - (ka < kb);
}

int sp_results_expand(const char *path, char ***out, size_t *n, sp_error *err)
{
    struct stat sb;
    char buf[4200];
    *out = NULL, *n = 0;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        *out = sp_xmalloc(sizeof **out);
        (*out)[0] = sp_xstrdup(path), *n = 1;
        return 0;
    }
    snprintf(buf, sizeof buf, "%s/results.h5", path);
    if (is_file(buf)) {
        *out = sp_xmalloc(sizeof **out);
        (*out)[0] = sp_xstrdup(buf), *n = 1;
        return 0;
    }
    DIR *d = opendir(path);
    if (!d) return sp_error_set(err, "%s: cannot read the directory", path);
    int *ks = NULL;
    size_t nk = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        char *end;
        if (e->d_name[0] != 'k' || e->d_name[1] < '0' || e->d_name[1] > '9') continue;
        long k = strtol(e->d_name + 1, &end, 10);
        snprintf(buf, sizeof buf, "%s/%s/results.h5", path, e->d_name);
        if (*end || k < 0 || k > 100000 || !is_file(buf)) continue;
        if (nk == cap) ks = sp_xrealloc(ks, (cap = cap ? 2 * cap : 16) * sizeof *ks);
        ks[nk++] = (int)k;
    }
    closedir(d);
    if (nk == 0) {
        free(ks);
        return sp_error_set(err, "%s: a directory without results.h5 or k<K>/results.h5 (not a "
                            "finished search's output directory; give a checkpoint .h5 to look "
                            "at a running one)", path);
    }
    qsort(ks, nk, sizeof *ks, cmp_k);
    *out = sp_xmalloc(nk * sizeof **out);
    for (size_t i = 0; i < nk; i++) {
        snprintf(buf, sizeof buf, "%s/k%d/results.h5", path, ks[i]);
        (*out)[i] = sp_xstrdup(buf);
    }
    *n = nk;
    free(ks);
    return 0;
}

void sp_results_free(char **paths, size_t n)
{
    for (size_t i = 0; paths && i < n; i++) free(paths[i]);
    free(paths);
}
