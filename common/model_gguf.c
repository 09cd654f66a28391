/* model_gguf.c — opening a GGUF file where a model directory is expected: the file is converted
 * once (common/gguf_convert.c: dequantized to F32, Q/K rotary rows restored, tokenizer rebuilt)
 * into a cache directory keyed by the file's path, size, mtime (ns) and inode, and that
 * Hugging Face directory is opened. Concurrent ranks converting the same file each write a
 * private temporary directory; the first rename wins and the others use its result. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "gguf_convert.h"
#include "hash.h"
#include "model.h"

int sp_model_path_is_gguf(const char *path)
{
    size_t n = strlen(path);
    struct stat sb;
    return n > 5 && strcmp(path + n - 5, ".gguf") == 0 && stat(path, &sb) == 0 &&
           S_ISREG(sb.st_mode);
}

/* <cache>/gguf/<file stem>-<16 hex digits of (real path, size, mtime in ns, inode)> */
static int cache_dir_for(const char *gguf, char *out, size_t size, sp_error *err)
{
    struct stat sb;
    char *real = realpath(gguf, NULL);
    if (!real || stat(real, &sb) != 0) {
        free(real);
        return sp_error_set(err, "%s: cannot open: %s", gguf, strerror(errno));
    }
    /* mtime to the nanosecond: a file rewritten within the same second gets a new key */
    int64_t key[4] = {(int64_t)sb.st_size, (int64_t)sb.st_mtim.tv_sec,
                      (int64_t)sb.st_mtim.tv_nsec, (int64_t)sb.st_ino};
    uint64_t h = sp_fnv1a(sp_fnv1a(SP_FNV_OFFSET, real, strlen(real)), key, sizeof key);
    const char *base = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
    const char *cache = getenv("SWARMPRUNE_CACHE"), *home = getenv("HOME");
    char root[4096];
    if (cache && cache[0]) snprintf(root, sizeof root, "%s/gguf", cache);
    else snprintf(root, sizeof root, "%s/.cache/swarmprune/gguf", home && home[0] ? home : "/tmp");
    int n = snprintf(out, size, "%s/%.*s-%016" PRIx64, root, (int)(strlen(base) - 5), base, h);
    free(real);
    if (n < 0 || (size_t)n >= size) return sp_error_set(err, "%s: cache path too long", gguf);
    return sp_mkdir_p(root, err);
}

int sp_model_gguf_dir(const char *gguf, char *dir, size_t size, sp_error *err)
{
    if (cache_dir_for(gguf, dir, size, err)) return -1;
    char probe[4200], tmp[4200];
    snprintf(probe, sizeof probe, "%s/config.json", dir);
    if (access(probe, R_OK) == 0) return 0; /* converted before */
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dir, (long)getpid());
    fprintf(stderr, "swarmprune: converting %s into %s (once)\n", gguf, dir);
    sp_convert_options opt = {SP_DT_F32};
    sp_convert_result res;
    if (sp_gguf_convert(gguf, tmp, &opt, &res, err)) return -1;
    if (rename(tmp, dir) != 0) {
        int e = errno;
        sp_remove_tree(tmp);
        if ((e != EEXIST && e != ENOTEMPTY) || access(probe, R_OK) != 0)
            return sp_error_set(err, "%s: cannot move the conversion into place: %s", dir,
                                strerror(e));
    }
    return 0;
}
