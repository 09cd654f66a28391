/* state.h — an in-memory container of named arrays: the serialized form of a search's state.
 * Each entry is (name like "pso/positions", type f64 / i64 / u8, 0..2 dims, owned data).
 * Algorithms fill it in save() and restore from it in load(); the checkpoint writer maps each
 * entry to one HDF5 dataset. Getters check name, type and dims and report mismatches.
 * 64-bit unsigned values (seeds, mask words) are stored as i64 with the same bits. */
#ifndef SP_STATE_H
#define SP_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define SP_STATE_NAME_MAX 128

typedef enum { SP_STATE_F64 = 0, SP_STATE_I64 = 1, SP_STATE_U8 = 2 } sp_state_type;

typedef struct {
    char name[SP_STATE_NAME_MAX];
    sp_state_type type;
    int ndim;        /* 0 (scalar), 1 or 2 */
    size_t dims[2];  /* unused dims are 1 */
    size_t count;    /* dims[0] * dims[1] elements */
    void *data;      /* owned; count elements of type; NULL when count == 0 */
} sp_state_entry;

typedef struct {
    sp_state_entry *entries; /* [n] in insertion order */
    size_t n, cap;
} sp_state;

void sp_state_init(sp_state *s);
void sp_state_free(sp_state *s);
size_t sp_state_type_size(sp_state_type t);
const char *sp_state_type_name(sp_state_type t);

/* Copies data into a new entry. ndim 0..2; dims may contain 0 (empty arrays). A name that is
 * already present, empty or too long is an error. */
int sp_state_put(sp_state *s, const char *name, sp_state_type type, int ndim, const size_t *dims,
                 const void *data, sp_error *err);
/* Shorthands: 1-D array (rows = n) or 2-D (rows x cols). */
int sp_state_put_f64(sp_state *s, const char *name, size_t rows, size_t cols, const double *d,
                     sp_error *err);
int sp_state_put_i64(sp_state *s, const char *name, size_t rows, size_t cols, const int64_t *d,
                     sp_error *err);
int sp_state_put_u8(sp_state *s, const char *name, size_t rows, size_t cols, const uint8_t *d,
                    sp_error *err);

/* NULL when absent. */
const sp_state_entry *sp_state_find(const sp_state *s, const char *name);

/* Copies an entry into out after checking that it exists with this type, ndim and dims. */
int sp_state_get(const sp_state *s, const char *name, sp_state_type type, int ndim,
                 const size_t *dims, void *out, sp_error *err);
/* Looks up an entry of this type and ndim whose dims are not known in advance (histories);
 * returns it through *out (data stays owned by the state). */
int sp_state_get_any(const sp_state *s, const char *name, sp_state_type type, int ndim,
                     const sp_state_entry **out, sp_error *err);
/* Shorthands matching the put shorthands (cols == 0 means a 1-D array of rows). */
int sp_state_get_f64(const sp_state *s, const char *name, size_t rows, size_t cols, double *out,
                     sp_error *err);
int sp_state_get_i64(const sp_state *s, const char *name, size_t rows, size_t cols, int64_t *out,
                     sp_error *err);
int sp_state_get_u8(const sp_state *s, const char *name, size_t rows, size_t cols, uint8_t *out,
                    sp_error *err);

#endif
