/* lora_io.c — PEFT adapter directories: write (atomic temp dir + rename), read back with every
 * name, shape and dtype validated, and the merge W + (alpha/r)·B·A through the export writer. */
#define _GNU_SOURCE
#include <cblas.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/fs.h"
#include "../common/json_util.h"
#include "../common/safetensors_write.h"
#include "export_internal.h"
#include "lora_io.h"

#define LIO_CONFIG "adapter_config.json"
#define LIO_WEIGHTS "adapter_model.safetensors"

static int lio_is_mlp(int t) { return t >= SP_LORA_GATE; }

void sp_lora_peft_name(int j, int t, int which, char *buf, size_t size)
{
    snprintf(buf, size, "base_model.model.model.layers.%d.%s.%s.lora_%c.weight", j,
             lio_is_mlp(t) ? "mlp" : "self_attn", sp_lora_target_names[t], which ? 'B' : 'A');
}

/* Kept layers in order: kept[j] = original index; returns their count. */
static int lio_kept(int L, const sp_mask *removed, int *kept)
{
    int n = 0;
    for (int l = 0; l < L; l++)
        if (!removed || !sp_mask_test(removed, l)) kept[n++] = l;
    return n;
}

/* ---- writing -------------------------------------------------------------------------------- */

static char *lio_config_json(const sp_lora *l, const char *base_model)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "peft_type", "LORA");
    cJSON_AddStringToObject(o, "task_type", "CAUSAL_LM");
    cJSON_AddStringToObject(o, "base_model_name_or_path", base_model ? base_model : "");
    cJSON_AddNumberToObject(o, "r", l->cfg.rank);
    cJSON_AddNumberToObject(o, "lora_alpha", l->cfg.alpha);
    cJSON_AddNumberToObject(o, "lora_dropout", l->cfg.dropout);
    cJSON *tm = cJSON_AddArrayToObject(o, "target_modules");
    for (int t = 0; t < SP_LORA_NT; t++)
        if (l->cfg.targets & (1u << t))
            cJSON_AddItemToArray(tm, cJSON_CreateString(sp_lora_target_names[t]));
    cJSON_AddStringToObject(o, "bias", "none");
    cJSON_AddBoolToObject(o, "fan_in_fan_out", 0);
    cJSON_AddBoolToObject(o, "inference_mode", 1);
    cJSON_AddBoolToObject(o, "init_lora_weights", 1);
    cJSON_AddNullToObject(o, "layers_to_transform");
    cJSON_AddNullToObject(o, "layers_pattern");
    cJSON_AddNullToObject(o, "modules_to_save");
    cJSON_AddBoolToObject(o, "use_rslora", 0);
    cJSON_AddBoolToObject(o, "use_dora", 0);
    cJSON_AddNullToObject(o, "revision");
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    SP_ASSERT(s);
    return s;
}

static int lio_write_weights(const sp_lora *l, const sp_mask *removed, const char *path,
                             sp_error *err)
{
    int kept[SP_MAX_LAYERS], nk = lio_kept(l->n_layers, removed, kept), n = 0;
    sp_stw_tensor *decl = sp_xcalloc((size_t)nk * SP_LORA_NT * 2, sizeof *decl);
    char **names = sp_xcalloc((size_t)nk * SP_LORA_NT * 2, sizeof *names);
    const float **data = sp_xcalloc((size_t)nk * SP_LORA_NT * 2, sizeof *data);
    for (int j = 0; j < nk; j++)
        for (int t = 0; t < SP_LORA_NT; t++) {
            size_t i = (size_t)kept[j] * SP_LORA_NT + (size_t)t;
            if (!l->A[i]) continue;
            for (int w = 0; w < 2; w++, n++) {
                char buf[256];
                sp_lora_peft_name(j, t, w, buf, sizeof buf);
                names[n] = sp_xstrdup(buf);
                decl[n] = (sp_stw_tensor){names[n], SP_DT_F32, 2, {0}};
                decl[n].shape[0] = w ? l->out[t] : l->cfg.rank;
                decl[n].shape[1] = w ? l->cfg.rank : l->in[t];
                data[n] = w ? l->B[i] : l->A[i];
            }
        }
    const char *meta[] = {"format", "pt", NULL};
    sp_st_writer wr;
    int rc = n == 0 ? sp_error_set(err, "%s: the adapter has no tensors", path)
                    : sp_st_writer_open(&wr, path, decl, n, meta, err);
    for (int k = 0; rc == 0 && k < n; k++) {
        size_t bytes = (size_t)(decl[k].shape[0] * decl[k].shape[1]) * sizeof(float);
        if (sp_st_writer_write(&wr, data[k], bytes, err)) {
            sp_st_writer_abort(&wr);
            rc = -1;
        }
    }
    if (rc == 0) rc = sp_st_writer_close(&wr, err);
    for (int k = 0; k < n; k++) free(names[k]);
    free(names), free(decl), free(data);
    return rc;
}

/* Moves tmp to dir (an existing dir set aside first and removed once tmp is in place). */
static int lio_install(const char *tmp, const char *dir, int exists, sp_error *err)
{
    char old[PATH_MAX + 32];
    snprintf(old, sizeof old, "%.*s.old.%ld", PATH_MAX - 64, dir, (long)getpid());
    if (exists && rename(dir, old) != 0)
        return sp_error_set(err, "cannot move the existing %s aside: %s", dir, strerror(errno));
    if (rename(tmp, dir) != 0) {
        int e = errno;
        if (exists) rename(old, dir);
        return sp_error_set(err, "cannot rename %s to %s: %s", tmp, dir, strerror(e));
    }
    if (exists) sp_remove_tree(old);
    return 0;
}

int sp_lora_save_peft(const sp_lora *l, const sp_mask *removed, const char *dir,
                      const char *base_model, const char *note_json, int force, sp_error *err)
{
    struct stat sb;
    int exists = lstat(dir, &sb) == 0;
    if (exists && !S_ISDIR(sb.st_mode))
        return sp_error_set(err, "%s exists and is not a directory", dir);
    if (exists && !force)
        return sp_error_set(err, "%s already exists (use --force to replace it)", dir);
    char tmp[PATH_MAX + 32], path[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%.*s.tmp.%ld", PATH_MAX - 64, dir, (long)getpid());
    sp_remove_tree(tmp);
    if (mkdir(tmp, 0755) != 0) return sp_error_set(err, "cannot create %s: %s", tmp, strerror(errno));
    char *cfg = lio_config_json(l, base_model);
    int rc = sp_ex_write_json_text(tmp, LIO_CONFIG, cfg, err);
    free(cfg);
    if (rc == 0) rc = sp_ex_join(path, sizeof path, tmp, LIO_WEIGHTS, err);
    if (rc == 0) rc = lio_write_weights(l, removed, path, err);
    if (rc == 0 && note_json)
        rc = sp_ex_write_json_text(tmp, "swarmprune_heal.json", note_json, err);
    if (rc == 0) rc = sp_ex_fsync_dir(tmp, err);
    if (rc == 0) rc = lio_install(tmp, dir, exists, err);
    if (rc) {
        sp_remove_tree(tmp);
        return sp_error_wrap(err, "writing the adapter %s", dir);
    }
    return 0;
}

/* ---- reading -------------------------------------------------------------------------------- */

/* Fails with "not implemented" when key is present and not equal to its harmless value. */
static int lio_refuse(const cJSON *o, const char *file, const char *key, const char *what,
                      sp_error *err)
{
    const cJSON *v = sp_json_get(o, key);
    if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v)) return 0;
    if ((cJSON_IsObject(v) || cJSON_IsArray(v)) && cJSON_GetArraySize(v) == 0) return 0;
    return sp_error_set(err, "not implemented: %s: %s (%s)", file, key, what);
}

static int lio_read_targets(const cJSON *o, const char *file, unsigned *targets, sp_error *err)
{
    const cJSON *tm = sp_json_get(o, "target_modules");
    *targets = 0;
    if (cJSON_IsString(tm))
        return sp_error_set(err, "not implemented: %s: target_modules as a pattern string "
                            "(\"%s\"); give a list of names", file, tm->valuestring);
    if (!cJSON_IsArray(tm) || cJSON_GetArraySize(tm) == 0)
        return sp_error_set(err, "%s: target_modules: expected a non-empty list of names", file);
    int i = 0;
    for (const cJSON *e = tm->child; e; e = e->next, i++) {
        int t = cJSON_IsString(e) ? sp_lora_target_index(e->valuestring) : -1;
        if (t < 0 || strchr(e->valuestring, '_') == NULL)
            return sp_error_set(err, "%s: target_modules[%d]: expected one of q_proj, k_proj, "
                                "v_proj, o_proj, gate_proj, up_proj, down_proj", file, i);
        *targets |= 1u << t;
    }
    return 0;
}

static int lio_read_config(const char *dir, sp_lora_config *lc, sp_error *err)
{
    char file[PATH_MAX];
    cJSON *o = NULL;
    if (sp_ex_join(file, sizeof file, dir, LIO_CONFIG, err) || sp_json_parse_file(file, &o, err))
        return -1;
    const char *pt = NULL, *bias = "none";
    int64_t r = 0;
    double alpha = 0, dropout = 0;
    int rc = cJSON_IsObject(o) ? 0 : sp_error_set(err, "%s: expected a JSON object", file);
    if (rc == 0 && (sp_json_member_string(o, "", "peft_type", 1, &pt, err) < 0 ||
                    sp_json_member_int(o, "", "r", 1, 1, 1 << 20, &r, err) < 0 ||
                    sp_json_member_double(o, "", "lora_alpha", 1, 1e-30, 1e30, &alpha, err) < 0 ||
                    sp_json_member_double(o, "", "lora_dropout", 0, 0, 0.999999, &dropout, err) < 0 ||
                    sp_json_member_string(o, "", "bias", 0, &bias, err) < 0))
        rc = sp_error_wrap(err, "%s", file);
    if (rc == 0 && strcmp(pt, "LORA"))
        rc = sp_error_set(err, "%s: peft_type \"%s\": expected \"LORA\"", file, pt);
    if (rc == 0 && strcmp(bias, "none"))
        rc = sp_error_set(err, "not implemented: %s: bias \"%s\" (only \"none\")", file, bias);
    if (rc == 0)
        rc = lio_refuse(o, file, "use_dora", "DoRA", err) ||
             lio_refuse(o, file, "use_rslora", "rank-stabilised scaling", err) ||
             lio_refuse(o, file, "fan_in_fan_out", "transposed weights", err) ||
             lio_refuse(o, file, "layers_to_transform", "a layer subset", err) ||
             lio_refuse(o, file, "modules_to_save", "extra trained modules", err) ||
             lio_refuse(o, file, "rank_pattern", "per-module ranks", err) ||
             lio_refuse(o, file, "alpha_pattern", "per-module alphas", err);
    unsigned targets = 0;
    if (rc == 0) rc = lio_read_targets(o, file, &targets, err);
    cJSON_Delete(o);
    *lc = (sp_lora_config){(int)r, alpha, dropout, targets};
    return rc ? -1 : 0;
}

/* Copies tensor `name` (shape [d0, d1], F32/F16/BF16) into dst. */
static int lio_take(const sp_safetensors *st, const char *file, const char *name, int64_t d0,
                    int64_t d1, float *dst, int *used, sp_error *err)
{
    const sp_tensor *t = sp_st_find(st, name);
    if (!t) return sp_error_set(err, "%s: tensor %s missing", file, name);
    used[t - st->tensors] = 1;
    if (t->ndim != 2 || t->shape[0] != d0 || t->shape[1] != d1)
        return sp_error_set(err, "%s: tensor %s: shape [%lld, %lld] expected, got %d dims [%lld%s]",
                            file, name, (long long)d0, (long long)d1, t->ndim,
                            (long long)(t->ndim ? t->shape[0] : 0), t->ndim > 1 ? ", ..." : "");
    if (t->dtype != SP_DT_F32 && t->dtype != SP_DT_F16 && t->dtype != SP_DT_BF16)
        return sp_error_set(err, "%s: tensor %s: dtype %s (expected F32, F16 or BF16)", file,
                            name, sp_dtype_name(t->dtype));
    return sp_tensor_to_f32(t, dst, err);
}

static int lio_read_tensors(const sp_safetensors *st, const char *file, const sp_mask *removed,
                            sp_lora *l, sp_error *err)
{
    int kept[SP_MAX_LAYERS], nk = lio_kept(l->n_layers, removed, kept);
    int *used = sp_xcalloc((size_t)st->n_tensors + 1, sizeof *used);
    int rc = 0;
    for (int j = 0; rc == 0 && j < nk; j++)
        for (int t = 0; rc == 0 && t < SP_LORA_NT; t++) {
            size_t i = (size_t)kept[j] * SP_LORA_NT + (size_t)t;
            if (!l->A[i]) continue;
            char a[256], b[256];
            sp_lora_peft_name(j, t, 0, a, sizeof a);
            sp_lora_peft_name(j, t, 1, b, sizeof b);
            rc = lio_take(st, file, a, l->cfg.rank, l->in[t], l->A[i], used, err) ||
                 lio_take(st, file, b, l->out[t], l->cfg.rank, l->B[i], used, err);
        }
    for (int k = 0; rc == 0 && k < st->n_tensors; k++)
        if (!used[k])
            rc = sp_error_set(err, "%s: unexpected tensor %s (the model has %d kept layers and the "
                              "config names these target_modules)", file, st->tensors[k].name, nk);
    free(used);
    return rc ? -1 : 0;
}

int sp_lora_load_peft(const char *dir, const sp_model_config *cfg, const sp_mask *removed,
                      sp_lora *out, sp_error *err)
{
    memset(out, 0, sizeof *out);
    sp_lora_config lc;
    char file[PATH_MAX];
    if (lio_read_config(dir, &lc, err) || sp_lora_config_check(&lc, dir, err) ||
        sp_ex_join(file, sizeof file, dir, LIO_WEIGHTS, err))
        return -1;
    sp_safetensors st;
    if (sp_st_open_file(file, &st, err)) return -1;
    int rc = sp_lora_create(cfg, removed, &lc, 0, out, err);
    if (rc == 0) rc = lio_read_tensors(&st, file, removed, out, err);
    sp_st_close(&st);
    if (rc) sp_lora_free(out);
    return rc ? -1 : 0;
}

/* ---- merge ---------------------------------------------------------------------------------- */

typedef struct {
    const sp_lora *l;
} lio_merge_ctx;

/* Source layer and target of a projection weight "model.layers.N.<mod>.<t>.weight"; -1 if none. */
static int lio_target_of(const char *name, int *layer)
{
    int n = 0, off = 0;
    if (sscanf(name, "model.layers.%d.%n", &n, &off) != 1 || off == 0) return -1;
    for (int t = 0; t < SP_LORA_NT; t++) {
        char want[96];
        snprintf(want, sizeof want, "%s.%s.weight", lio_is_mlp(t) ? "mlp" : "self_attn",
                 sp_lora_target_names[t]);
        if (!strcmp(name + off, want)) {
            *layer = n;
            return t;
        }
    }
    return -1;
}

static int lio_merge_rewrites(void *ctx, const sp_tensor *src)
{
    const sp_lora *l = ((lio_merge_ctx *)ctx)->l;
    int layer = 0, t = lio_target_of(src->name, &layer);
    return t >= 0 && layer < l->n_layers && l->A[(size_t)layer * SP_LORA_NT + (size_t)t];
}

static int lio_merge_rewrite(void *ctx, const sp_tensor *src, float **data, sp_error *err)
{
    const sp_lora *l = ((lio_merge_ctx *)ctx)->l;
    int layer = 0, t = lio_target_of(src->name, &layer);
    SP_ASSERT(t >= 0);
    size_t i = (size_t)layer * SP_LORA_NT + (size_t)t;
    int64_t out = l->out[t], in = l->in[t], r = l->cfg.rank;
    if (src->ndim != 2 || src->shape[0] != out || src->shape[1] != in)
        return sp_error_set(err, "shape does not match the adapter's [%lld, %lld]",
                            (long long)out, (long long)in);
    float *w = sp_xmalloc((size_t)(out * in) * sizeof *w); /* [out, in] */
    if (sp_tensor_to_f32(src, w, err)) {
        free(w);
        return -1;
    }
    /* W[out, in] += scaling * B[out, r] A[r, in] */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)out, (int)in, (int)r,
                sp_lora_scaling(l), l->B[i], (int)r, l->A[i], (int)in, 1.0f, w, (int)in);
    *data = w;
    return 0;
}

int sp_lora_merge_export(const sp_model *m, const sp_mask *removed, const sp_lora *l,
                         const char *out_dir, const sp_export_options *opt,
                         sp_export_result *res, sp_error *err)
{
    SP_ASSERT(l->n_layers == (int)m->cfg.n_layers);
    lio_merge_ctx ctx = {l};
    sp_export_options o = *opt;
    o.rewrites = lio_merge_rewrites;
    o.rewrite = lio_merge_rewrite;
    o.rewrite_ctx = &ctx;
    return sp_export_model(m, removed, out_dir, &o, res, err);
}
