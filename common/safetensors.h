/* safetensors.h — memory-mapped, validated safetensors files (single file or sharded with
 * `model.safetensors.index.json`). Validation follows the reference format: 8-byte little-endian
 * header length (< 100 MB, inside the file), a JSON header, known dtypes, byte size =
 * product(shape) x dtype size (checked arithmetic), offsets inside the data section, no overlaps.
 * Every violation names the file, the tensor and the offsets. Weights are mapped read-only and
 * never copied wholesale. */
#ifndef SP_SAFETENSORS_H
#define SP_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef enum {
    SP_DT_F32 = 0,
    SP_DT_F16,
    SP_DT_BF16,
    SP_DT_F64,
    SP_DT_I64,
    SP_DT_I32,
    SP_DT_I16,
    SP_DT_I8,
    SP_DT_U8,
    SP_DT_BOOL,
    SP_DT_COUNT
} sp_dtype;

size_t sp_dtype_size(sp_dtype dt);
const char *sp_dtype_name(sp_dtype dt); /* safetensors spelling: "BF16", ... */

#define SP_TENSOR_MAX_DIMS 8

typedef struct {
    char *name;
    sp_dtype dtype;
    int ndim;
    int64_t shape[SP_TENSOR_MAX_DIMS];
    size_t nbytes;
    int file_index;     /* which shard */
    size_t file_offset; /* absolute byte offset of the data in that file */
    const void *data;   /* read-only view into the mapping */
} sp_tensor;

typedef struct {
    char *path;
    int fd;
    void *map;
    size_t size;
    size_t data_start; /* 8 + header length */
    char *metadata_json; /* the "__metadata__" object re-serialised, or NULL */
} sp_st_file;

typedef struct {
    int n_files;
    sp_st_file *files;
    int n_tensors;
    sp_tensor *tensors; /* sorted by name */
} sp_safetensors;

/* Opens one .safetensors file. */
int sp_st_open_file(const char *path, sp_safetensors *st, sp_error *err);
/* Opens a model directory: `model.safetensors.index.json` (every shard it names; every tensor
 * it lists must be in the shard it names) or a single `model.safetensors`. */
int sp_st_open_dir(const char *dir, sp_safetensors *st, sp_error *err);
void sp_st_close(sp_safetensors *st);

const sp_tensor *sp_st_find(const sp_safetensors *st, const char *name);
int64_t sp_tensor_numel(const sp_tensor *t);

/* Converts a tensor's elements (F32/F16/BF16) to fp32: dst has numel floats. Returns -1 with a
 * message for other dtypes. */
int sp_tensor_to_f32(const sp_tensor *t, float *dst, sp_error *err);

/* Scalar conversions used by converters and kernels' CPU references. */
float sp_bf16_to_f32(uint16_t h);
float sp_f16_to_f32(uint16_t h);
uint16_t sp_f32_to_bf16(float f); /* round to nearest even */

#endif
