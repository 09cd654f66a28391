/* safetensors_write.h — a streaming writer of one .safetensors file. The caller declares every
 * tensor (name, dtype, shape) up front; the writer computes the JSON header with data_offsets
 * (tensors laid out in declaration order, header padded with spaces to a multiple of 8 bytes),
 * writes it, then takes the payloads tensor by tensor, in order, in chunks of any size. Nothing
 * is held in memory but the header. Used by `convert` and by `export`. */
#ifndef SP_SAFETENSORS_WRITE_H
#define SP_SAFETENSORS_WRITE_H

#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "safetensors.h"

typedef struct {
    const char *name;
    sp_dtype dtype; /* F32, F16 or BF16 (others are refused) */
    int ndim;       /* 1..SP_TENSOR_MAX_DIMS */
    int64_t shape[SP_TENSOR_MAX_DIMS];
} sp_stw_tensor;

typedef struct {
    char *path;
    FILE *f;
    int n_tensors;
    char **names;     /* [n_tensors] copies, for messages */
    size_t *nbytes;   /* [n_tensors] */
    int cur;          /* tensor being written */
    size_t cur_done;  /* bytes of it written so far */
} sp_st_writer;

/* Creates `path` and writes the header. meta: NULL or a NULL-terminated list of key, value,
 * key, value ... strings stored as "__metadata__". Names must be unique and non-empty. */
int sp_st_writer_open(sp_st_writer *w, const char *path, const sp_stw_tensor *tensors, int n,
                      const char *const *meta, sp_error *err);
/* Appends len bytes of the current tensor's payload, in declaration order. A chunk must not
 * cross into the next tensor (split it at the boundary); an oversized chunk is an error. */
int sp_st_writer_write(sp_st_writer *w, const void *data, size_t len, sp_error *err);
/* Checks every byte was written, flushes, fsyncs and closes. Frees w either way. */
int sp_st_writer_close(sp_st_writer *w, sp_error *err);
/* Closes and removes the partial file. */
void sp_st_writer_abort(sp_st_writer *w);

#endif
