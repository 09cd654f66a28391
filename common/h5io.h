/* h5io.h — thin, checked helpers over the HDF5 C API (1.10, serial) used by the checkpoint.
 * Every function returns 0 / a valid hid_t on success and -1 / H5I_INVALID_HID on failure with
 * an sp_error naming the object ("dataset /history/fitness: ...") and HDF5's own diagnostic
 * (the error stack walked with H5Ewalk2). File types are explicit little-endian
 * (H5T_IEEE_F64LE, H5T_STD_I64LE, H5T_STD_U8LE); strings are variable-length UTF-8. Existence
 * is probed with H5Lexists/H5Aexists: the global error handler is never toggled. */
#ifndef SP_H5IO_H
#define SP_H5IO_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Element types of the arrays we store (file and memory). */
typedef enum { SP_H5_F64 = 0, SP_H5_I64 = 1, SP_H5_U8 = 2 } sp_h5_dtype;

size_t sp_h5_dtype_size(sp_h5_dtype t);
const char *sp_h5_dtype_name(sp_h5_dtype t); /* "f64", "i64", "u8" */

/* Sets err to "<formatted>: HDF5: <error stack>" and returns -1. Call it right after the
 * failing HDF5 call (any later API call clears the stack). */
int sp_h5_fail(sp_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Files: create truncates (default = earliest format bounds, h5dump/h5py friendly). */
hid_t sp_h5_file_create(const char *path, sp_error *err);
hid_t sp_h5_file_open_ro(const char *path, sp_error *err);
int sp_h5_file_close(hid_t file, const char *path, sp_error *err);

/* Probes a '/'-separated path relative to loc, component by component with H5Lexists.
 * *found = 1 when every link exists. */
int sp_h5_exists(hid_t loc, const char *path, int *found, sp_error *err);

/* Opens (creating missing components) the group at a '/'-separated path. Close with H5Gclose. */
hid_t sp_h5_group_require(hid_t loc, const char *path, sp_error *err);

/* Writes a contiguous dataset `name` of rank 0 (scalar), 1 or 2 (name may contain '/': missing
 * groups are created). dims[0..rank-1] may be 0. data: row-major, host order, `type` elements. */
int sp_h5_write_array(hid_t loc, const char *name, sp_h5_dtype type, int rank,
                      const uint64_t dims[2], const void *data, sp_error *err);

/* Type and shape of a dataset; fails when the file type is not one of ours (f64/i64/u8, any
 * byte order) or the rank is above 2. Unused dims are 1. */
int sp_h5_array_info(hid_t loc, const char *name, sp_h5_dtype *type, int *rank, uint64_t dims[2],
                     sp_error *err);

/* Reads a dataset that must have element type `type` and rank `rank` (-1 = any of 0..2).
 * Allocates *data (free()); *data is a valid 1-byte allocation when there are no elements.
 * Refuses shapes whose byte size disagrees with the stored size or exceeds the file size. */
int sp_h5_read_array(hid_t loc, const char *name, sp_h5_dtype type, int rank, int *rank_out,
                     uint64_t dims[2], void **data, sp_error *err);

/* Scalar variable-length UTF-8 string dataset (the job text). */
int sp_h5_write_text(hid_t loc, const char *name, const char *text, sp_error *err);
int sp_h5_read_text(hid_t loc, const char *name, char **text, sp_error *err);

/* Attributes of the object at obj_path relative to loc ("." = loc itself: a file, group or
 * dataset id). Strings are written VL UTF-8; reads accept variable or fixed-length strings in
 * either cset (the memory type takes the file's cset). */
int sp_h5_attr_exists(hid_t loc, const char *obj_path, const char *name, int *found,
                      sp_error *err);
int sp_h5_attr_write_str(hid_t loc, const char *obj_path, const char *name, const char *value,
                         sp_error *err);
int sp_h5_attr_read_str(hid_t loc, const char *obj_path, const char *name, char **value,
                        sp_error *err);
int sp_h5_attr_write_i64(hid_t loc, const char *obj_path, const char *name, int64_t value,
                         sp_error *err);
int sp_h5_attr_read_i64(hid_t loc, const char *obj_path, const char *name, int64_t *value,
                        sp_error *err);
/* 1-D array of VL UTF-8 strings (e.g. metric names). read: *values is an array of n
 * malloc'ed strings (sp_h5_strs_free); n may be 0. */
int sp_h5_attr_write_strs(hid_t loc, const char *obj_path, const char *name,
                          const char *const *values, size_t n, sp_error *err);
int sp_h5_attr_read_strs(hid_t loc, const char *obj_path, const char *name, char ***values,
                         size_t *n, sp_error *err);
void sp_h5_strs_free(char **values, size_t n);

/* Byte offset of a contiguous dataset's raw data in the file (tests flip bytes there). */
int sp_h5_data_offset(const char *path, const char *dataset, uint64_t *offset, sp_error *err);

#endif
