/* export.c — `export`'s driver: plan (kept tensors renamed and ordered embeddings, layers, rest;
 * greedy shards of at most shard_size bytes), stream every tensor from the source mapping into
 * its shard in bounded chunks (source pages released behind the copy, so memory stays flat for a
 * 70B model), write the side files into DIR.tmp.<pid>, fsync, rename into place. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cli.h"
#include "../common/json_util.h"
#include "../common/safetensors_write.h"
#include "../common/signals.h"
#include "../common/fs.h"
#include "export_internal.h"

#define EX_CHUNK (64u << 20) /* bytes copied per write call; bounds the pages touched at once */

/* ---- plan --------------------------------------------------------------------------------- */

static int ex_group(const sp_ex_item *it)
{
    if (it->layer >= 0) return 1;
    return strcmp(it->src->name, "model.embed_tokens.weight") == 0 ? 0 : 2;
}

static int ex_cmp_item(const void *a, const void *b)
{
    const sp_ex_item *x = a, *y = b;
    int gx = ex_group(x), gy = ex_group(y);
    if (gx != gy) return gx < gy ? -1 : 1;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void ex_plan_free(sp_ex_plan *p)
{
    for (int i = 0; p->items && i < p->n_items; i++) free(p->items[i].name);
    for (int s = 0; p->shard_file && s < p->n_shards; s++) free(p->shard_file[s]);
    free(p->items);
    free(p->shard_first);
    free(p->shard_bytes);
    free(p->shard_file);
    free(p->new_index);
    memset(p, 0, sizeof *p);
}

/* Greedy sharding as Hugging Face does: a tensor opens a new shard when it would push the
 * current (non-empty) one past shard_size; a tensor larger than shard_size sits alone. */
static void ex_plan_shards(sp_ex_plan *p, uint64_t shard_size)
{
    p->shard_first = sp_xcalloc((size_t)p->n_items + 2, sizeof *p->shard_first);
    p->shard_bytes = sp_xcalloc((size_t)p->n_items + 1, sizeof *p->shard_bytes);
    int s = 0;
    for (int i = 0; i < p->n_items; i++) {
        uint64_t nb = p->items[i].nbytes;
        if (p->shard_bytes[s] > 0 && p->shard_bytes[s] + nb > shard_size) {
            s++;
            p->shard_first[s] = i;
        }
        p->shard_bytes[s] += nb;
        p->items[i].shard = s;
    }
    p->n_shards = s + 1;
    p->shard_first[p->n_shards] = p->n_items;
    p->shard_file = sp_xcalloc((size_t)p->n_shards, sizeof *p->shard_file);
    for (int k = 0; k < p->n_shards; k++) {
        char buf[64];
        if (p->n_shards == 1) snprintf(buf, sizeof buf, "model.safetensors");
        else snprintf(buf, sizeof buf, "model-%05d-of-%05d.safetensors", k + 1, p->n_shards);
        p->shard_file[k] = sp_xstrdup(buf);
    }
}

static int ex_plan_build(const sp_model *m, const sp_mask *removed, uint64_t shard_size,
                         const sp_export_options *opt, sp_ex_plan *p, sp_error *err)
{
    const sp_safetensors *st = &m->st;
    int L = (int)m->cfg.n_layers;
    memset(p, 0, sizeof *p);
    p->n_layers = L;
    p->new_index = sp_xcalloc((size_t)L, sizeof *p->new_index);
    for (int l = 0, k = 0; l < L; l++) p->new_index[l] = sp_mask_test(removed, l) ? -1 : k++;
    sp_mask_format(removed, p->removed_str, sizeof p->removed_str);
    sp_model_fingerprint(m, p->fingerprint);
    p->items = sp_xcalloc((size_t)st->n_tensors + 1, sizeof *p->items);
    for (int i = 0; i < st->n_tensors; i++) {
        const sp_tensor *t = &st->tensors[i];
        char name[1024];
        int layer, r = sp_export_tensor_name(t->name, L, removed, name, sizeof name, &layer);
        if (r < 0)
            return sp_error_set(err, "%s: tensor \"%s\": name too long or layer index out of "
                                     "range", st->files[t->file_index].path, t->name);
        p->params_before += sp_tensor_numel(t);
        p->bytes_before += t->nbytes;
        if (r == 0) continue;
        if (t->dtype != SP_DT_F32 && t->dtype != SP_DT_F16 && t->dtype != SP_DT_BF16)
            return sp_error_set(err, "not implemented: %s: tensor \"%s\" has dtype %s; the "
                                     "safetensors writer stores F32, F16 and BF16 only",
                                st->files[t->file_index].path, t->name, sp_dtype_name(t->dtype));
        int rw = opt->rewrites ? opt->rewrites(opt->rewrite_ctx, t) : 0;
        size_t nb = rw ? (size_t)sp_tensor_numel(t) * sizeof(float) : t->nbytes;
        p->items[p->n_items++] = (sp_ex_item){t, sp_xstrdup(name), layer, 0, rw, nb};
        p->params_after += sp_tensor_numel(t);
        p->bytes_after += nb;
    }
    qsort(p->items, (size_t)p->n_items, sizeof *p->items, ex_cmp_item);
    ex_plan_shards(p, shard_size);
    return 0;
}

/* ---- streaming ---------------------------------------------------------------------------- */

typedef struct {
    FILE *out;
    double t0, last;
    uint64_t done, total;
    int tensor, n_tensors;
} ex_progress;

static void ex_progress_line(ex_progress *pr, int final)
{
    double now = sp_now();
    if (!pr->out || (!final && now - pr->last < 1.0)) return;
    pr->last = now;
    double dt = now - pr->t0;
    fprintf(pr->out, "export: tensor %d/%d  %.1f / %.1f MB  %.1f MB/s%s\n", pr->tensor,
            pr->n_tensors, (double)pr->done / 1e6, (double)pr->total / 1e6,
            dt > 0 ? (double)pr->done / 1e6 / dt : 0.0, final ? "  done" : "");
    fflush(pr->out);
}

/* Drops the source pages of [data, data + len) from this process once copied (the mapping is
 * read-only and file-backed: a later access reads them again from the page cache or disk). */
static void ex_release(const void *data, size_t len)
{
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)data, b = a + len;
    uintptr_t lo = (a + (uintptr_t)pg - 1) / (uintptr_t)pg * (uintptr_t)pg;
    uintptr_t hi = b / (uintptr_t)pg * (uintptr_t)pg;
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

static int ex_copy_tensor(sp_st_writer *w, const sp_tensor *t, ex_progress *pr, sp_error *err)
{
    const char *src = t->data;
    for (size_t off = 0; off < t->nbytes;) {
        int sig = sp_signal_pending();
        if (sig) return sp_error_set(err, "interrupted by signal %d", sig);
        size_t n = t->nbytes - off < EX_CHUNK ? t->nbytes - off : EX_CHUNK;
        if (sp_st_writer_write(w, src + off, n, err)) return -1;
        ex_release(src + off, n);
        off += n;
        pr->done += n;
        ex_progress_line(pr, 0);
    }
    return 0;
}

/* A rewritten tensor: the hook's F32 payload. */
static int ex_write_rewritten(sp_st_writer *w, const sp_ex_item *it,
                              const sp_export_options *opt, ex_progress *pr, sp_error *err)
{
    float *data = NULL;
    if (opt->rewrite(opt->rewrite_ctx, it->src, &data, err))
        return sp_error_wrap(err, "tensor %s", it->src->name);
    int rc = sp_st_writer_write(w, data, it->nbytes, err);
    free(data);
    pr->done += it->nbytes;
    ex_progress_line(pr, 0);
    return rc;
}

static int ex_write_shard(const sp_ex_plan *p, int s, const char *dir,
                          const sp_export_options *opt, ex_progress *pr, sp_error *err)
{
    int a = p->shard_first[s], b = p->shard_first[s + 1];
    sp_stw_tensor *decl = sp_xcalloc((size_t)(b - a), sizeof *decl);
    for (int i = a; i < b; i++) {
        const sp_tensor *t = p->items[i].src;
        sp_stw_tensor *d = &decl[i - a];
        d->name = p->items[i].name;
        d->dtype = p->items[i].rewrite ? SP_DT_F32 : t->dtype;
        d->ndim = t->ndim;
        memcpy(d->shape, t->shape, sizeof d->shape);
    }
    const char *meta[] = {"format", "pt", "swarmprune_removed_layers", p->removed_str,
                          "swarmprune_source", p->fingerprint, NULL};
    char path[PATH_MAX];
    sp_st_writer w;
    int rc = sp_ex_join(path, sizeof path, dir, p->shard_file[s], err) ||
             sp_st_writer_open(&w, path, decl, b - a, meta, err);
    free(decl);
    if (rc) return -1;
    for (int i = a; i < b; i++) {
        pr->tensor = i + 1;
        if (p->items[i].rewrite ? ex_write_rewritten(&w, &p->items[i], opt, pr, err)
                                : ex_copy_tensor(&w, p->items[i].src, pr, err)) {
            sp_st_writer_abort(&w);
            return -1;
        }
    }
    return sp_st_writer_close(&w, err);
}

/* ---- side files --------------------------------------------------------------------------- */

static int ex_write_text(const char *dir, const char *name, char *text, sp_error *err)
{
    int rc = sp_ex_write_json_text(dir, name, text, err);
    free(text);
    return rc;
}

static int ex_write_side_files(const sp_model *m, const sp_mask *removed, const sp_ex_plan *p,
                               const char *dir, uint64_t shard_size, sp_error *err)
{
    static const char *const copy[] = {"tokenizer.json", "tokenizer_config.json",
                                       "generation_config.json", "special_tokens_map.json",
                                       "tokenizer.model", NULL};
    char src[PATH_MAX], dst[PATH_MAX];
    char *text = NULL, *cfg = NULL;
    size_t len = 0, cfg_len = 0;
    if (sp_ex_join(src, sizeof src, m->dir, "config.json", err) ||
        sp_ex_join(dst, sizeof dst, dir, "config.json", err) ||
        sp_read_file(src, &text, &len, err))
        return -1;
    int rc = sp_export_rewrite_config(text, len, src, p->n_layers, removed, &cfg, &cfg_len, err);
    free(text);
    if (rc) return -1;
    rc = sp_ex_write_file(dst, cfg, cfg_len, err);
    free(cfg);
    if (rc) return -1;
    for (int i = 0; copy[i]; i++) {
        int copied;
        if (sp_ex_join(src, sizeof src, m->dir, copy[i], err) ||
            sp_ex_join(dst, sizeof dst, dir, copy[i], err) ||
            sp_ex_copy_file(src, dst, &copied, err))
            return -1;
    }
    char abs[PATH_MAX];
    if (!realpath(m->dir, abs)) snprintf(abs, sizeof abs, "%s", m->dir);
    if (ex_write_text(dir, "model.safetensors.index.json", sp_ex_index_json(p), err) ||
        ex_write_text(dir, "swarmprune_export.json", sp_ex_record_json(p, abs, shard_size), err))
        return -1;
    return 0;
}

/* ---- destination -------------------------------------------------------------------------- */

/* out_dir without trailing slashes must be usable: not the source, not a parent of it, not an
 * existing non-directory; an existing directory only with force. *exists tells which. */
static int ex_check_out(const sp_model *m, const char *out, int force, int *exists, sp_error *err)
{
    struct stat sb;
    *exists = 0;
    if (lstat(out, &sb) != 0) {
        if (errno == ENOENT) return 0;
        return sp_error_set(err, "--out %s: %s", out, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode))
        return sp_error_set(err, "--out %s exists and is not a directory", out);
    if (!force)
        return sp_error_set(err, "--out %s already exists (use --force to replace it)", out);
    char a[PATH_MAX], b[PATH_MAX];
    if (!realpath(out, a) || !realpath(m->dir, b))
        return sp_error_set(err, "--out %s: cannot resolve the path: %s", out, strerror(errno));
    size_t n = strlen(a);
    if (strcmp(a, b) == 0 || (strncmp(a, b, n) == 0 && (b[n] == '/' || n == 1)))
        return sp_error_set(err, "--out %s is the source model directory or contains it; "
                                 "refusing to replace it", out);
    *exists = 1;
    return 0;
}

static void ex_parent(const char *path, char *buf, size_t size)
{
    snprintf(buf, size, "%s", path);
    char *slash = strrchr(buf, '/');
    if (!slash) snprintf(buf, size, ".");
    else if (slash == buf) buf[1] = '\0';
    else *slash = '\0';
}

/* Moves the finished tmp directory to out; an old out (force) is set aside first and removed
 * only once the new one is in place (and put back if the rename fails). */
static int ex_install(const char *tmp, const char *out, int replace, sp_error *err)
{
    char old[PATH_MAX + 32], parent[PATH_MAX];
    snprintf(old, sizeof old, "%.*s.old.%ld", PATH_MAX - 64, out, (long)getpid());
    if (replace && rename(out, old) != 0)
        return sp_error_set(err, "cannot move the existing %s aside to %s: %s", out, old,
                            strerror(errno));
    if (rename(tmp, out) != 0) {
        int e = errno;
        if (replace) rename(old, out);
        return sp_error_set(err, "cannot rename %s to %s: %s", tmp, out, strerror(e));
    }
    if (replace) sp_remove_tree(old);
    ex_parent(out, parent, sizeof parent);
    sp_ex_fsync_dir(parent, NULL); /* best effort: the export is in place either way */
    return 0;
}

static int ex_validate_mask(const sp_model *m, const sp_mask *removed, sp_error *err)
{
    int L = (int)m->cfg.n_layers;
    for (int l = L; l < SP_MAX_LAYERS; l++)
        if (sp_mask_test(removed, l))
            return sp_error_set(err, "layer %d out of range (the model has %d layers, 0..%d)", l,
                                L, L - 1);
    if (sp_mask_count(removed) >= L)
        return sp_error_set(err, "cannot remove all %d layers", L);
    return 0;
}

static void ex_fill_result(const sp_ex_plan *p, double t0, sp_export_result *res)
{
    memset(res, 0, sizeof *res);
    res->layers_before = p->n_layers;
    for (int l = 0; l < p->n_layers; l++) res->layers_after += p->new_index[l] >= 0;
    res->n_tensors = p->n_items;
    res->n_shards = p->n_shards;
    res->params_before = p->params_before;
    res->params_after = p->params_after;
    res->bytes_before = p->bytes_before;
    res->bytes_after = p->bytes_after;
    memcpy(res->fingerprint, p->fingerprint, sizeof res->fingerprint);
    res->seconds = sp_now() - t0;
}

int sp_export_model(const sp_model *m, const sp_mask *removed, const char *out_dir,
                    const sp_export_options *opt, sp_export_result *res, sp_error *err)
{
    double t0 = sp_now();
    uint64_t shard_size = opt->shard_size ? opt->shard_size : SP_EXPORT_DEFAULT_SHARD_SIZE;
    char out[PATH_MAX], tmp[PATH_MAX + 32];
    size_t n = strlen(out_dir);
    while (n > 1 && out_dir[n - 1] == '/') n--;
    if (n == 0 || n >= sizeof out - 64) return sp_error_set(err, "--out: empty or too long path");
    snprintf(out, sizeof out, "%.*s", (int)n, out_dir);
    int exists;
    if (ex_validate_mask(m, removed, err) || ex_check_out(m, out, opt->force, &exists, err))
        return -1;
    sp_ex_plan p;
    if (ex_plan_build(m, removed, shard_size, opt, &p, err)) {
        ex_plan_free(&p);
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%.*s.tmp.%ld", PATH_MAX - 64, out, (long)getpid());
    if (mkdir(tmp, 0755) != 0) {
        int e = errno;
        ex_plan_free(&p);
        return sp_error_set(err, "cannot create %s: %s", tmp, strerror(e));
    }
    ex_progress pr = {opt->progress, t0, t0, 0, p.bytes_after, 0, p.n_items};
    int rc = 0;
    for (int s = 0; rc == 0 && s < p.n_shards; s++) rc = ex_write_shard(&p, s, tmp, opt, &pr, err);
    if (rc == 0) ex_progress_line(&pr, 1);
    if (rc == 0) rc = ex_write_side_files(m, removed, &p, tmp, shard_size, err);
    if (rc == 0) rc = sp_ex_fsync_dir(tmp, err);
    if (rc == 0 && opt->force && !exists) {
        struct stat sb; /* appeared while we were writing: only --force may replace it */
        exists = lstat(out, &sb) == 0;
    }
    if (rc == 0 && !opt->force && access(out, F_OK) == 0)
        rc = sp_error_set(err, "--out %s appeared while exporting (use --force to replace it)", out);
    if (rc == 0) rc = ex_install(tmp, out, exists, err);
    if (rc) {
        sp_remove_tree(tmp);
        sp_error_wrap(err, "export to %s failed, nothing written there", out);
    } else {
        ex_fill_result(&p, t0, res);
    }
    ex_plan_free(&p);
    return rc;
}
