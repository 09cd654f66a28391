/* export_files.c — the side files of an export (index and swarmprune_export.json, built with
 * cJSON; byte totals spliced in as raw integers so they stay exact past 2^53) and durable-file
 * helpers: every file is fsynced before the directory holding it is renamed into place. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "export_internal.h"

int sp_ex_join(char *buf, size_t size, const char *a, const char *b, sp_error *err)
{
    int n = snprintf(buf, size, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= size) return sp_error_set(err, "%s/%s: path too long", a, b);
    return 0;
}

static int ex_write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

int sp_ex_write_file(const char *path, const char *data, size_t len, sp_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return sp_error_set(err, "%s: cannot create: %s", path, strerror(errno));
    int bad = ex_write_all(fd, data, len) != 0 || fsync(fd) != 0;
    int e = errno;
    bad |= close(fd) != 0;
    if (bad) {
        unlink(path);
        return sp_error_set(err, "%s: write error: %s", path, strerror(e ? e : errno));
    }
    return 0;
}

int sp_ex_write_json_text(const char *dir, const char *name, const char *text, sp_error *err)
{
    char path[PATH_MAX];
    if (sp_ex_join(path, sizeof path, dir, name, err)) return -1;
    /* cJSON_Print indents with tabs and puts a tab after ':' (a literal tab cannot occur inside
     * a printed string, cJSON escapes it): respell as Python's json indent=2, end in '\n'. */
    size_t len = strlen(text), n = 0;
    char *buf = sp_xmalloc(2 * len + 2);
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '\t') buf[n++] = text[i];
        else if (i > 0 && text[i - 1] == ':') buf[n++] = ' ';
        else buf[n++] = ' ', buf[n++] = ' ';
    }
    if (n == 0 || buf[n - 1] != '\n') buf[n++] = '\n';
    int rc = sp_ex_write_file(path, buf, n, err);
    free(buf);
    return rc;
}

int sp_ex_copy_file(const char *src, const char *dst, int *copied, sp_error *err)
{
    *copied = 0;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        if (errno == ENOENT) return 0;
        return sp_error_set(err, "%s: cannot open: %s", src, strerror(errno));
    }
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return sp_error_set(err, "%s: cannot create: %s", dst, strerror(errno));
    }
    char buf[1 << 16];
    int rc = 0;
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = sp_error_set(err, "%s: read error: %s", src, strerror(errno));
            break;
        }
        if (r == 0) break;
        if (ex_write_all(out, buf, (size_t)r)) {
            rc = sp_error_set(err, "%s: write error: %s", dst, strerror(errno));
            break;
        }
    }
    if (rc == 0 && fsync(out) != 0) rc = sp_error_set(err, "%s: fsync: %s", dst, strerror(errno));
    if (close(out) != 0 && rc == 0) rc = sp_error_set(err, "%s: close: %s", dst, strerror(errno));
    close(in);
    if (rc) unlink(dst);
    else *copied = 1;
    return rc;
}

int sp_ex_fsync_dir(const char *dir, sp_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return sp_error_set(err, "%s: cannot open directory: %s", dir, strerror(errno));
    int rc = fsync(fd) != 0 && errno != EINVAL; /* some file systems refuse fsync on directories */
    int e = errno;
    close(fd);
    if (rc) return sp_error_set(err, "%s: fsync: %s", dir, strerror(e));
    return 0;
}

/* ---- JSON side files ---------------------------------------------------------------------- */

static cJSON *ex_raw_u64(uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return cJSON_CreateRaw(buf);
}

static int ex_cmp_item_name(const void *a, const void *b)
{
    const sp_ex_item *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

char *sp_ex_index_json(const sp_ex_plan *p)
{
    const sp_ex_item **sorted = sp_xcalloc((size_t)p->n_items, sizeof *sorted);
    for (int i = 0; i < p->n_items; i++) sorted[i] = &p->items[i];
    qsort(sorted, (size_t)p->n_items, sizeof *sorted, ex_cmp_item_name);
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(root, "metadata");
    cJSON_AddItemToObject(meta, "total_size", ex_raw_u64(p->bytes_after));
    cJSON *wm = cJSON_AddObjectToObject(root, "weight_map");
    for (int i = 0; i < p->n_items; i++)
        cJSON_AddStringToObject(wm, sorted[i]->name, p->shard_file[sorted[i]->shard]);
    char *text = cJSON_Print(root);
    SP_ASSERT(text != NULL);
    cJSON_Delete(root);
    free(sorted);
    return text;
}

char *sp_ex_record_json(const sp_ex_plan *p, const char *source_dir, uint64_t shard_size)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "swarmprune_export_version", 1);
    cJSON_AddStringToObject(root, "program_version", SP_CKPT_PROGRAM_VERSION);
    cJSON_AddStringToObject(root, "source_dir", source_dir);
    cJSON_AddStringToObject(root, "source_fingerprint", p->fingerprint);
    cJSON_AddNumberToObject(root, "layers_before", p->n_layers);
    cJSON *rm = cJSON_AddArrayToObject(root, "removed_layers");
    cJSON *map = cJSON_AddObjectToObject(root, "layer_map");
    int kept = 0;
    for (int l = 0; l < p->n_layers; l++) {
        if (p->new_index[l] < 0) {
            cJSON_AddItemToArray(rm, cJSON_CreateNumber(l));
            continue;
        }
        char key[16];
        snprintf(key, sizeof key, "%d", l);
        cJSON_AddNumberToObject(map, key, p->new_index[l]);
        kept++;
    }
    cJSON_AddNumberToObject(root, "layers_after", kept);
    cJSON_AddItemToObject(root, "params_before", ex_raw_u64((uint64_t)p->params_before));
    cJSON_AddItemToObject(root, "params_after", ex_raw_u64((uint64_t)p->params_after));
    cJSON_AddItemToObject(root, "bytes_before", ex_raw_u64(p->bytes_before));
    cJSON_AddItemToObject(root, "bytes_after", ex_raw_u64(p->bytes_after));
    cJSON_AddItemToObject(root, "shard_size", ex_raw_u64(shard_size));
    cJSON *shards = cJSON_AddArrayToObject(root, "shards");
    for (int s = 0; s < p->n_shards; s++)
        cJSON_AddItemToArray(shards, cJSON_CreateString(p->shard_file[s]));
    char *text = cJSON_Print(root);
    SP_ASSERT(text != NULL);
    cJSON_Delete(root);
    return text;
}
