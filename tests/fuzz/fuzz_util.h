/* fuzz_util.h — helpers shared by the libFuzzer harnesses: a private scratch directory on tmpfs
 * (removed at exit) where file-based parsers get each input as a real file, and splitting one
 * input into parts at a separator (multi-file formats: a shard index and its shards). */
#ifndef SP_FUZZ_UTIL_H
#define SP_FUZZ_UTIL_H
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Separates the parts of a multi-part input (never valid inside JSON text). */
#define FUZZ_SEP "\n\x01--part--\x01\n"
#define FUZZ_SEP_LEN (sizeof FUZZ_SEP - 1)

static char fuzz_dir_path[256];

/* With SP_FUZZ_VERBOSE set, prints why an input was refused (checking that seeds get far). */
static inline void fuzz_note(const char *what, const char *msg)
{
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("SP_FUZZ_VERBOSE") != NULL;
    if (verbose) fprintf(stderr, "%s: refused: %s\n", what, msg);
}

static inline void fuzz_rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        char sub[512];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            fuzz_rm_tree(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static inline void fuzz_cleanup(void)
{
    if (fuzz_dir_path[0]) fuzz_rm_tree(fuzz_dir_path);
}

/* The scratch directory (/dev/shm when present, else $TMPDIR or /tmp), made once. */
static inline const char *fuzz_dir(void)
{
    if (fuzz_dir_path[0]) return fuzz_dir_path;
    const char *base = getenv("SP_FUZZ_TMP");
    struct stat sb;
    if (!base) base = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : NULL;
    if (!base) base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/spfuzz.XXXXXX", base);
    if (!mkdtemp(fuzz_dir_path)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(fuzz_cleanup);
    return fuzz_dir_path;
}

/* Path of `name` inside the scratch directory (static buffer per call site: copy if kept). */
static inline void fuzz_path(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", fuzz_dir(), name);
}

/* Writes len bytes to the scratch file `name` (replacing it); aborts on I/O errors (harness bug). */
static inline void fuzz_write(const char *name, const void *data, size_t len, char *path, size_t size)
{
    fuzz_path(path, size, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(path);
        abort();
    }
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w <= 0) {
            perror(path);
            abort();
        }
        p += w, len -= (size_t)w;
    }
    close(fd);
}

static inline void fuzz_unlink(const char *name)
{
    char path[512];
    fuzz_path(path, sizeof path, name);
    unlink(path);
}

/* Splits [data, data+size) at FUZZ_SEP into at most max parts; returns the number of parts. */
static inline int fuzz_split(const uint8_t *data, size_t size, const uint8_t **part, size_t *len, int max)
{
    int n = 0;
    const uint8_t *p = data, *end = data + size;
    while (n < max - 1) {
        const uint8_t *s = memmem(p, (size_t)(end - p), FUZZ_SEP, FUZZ_SEP_LEN);
        if (!s) break;
        part[n] = p, len[n] = (size_t)(s - p), n++;
        p = s + FUZZ_SEP_LEN;
    }
    part[n] = p, len[n] = (size_t)(end - p), n++;
    return n;
}

#endif
