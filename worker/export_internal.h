/* export_internal.h — what export.c and export_files.c share: the export plan (every kept
 * tensor with its new name and shard) and the durable-file helpers (write + fsync, copy, remove
 * a temporary tree, fsync a directory). Not a public interface. */
#ifndef SP_EXPORT_INTERNAL_H
#define SP_EXPORT_INTERNAL_H

#include <stdint.h>

#include "export.h"

typedef struct {
    const sp_tensor *src; /* view into the source mapping */
    char *name;           /* name in the export */
    int layer;            /* new layer index, -1 outside the layers */
    int shard;            /* 0-based shard */
    int rewrite;          /* 1: stored as F32 from opt->rewrite (a LoRA merge) */
    size_t nbytes;        /* bytes in the export */
} sp_ex_item;

typedef struct {
    int n_items;
    sp_ex_item *items;    /* [n_items] in file order: embeddings, layers 0.., the rest */
    int n_shards;
    int *shard_first;     /* [n_shards + 1] item ranges */
    uint64_t *shard_bytes;/* [n_shards] */
    char **shard_file;    /* [n_shards] "model-00001-of-00003.safetensors" / "model.safetensors" */
    int n_layers;         /* L of the source */
    int *new_index;       /* [L] new index, -1 when removed */
    char removed_str[1100]; /* "3,7,11" */
    char fingerprint[17];
    int64_t params_before, params_after;
    uint64_t bytes_before, bytes_after;
} sp_ex_plan;

/* buf = "a/b"; -1 with a message when it does not fit. */
int sp_ex_join(char *buf, size_t size, const char *a, const char *b, sp_error *err);
/* Durable files: created (O_EXCL), written, fsynced, closed; a failure removes the file. */
int sp_ex_write_file(const char *path, const char *data, size_t len, sp_error *err);
/* Writes dir/name from cJSON_Print text respelled as Python's json indent=2 (Hugging Face's and
 * PEFT's files), ending in '\n'. */
int sp_ex_write_json_text(const char *dir, const char *name, const char *text, sp_error *err);
/* Copies src to dst (fsynced) when src exists; *copied = 0 when it does not. */
int sp_ex_copy_file(const char *src, const char *dst, int *copied, sp_error *err);
int sp_ex_fsync_dir(const char *dir, sp_error *err);
/* Removes a directory tree we created (no symlinks followed). Best effort. */

/* model.safetensors.index.json text (malloc'ed): metadata.total_size + sorted weight_map. */
char *sp_ex_index_json(const sp_ex_plan *p);
/* swarmprune_export.json text (malloc'ed). */
char *sp_ex_record_json(const sp_ex_plan *p, const char *source_dir, uint64_t shard_size);

#endif
