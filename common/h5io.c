/* h5io.c — checked HDF5 helpers: files, groups by path, 1-D/2-D numeric datasets, VL UTF-8
 * strings and integer attributes. Every hid_t starts as H5I_INVALID_HID and is closed at one
 * `done:` label; failures carry HDF5's error stack (copied, then walked with H5Ewalk2). */
#include "h5io.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t sp_h5_dtype_size(sp_h5_dtype t) { return t == SP_H5_U8 ? 1 : 8; }

const char *sp_h5_dtype_name(sp_h5_dtype t)
{
    switch (t) {
    case SP_H5_F64: return "f64";
    case SP_H5_I64: return "i64";
    case SP_H5_U8: return "u8";
    }
    return "?";
}

static hid_t file_type(sp_h5_dtype t)
{
    switch (t) {
    case SP_H5_F64: return H5T_IEEE_F64LE;
    case SP_H5_I64: return H5T_STD_I64LE;
    case SP_H5_U8: return H5T_STD_U8LE;
    }
    SP_ASSERT_MSG(0, "bad sp_h5_dtype %d", (int)t);
}

static hid_t mem_type(sp_h5_dtype t)
{
    switch (t) {
    case SP_H5_F64: return H5T_NATIVE_DOUBLE;
    case SP_H5_I64: return H5T_NATIVE_INT64;
    case SP_H5_U8: return H5T_NATIVE_UINT8;
    }
    SP_ASSERT_MSG(0, "bad sp_h5_dtype %d", (int)t);
}

/* ---- error stack --------------------------------------------------------------------- */

typedef struct {
    char buf[1200];
    size_t len;
} stack_text;

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    stack_text *st = data;
    char minor[160] = "";
    if (H5Eget_msg(e->min_num, NULL, minor, sizeof minor) < 0) minor[0] = '\0';
    if (st->len >= sizeof st->buf - 1) return 0;
    int w = snprintf(st->buf + st->len, sizeof st->buf - st->len, "%s%s(): %s%s%s%s",
                     n ? "; " : "", e->func_name ? e->func_name : "?", e->desc ? e->desc : "",
                     minor[0] ? " (" : "", minor, minor[0] ? ")" : "");
    if (w > 0) st->len += (size_t)w;
    if (st->len > sizeof st->buf - 1) st->len = sizeof st->buf - 1;
    return 0;
}

int sp_h5_fail(sp_error *err, const char *fmt, ...)
{
    /* Copy the stack first: nothing we do below can then disturb it. */
    hid_t stack = H5Eget_current_stack();
    stack_text st = {.len = 0};
    st.buf[0] = '\0';
    if (stack >= 0) {
        H5Ewalk2(stack, H5E_WALK_DOWNWARD, walk_cb, &st);
        H5Eclose_stack(stack);
    }
    if (!err) return -1;
    char what[SP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (st.len)
        sp_error_set(err, "%s (HDF5: %s)", what, st.buf);
    else
        sp_error_set(err, "%s", what);
    return -1;
}

/* ---- files and groups ------------------------------------------------------------------ */

hid_t sp_h5_file_create(const char *path, sp_error *err)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) sp_h5_fail(err, "%s: cannot create HDF5 file", path);
    return f;
}

hid_t sp_h5_file_open_ro(const char *path, sp_error *err)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        sp_h5_fail(err, "%s: cannot open as HDF5 (not an HDF5 file, truncated or damaged)", path);
    return f;
}

int sp_h5_file_close(hid_t file, const char *path, sp_error *err)
{
    if (H5Fclose(file) < 0) return sp_h5_fail(err, "%s: closing the HDF5 file failed", path);
    return 0;
}

/* Relative '/'-paths only: no empty component, no leading or trailing '/', < 512 bytes. */
static int check_path(const char *path, sp_error *err)
{
    size_t n = strlen(path);
    if (n == 0 || n >= 512 || path[0] == '/' || path[n - 1] == '/' || strstr(path, "//"))
        return sp_error_set(err, "invalid HDF5 path \"%s\" (empty component or leading/"
                                 "trailing '/')", path);
    return 0;
}

int sp_h5_exists(hid_t loc, const char *path, int *found, sp_error *err)
{
    *found = 0;
    if (check_path(path, err) < 0) return -1;
    char prefix[512];
    size_t n = strlen(path);
    for (size_t i = 0; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0') continue;
        memcpy(prefix, path, i);
        prefix[i] = '\0';
        htri_t e = H5Lexists(loc, prefix, H5P_DEFAULT);
        if (e < 0) return sp_h5_fail(err, "probing \"%s\" failed", prefix);
        if (e == 0) return 0;
    }
    *found = 1;
    return 0;
}

hid_t sp_h5_group_require(hid_t loc, const char *path, sp_error *err)
{
    if (check_path(path, err) < 0) return H5I_INVALID_HID;
    char prefix[512];
    size_t n = strlen(path);
    for (size_t i = 0; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0') continue;
        memcpy(prefix, path, i);
        prefix[i] = '\0';
        htri_t e = H5Lexists(loc, prefix, H5P_DEFAULT);
        if (e < 0) {
            sp_h5_fail(err, "probing group \"%s\" failed", prefix);
            return H5I_INVALID_HID;
        }
        if (e == 0) {
            hid_t g = H5Gcreate2(loc, prefix, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            if (g < 0) {
                sp_h5_fail(err, "creating group \"%s\" failed", prefix);
                return H5I_INVALID_HID;
            }
            H5Gclose(g);
        }
    }
    hid_t g = H5Gopen2(loc, path, H5P_DEFAULT);
    if (g < 0) sp_h5_fail(err, "opening group \"%s\" failed", path);
    return g;
}

/* Opens the parent group of `name` (creating it) or returns a new reference to loc. Sets
 * *leaf to the last component. */
static hid_t parent_require(hid_t loc, const char *name, const char **leaf, sp_error *err)
{
    if (check_path(name, err) < 0) return H5I_INVALID_HID;
    const char *slash = strrchr(name, '/');
    if (!slash) {
        *leaf = name;
        if (H5Iinc_ref(loc) < 0) {
            sp_h5_fail(err, "internal: H5Iinc_ref failed");
            return H5I_INVALID_HID;
        }
        return loc;
    }
    char parent[512];
    memcpy(parent, name, (size_t)(slash - name));
    parent[slash - name] = '\0';
    *leaf = slash + 1;
    return sp_h5_group_require(loc, parent, err);
}

/* ---- numeric datasets ------------------------------------------------------------------ */

static int shape_bytes(sp_h5_dtype type, int rank, const uint64_t dims[2], size_t *nelem,
                       size_t *bytes)
{
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] > SIZE_MAX || sp_mul_size(n, (size_t)dims[i], &n) < 0) return -1;
    }
    *nelem = n;
    return sp_mul_size(n, sp_h5_dtype_size(type), bytes);
}

int sp_h5_write_array(hid_t loc, const char *name, sp_h5_dtype type, int rank,
                      const uint64_t dims[2], const void *data, sp_error *err)
{
    SP_ASSERT(rank >= 0 && rank <= 2);
    int rc = -1;
    hid_t parent = H5I_INVALID_HID, space = H5I_INVALID_HID, dset = H5I_INVALID_HID;
    const char *leaf = NULL;
    size_t nelem = 0, bytes = 0;
    if (shape_bytes(type, rank, dims, &nelem, &bytes) < 0) {
        sp_error_set(err, "dataset %s: size overflows", name);
        goto done;
    }
    SP_ASSERT(nelem == 0 || data != NULL);
    parent = parent_require(loc, name, &leaf, err);
    if (parent < 0) goto done;
    hsize_t hd[2] = {rank > 0 ? dims[0] : 1, rank == 2 ? dims[1] : 1};
    space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, hd, NULL);
    if (space < 0) {
        sp_h5_fail(err, "dataset %s: creating the dataspace failed", name);
        goto done;
    }
    dset = H5Dcreate2(parent, leaf, file_type(type), space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (dset < 0) {
        sp_h5_fail(err, "dataset %s: creation failed", name);
        goto done;
    }
    if (nelem > 0 && H5Dwrite(dset, mem_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        sp_h5_fail(err, "dataset %s: writing %zu bytes failed", name, bytes);
        goto done;
    }
    rc = 0;
done:
    if (dset >= 0) H5Dclose(dset);
    if (space >= 0) H5Sclose(space);
    if (parent >= 0) H5Idec_ref(parent);
    return rc;
}

/* Maps a file type onto ours (class, size and sign); -1 when it is none of them. */
static int classify(hid_t t, sp_h5_dtype *out)
{
    H5T_class_t c = H5Tget_class(t);
    size_t size = H5Tget_size(t);
    if (c == H5T_FLOAT && size == 8) {
        *out = SP_H5_F64;
        return 0;
    }
    if (c == H5T_INTEGER && size == 8 && H5Tget_sign(t) == H5T_SGN_2) {
        *out = SP_H5_I64;
        return 0;
    }
    if (c == H5T_INTEGER && size == 1 && H5Tget_sign(t) == H5T_SGN_NONE) {
        *out = SP_H5_U8;
        return 0;
    }
    return -1;
}

/* Type, rank and dims of an open dataset. */
static int dset_shape(hid_t dset, const char *name, sp_h5_dtype *type, int *rank,
                      uint64_t dims[2], sp_error *err)
{
    int rc = -1;
    hid_t t = H5Dget_type(dset), space = H5Dget_space(dset);
    if (t < 0 || space < 0) {
        sp_h5_fail(err, "dataset %s: cannot read its type or dataspace", name);
        goto done;
    }
    if (classify(t, type) < 0) {
        sp_error_set(err, "dataset %s: element type is not f64, i64 or u8", name);
        goto done;
    }
    int r = H5Sget_simple_extent_ndims(space);
    if (r < 0 || r > 2) {
        sp_error_set(err, "dataset %s: rank %d, expected 0, 1 or 2", name, r);
        goto done;
    }
    hsize_t hd[2] = {1, 1};
    if (r > 0 && H5Sget_simple_extent_dims(space, hd, NULL) < 0) {
        sp_h5_fail(err, "dataset %s: cannot read its dimensions", name);
        goto done;
    }
    *rank = r;
    dims[0] = hd[0];
    dims[1] = r == 2 ? hd[1] : 1;
    rc = 0;
done:
    if (t >= 0) H5Tclose(t);
    if (space >= 0) H5Sclose(space);
    return rc;
}

int sp_h5_array_info(hid_t loc, const char *name, sp_h5_dtype *type, int *rank, uint64_t dims[2],
                     sp_error *err)
{
    hid_t dset = H5Dopen2(loc, name, H5P_DEFAULT);
    if (dset < 0) return sp_h5_fail(err, "dataset %s: cannot open", name);
    int rc = dset_shape(dset, name, type, rank, dims, err);
    H5Dclose(dset);
    return rc;
}

/* The byte size must agree with what is stored (contiguous) and stay within the file. */
static int check_storage(hid_t dset, const char *name, size_t bytes, sp_error *err)
{
    hid_t file = H5Iget_file_id(dset), dcpl = H5Dget_create_plist(dset);
    hsize_t fsize = 0;
    int rc = -1;
    if (file < 0 || dcpl < 0 || H5Fget_filesize(file, &fsize) < 0) {
        sp_h5_fail(err, "dataset %s: cannot query the storage", name);
        goto done;
    }
    hsize_t stored = H5Dget_storage_size(dset);
    H5D_layout_t layout = H5Pget_layout(dcpl);
    if (layout == H5D_CONTIGUOUS && bytes > 0 && stored != bytes) {
        sp_error_set(err, "dataset %s: shape needs %zu bytes but %llu are stored (damaged file)",
                     name, bytes, (unsigned long long)stored);
        goto done;
    }
    if (layout != H5D_COMPACT && (double)bytes > 1024.0 * (double)fsize + 65536.0) {
        sp_error_set(err, "dataset %s: shape needs %zu bytes, implausible for a %llu-byte file",
                     name, bytes, (unsigned long long)fsize);
        goto done;
    }
    rc = 0;
done:
    if (dcpl >= 0) H5Pclose(dcpl);
    if (file >= 0) H5Fclose(file);
    return rc;
}

int sp_h5_read_array(hid_t loc, const char *name, sp_h5_dtype type, int rank, int *rank_out,
                     uint64_t dims[2], void **data, sp_error *err)
{
    int rc = -1, r = 0;
    sp_h5_dtype got;
    size_t nelem = 0, bytes = 0;
    void *buf = NULL;
    *data = NULL;
    hid_t dset = H5Dopen2(loc, name, H5P_DEFAULT);
    if (dset < 0) return sp_h5_fail(err, "dataset %s: cannot open", name);
    if (dset_shape(dset, name, &got, &r, dims, err) < 0) goto done;
    if (got != type) {
        sp_error_set(err, "dataset %s: element type %s, expected %s", name, sp_h5_dtype_name(got),
                     sp_h5_dtype_name(type));
        goto done;
    }
    if (rank >= 0 && r != rank) {
        sp_error_set(err, "dataset %s: rank %d, expected %d", name, r, rank);
        goto done;
    }
    if (shape_bytes(type, r, dims, &nelem, &bytes) < 0) {
        sp_error_set(err, "dataset %s: size overflows", name);
        goto done;
    }
    if (check_storage(dset, name, bytes, err) < 0) goto done;
    buf = sp_xmalloc(bytes ? bytes : 1);
    if (nelem > 0 && H5Dread(dset, mem_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        sp_h5_fail(err, "dataset %s: reading %zu bytes failed", name, bytes);
        goto done;
    }
    *data = buf;
    buf = NULL;
    if (rank_out) *rank_out = r;
    rc = 0;
done:
    free(buf);
    H5Dclose(dset);
    return rc;
}

/* ---- strings --------------------------------------------------------------------------- */

static hid_t vl_utf8_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return t;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

/* Reads one string from an attribute (is_attr) or a dataset with a scalar/1-element space. */
static int read_one_string(hid_t obj, int is_attr, const char *what, char **out, sp_error *err)
{
    int rc = -1;
    hid_t ft = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
    hid_t space = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
    hid_t mt = H5I_INVALID_HID;
    char *vl = NULL, *fixed = NULL;
    if (ft < 0 || space < 0) {
        sp_h5_fail(err, "%s: cannot read its type or dataspace", what);
        goto done;
    }
    if (H5Tget_class(ft) != H5T_STRING || H5Sget_simple_extent_npoints(space) != 1) {
        sp_error_set(err, "%s: expected a single string", what);
        goto done;
    }
    htri_t is_vl = H5Tis_variable_str(ft);
    mt = H5Tcopy(H5T_C_S1);
    H5T_cset_t cset = H5Tget_cset(ft);
    size_t fsize = H5Tget_size(ft);
    if (is_vl < 0 || mt < 0 || cset < 0 || H5Tset_cset(mt, cset) < 0 ||
        H5Tset_size(mt, is_vl ? H5T_VARIABLE : fsize + 1) < 0) {
        sp_h5_fail(err, "%s: cannot build the memory string type", what);
        goto done;
    }
    void *dst = is_vl ? (void *)&vl : (void *)(fixed = sp_xcalloc(fsize + 2, 1));
    herr_t r = is_attr ? H5Aread(obj, mt, dst) : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst);
    if (r < 0) {
        sp_h5_fail(err, "%s: reading the string failed", what);
        goto done;
    }
    *out = is_vl ? sp_xstrdup(vl ? vl : "") : fixed;
    if (!is_vl) fixed = NULL;
    rc = 0;
done:
    if (vl) H5free_memory(vl);
    free(fixed);
    if (mt >= 0) H5Tclose(mt);
    if (ft >= 0) H5Tclose(ft);
    if (space >= 0) H5Sclose(space);
    return rc;
}

int sp_h5_write_text(hid_t loc, const char *name, const char *text, sp_error *err)
{
    int rc = -1;
    const char *leaf = NULL;
    hid_t space = H5I_INVALID_HID, t = H5I_INVALID_HID, dset = H5I_INVALID_HID;
    hid_t parent = parent_require(loc, name, &leaf, err);
    if (parent < 0) return -1;
    space = H5Screate(H5S_SCALAR);
    t = vl_utf8_type();
    if (space < 0 || t < 0) {
        sp_h5_fail(err, "dataset %s: creating the string type failed", name);
        goto done;
    }
    dset = H5Dcreate2(parent, leaf, t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (dset < 0 || H5Dwrite(dset, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) < 0) {
        sp_h5_fail(err, "dataset %s: writing the string failed", name);
        goto done;
    }
    rc = 0;
done:
    if (dset >= 0) H5Dclose(dset);
    if (t >= 0) H5Tclose(t);
    if (space >= 0) H5Sclose(space);
    H5Idec_ref(parent);
    return rc;
}

int sp_h5_read_text(hid_t loc, const char *name, char **text, sp_error *err)
{
    hid_t dset = H5Dopen2(loc, name, H5P_DEFAULT);
    if (dset < 0) return sp_h5_fail(err, "dataset %s: cannot open", name);
    char what[600];
    snprintf(what, sizeof what, "dataset %s", name);
    int rc = read_one_string(dset, 0, what, text, err);
    H5Dclose(dset);
    return rc;
}

/* ---- attributes ------------------------------------------------------------------------ */

int sp_h5_attr_exists(hid_t loc, const char *obj_path, const char *name, int *found,
                      sp_error *err)
{
    htri_t e = H5Aexists_by_name(loc, obj_path, name, H5P_DEFAULT);
    if (e < 0) return sp_h5_fail(err, "%s: probing attribute \"%s\" failed", obj_path, name);
    *found = e > 0;
    return 0;
}

/* Creates (replacing an existing one) attribute `name` with the given type and space. */
static hid_t attr_create(hid_t loc, const char *obj_path, const char *name, hid_t t, hid_t space,
                         sp_error *err)
{
    htri_t e = H5Aexists_by_name(loc, obj_path, name, H5P_DEFAULT);
    if (e < 0 || (e > 0 && H5Adelete_by_name(loc, obj_path, name, H5P_DEFAULT) < 0)) {
        sp_h5_fail(err, "%s: probing/replacing attribute \"%s\" failed", obj_path, name);
        return H5I_INVALID_HID;
    }
    hid_t a = H5Acreate_by_name(loc, obj_path, name, t, space, H5P_DEFAULT, H5P_DEFAULT,
                                H5P_DEFAULT);
    if (a < 0) sp_h5_fail(err, "%s: creating attribute \"%s\" failed", obj_path, name);
    return a;
}

/* Creates (replacing) attribute `name` of obj_path, file type ft over `space`, and writes buf
 * (memory type mt) unless do_write is 0 (an empty array). The caller owns ft, mt and space. */
static int attr_write(hid_t loc, const char *obj_path, const char *name, hid_t ft, hid_t mt,
                      hid_t space, const void *buf, int do_write, sp_error *err)
{
    hid_t a = attr_create(loc, obj_path, name, ft, space, err);
    if (a < 0) return -1;
    int rc = 0;
    if (do_write && H5Awrite(a, mt, buf) < 0)
        rc = sp_h5_fail(err, "%s: writing attribute \"%s\" failed", obj_path, name);
    H5Aclose(a);
    return rc;
}

int sp_h5_attr_write_str(hid_t loc, const char *obj_path, const char *name, const char *value,
                         sp_error *err)
{
    hid_t space = H5Screate(H5S_SCALAR), t = vl_utf8_type();
    int rc = space < 0 || t < 0
                 ? sp_h5_fail(err, "%s: attribute \"%s\": creating the string type failed",
                              obj_path, name)
                 : attr_write(loc, obj_path, name, t, t, space, &value, 1, err);
    if (t >= 0) H5Tclose(t);
    if (space >= 0) H5Sclose(space);
    return rc;
}

int sp_h5_attr_read_str(hid_t loc, const char *obj_path, const char *name, char **value,
                        sp_error *err)
{
    hid_t a = H5Aopen_by_name(loc, obj_path, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return sp_h5_fail(err, "%s: cannot open attribute \"%s\"", obj_path, name);
    char what[600];
    snprintf(what, sizeof what, "%s: attribute \"%s\"", obj_path, name);
    int rc = read_one_string(a, 1, what, value, err);
    H5Aclose(a);
    return rc;
}

int sp_h5_attr_write_i64(hid_t loc, const char *obj_path, const char *name, int64_t value,
                         sp_error *err)
{
    hid_t space = H5Screate(H5S_SCALAR);
    int rc = space < 0 ? sp_h5_fail(err, "%s: attribute \"%s\": creating the dataspace failed",
                                    obj_path, name)
                       : attr_write(loc, obj_path, name, H5T_STD_I64LE, H5T_NATIVE_INT64, space,
                                    &value, 1, err);
    if (space >= 0) H5Sclose(space);
    return rc;
}

int sp_h5_attr_read_i64(hid_t loc, const char *obj_path, const char *name, int64_t *value,
                        sp_error *err)
{
    int rc = -1;
    hid_t t = H5I_INVALID_HID, space = H5I_INVALID_HID;
    hid_t a = H5Aopen_by_name(loc, obj_path, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return sp_h5_fail(err, "%s: cannot open attribute \"%s\"", obj_path, name);
    t = H5Aget_type(a);
    space = H5Aget_space(a);
    if (t < 0 || space < 0) {
        sp_h5_fail(err, "%s: attribute \"%s\": cannot read its type", obj_path, name);
        goto done;
    }
    if (H5Tget_class(t) != H5T_INTEGER || H5Sget_simple_extent_npoints(space) != 1) {
        sp_error_set(err, "%s: attribute \"%s\" is not a single integer", obj_path, name);
        goto done;
    }
    if (H5Aread(a, H5T_NATIVE_INT64, value) < 0) {
        sp_h5_fail(err, "%s: reading attribute \"%s\" failed", obj_path, name);
        goto done;
    }
    rc = 0;
done:
    if (t >= 0) H5Tclose(t);
    if (space >= 0) H5Sclose(space);
    H5Aclose(a);
    return rc;
}

int sp_h5_attr_write_strs(hid_t loc, const char *obj_path, const char *name,
                          const char *const *values, size_t n, sp_error *err)
{
    hsize_t dim = n;
    hid_t space = H5Screate_simple(1, &dim, NULL), t = vl_utf8_type();
    int rc = space < 0 || t < 0
                 ? sp_h5_fail(err, "%s: attribute \"%s\": creating the string type failed",
                              obj_path, name)
                 : attr_write(loc, obj_path, name, t, t, space, values, n > 0, err);
    if (t >= 0) H5Tclose(t);
    if (space >= 0) H5Sclose(space);
    return rc;
}

void sp_h5_strs_free(char **values, size_t n)
{
    if (!values) return;
    for (size_t i = 0; i < n; i++) free(values[i]);
    free(values);
}

int sp_h5_attr_read_strs(hid_t loc, const char *obj_path, const char *name, char ***values,
                         size_t *n, sp_error *err)
{
    int rc = -1;
    char **vl = NULL;
    hssize_t np = 0;
    hid_t ft = H5I_INVALID_HID, mt = H5I_INVALID_HID, space = H5I_INVALID_HID;
    hid_t a = H5Aopen_by_name(loc, obj_path, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return sp_h5_fail(err, "%s: cannot open attribute \"%s\"", obj_path, name);
    ft = H5Aget_type(a);
    space = H5Aget_space(a);
    if (ft < 0 || space < 0) {
        sp_h5_fail(err, "%s: attribute \"%s\": cannot read its type", obj_path, name);
        goto done;
    }
    np = H5Sget_simple_extent_npoints(space);
    if (H5Tget_class(ft) != H5T_STRING || H5Tis_variable_str(ft) <= 0 || np < 0 ||
        H5Sget_simple_extent_ndims(space) != 1) {
        sp_error_set(err, "%s: attribute \"%s\" is not a 1-D array of variable-length strings",
                     obj_path, name);
        goto done;
    }
    mt = vl_utf8_type();
    if (mt < 0 || H5Tset_cset(mt, H5Tget_cset(ft)) < 0) {
        sp_h5_fail(err, "%s: attribute \"%s\": building the memory type failed", obj_path, name);
        goto done;
    }
    vl = sp_xcalloc((size_t)np + 1, sizeof *vl);
    if (np > 0 && H5Aread(a, mt, vl) < 0) {
        sp_h5_fail(err, "%s: reading attribute \"%s\" failed", obj_path, name);
        goto done;
    }
    char **out = sp_xcalloc((size_t)np + 1, sizeof *out);
    for (hssize_t i = 0; i < np; i++) out[i] = sp_xstrdup(vl[i] ? vl[i] : "");
    *values = out;
    *n = (size_t)np;
    rc = 0;
done:
    if (vl) {
        if (np > 0 && mt >= 0) H5Dvlen_reclaim(mt, space, H5P_DEFAULT, vl);
        free(vl);
    }
    if (mt >= 0) H5Tclose(mt);
    if (ft >= 0) H5Tclose(ft);
    if (space >= 0) H5Sclose(space);
    H5Aclose(a);
    return rc;
}

int sp_h5_data_offset(const char *path, const char *dataset, uint64_t *offset, sp_error *err)
{
    int rc = -1;
    hid_t f = sp_h5_file_open_ro(path, err), d = H5I_INVALID_HID;
    if (f < 0) return -1;
    d = H5Dopen2(f, dataset, H5P_DEFAULT);
    if (d < 0) {
        sp_h5_fail(err, "%s: dataset %s: cannot open", path, dataset);
        goto done;
    }
    haddr_t off = H5Dget_offset(d);
    if (off == HADDR_UNDEF) {
        sp_error_set(err, "%s: dataset %s has no contiguous raw data", path, dataset);
        goto done;
    }
    *offset = (uint64_t)off;
    rc = 0;
done:
    if (d >= 0) H5Dclose(d);
    H5Fclose(f);
    return rc;
}
