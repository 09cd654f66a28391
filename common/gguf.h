/* gguf.h — a validated, memory-mapped reader of GGUF files (llama.cpp's model format, v2/v3).
 * Layout: "GGUF" magic, u32 version, u64 tensor count, u64 KV count; KV pairs (string key, u32
 * value type, value; arrays nest); tensor infos (name, u32 n_dims, u64 ne[n_dims], u32 type, u64
 * offset); then the data section at the next multiple of general.alignment (default 32). Every
 * count, length, shape, size and offset is checked against the file before use; violations name
 * the file, the key or tensor and the byte offset. ne[0] is the fastest-varying dimension. */
#ifndef SP_GGUF_H
#define SP_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef enum {
    SP_GGUF_U8 = 0,
    SP_GGUF_I8 = 1,
    SP_GGUF_U16 = 2,
    SP_GGUF_I16 = 3,
    SP_GGUF_U32 = 4,
    SP_GGUF_I32 = 5,
    SP_GGUF_F32 = 6,
    SP_GGUF_BOOL = 7,
    SP_GGUF_STRING = 8,
    SP_GGUF_ARRAY = 9,
    SP_GGUF_U64 = 10,
    SP_GGUF_I64 = 11,
    SP_GGUF_F64 = 12,
    SP_GGUF_VTYPE_COUNT
} sp_gguf_vtype;

#define SP_GGUF_MAX_DIMS 4
#define SP_GGUF_MAX_NESTING 8 /* arrays of arrays deeper than this are refused */

/* One metadata value. Scalars are decoded; strings and fixed-size array payloads point into the
 * read-only mapping (strings are NOT NUL-terminated). */
typedef struct sp_gguf_value {
    sp_gguf_vtype type;
    union {
        uint64_t u;   /* U8/U16/U32/U64 and BOOL (0/1) */
        int64_t i;    /* I8/I16/I32/I64 */
        double f;     /* F32/F64 */
        struct {
            const char *ptr;
            uint64_t len;
        } str;
        struct {
            sp_gguf_vtype elem;  /* element type */
            uint64_t count;
            const uint8_t *raw;  /* fixed-size elements: count x size, little-endian */
            const char **strs;   /* STRING elements: [count] pointers into the mapping */
            uint64_t *str_lens;  /* [count] */
            struct sp_gguf_value *items; /* ARRAY elements: [count] nested values */
        } arr;
    } v;
} sp_gguf_value;

typedef struct {
    char *key;         /* NUL-terminated copy */
    size_t file_offset; /* byte offset of the key in the file (for messages) */
    sp_gguf_value val;
} sp_gguf_kv;

typedef struct {
    char *name;                       /* NUL-terminated copy */
    int n_dims;                       /* 1..4 */
    int64_t ne[SP_GGUF_MAX_DIMS];     /* ne[0] fastest-varying; unused dims are 1 */
    uint32_t type;                    /* ggml type id (see gguf_quant.h) */
    uint64_t offset;                  /* relative to the data section */
    size_t nbytes;
    size_t info_offset;               /* byte offset of the tensor info in the file */
    const void *data;                 /* read-only view into the mapping */
} sp_gguf_tensor;

typedef struct {
    char *path;
    int fd;
    void *map;
    size_t size;
    uint32_t version;
    uint32_t alignment;
    size_t data_start;
    int64_t n_kv;
    sp_gguf_kv *kv;          /* in file order */
    int64_t n_tensors;
    sp_gguf_tensor *tensors; /* in file order */
} sp_gguf;

/* Opens, maps and validates a GGUF file. On failure *g is left closed (nothing to free). */
int sp_gguf_open(const char *path, sp_gguf *g, sp_error *err);
void sp_gguf_close(sp_gguf *g);

const sp_gguf_kv *sp_gguf_find_kv(const sp_gguf *g, const char *key);
const sp_gguf_tensor *sp_gguf_find_tensor(const sp_gguf *g, const char *name);
int64_t sp_gguf_tensor_numel(const sp_gguf_tensor *t);
const char *sp_gguf_vtype_name(sp_gguf_vtype t);

/* Typed lookups. Return 1 when found and converted, 0 when absent and !required (the output
 * is untouched), -1 on error (absent and required, wrong type, out of range); messages name the
 * file and the key. Integers accept every GGUF integer type; doubles accept F32/F64. */
int sp_gguf_get_int(const sp_gguf *g, const char *key, int required, int64_t lo, int64_t hi,
                    int64_t *out, sp_error *err);
int sp_gguf_get_double(const sp_gguf *g, const char *key, int required, double *out,
                       sp_error *err);
int sp_gguf_get_bool(const sp_gguf *g, const char *key, int required, int *out, sp_error *err);
/* *ptr points into the mapping (not NUL-terminated). */
int sp_gguf_get_str(const sp_gguf *g, const char *key, int required, const char **ptr,
                    size_t *len, sp_error *err);
/* An array whose elements have type `elem`. */
int sp_gguf_get_array(const sp_gguf *g, const char *key, int required, sp_gguf_vtype elem,
                      const sp_gguf_value **out, sp_error *err);

/* Element i of an integer array (any integer element type) as int64. */
int64_t sp_gguf_array_int(const sp_gguf_value *arr, uint64_t i);

#endif
