/* heal_checkpoint.h — `heal`'s resumable state in one HDF5 file: the LoRA parameters and the
 * AdamW moments (f64 datasets holding fp32 values exactly), the optimizer step, the position in
 * the training stream, the seed (every random draw — shuffle, dropout — is a counter-based
 * function of seed, step and position, so these are the RNG counters), and hashes of the options
 * and the data that decide the result. Written atomically as the search's checkpoints: temporary
 * file, fsync, rename, fsync the directory; every dataset carries a checksum. */
#ifndef SP_HEAL_CHECKPOINT_H
#define SP_HEAL_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "../common/error.h"

#define SP_HEAL_CKPT_SCHEMA 1

typedef struct {
    int64_t step;          /* optimizer steps done */
    int64_t total_steps;   /* of the whole run */
    int64_t data_pos;      /* training windows consumed */
    uint64_t seed;
    uint64_t options_hash; /* sp_heal options that change the result (not threads, paths) */
    uint64_t data_hash;    /* sp_heal_data.hash */
    char model_fingerprint[17];
    size_t n_params;
    float *params;         /* [n_params] LoRA A and B in arena order (lora.h) */
    float *m, *v;          /* [n_params] AdamW moments */
    double last_eval_nll;  /* NaN when none yet */
} sp_heal_ckpt;

/* Writes c to path atomically. */
int sp_heal_ckpt_write(const char *path, const sp_heal_ckpt *c, sp_error *err);

/* Reads path into c (params, m, v malloc'ed into c unless c->params is set, in which case the
 * arrays must hold c->n_params: they are filled in place). Checks the schema, every checksum and
 * the sizes; the caller compares the hashes. */
int sp_heal_ckpt_read(const char *path, sp_heal_ckpt *c, sp_error *err);

#endif
