/* checkpoint_internal.h — helpers shared by checkpoint.c and checkpoint_io.c (not public). */
#ifndef SP_CHECKPOINT_INTERNAL_H
#define SP_CHECKPOINT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "checkpoint.h"

/* Type code hashed for string datasets (numeric ones use their sp_h5_dtype). */
#define SP_CKPT_TEXT_TYPE 100

uint64_t sp_ckpt_root_checksum(const sp_ckpt *c, const char *created, const char *updated,
                               uint64_t dataset_sum, int64_t dataset_count);
uint64_t sp_ckpt_dataset_checksum(const char *path, int type, int rank, const uint64_t dims[2],
                                  const void *data, size_t bytes);

#endif
