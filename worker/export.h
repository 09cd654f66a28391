/* export.h — writes a pruned model as a real Hugging Face checkpoint: the removed layers dropped,
 * the kept ones renumbered contiguously, safetensors shards (source dtypes, bounded shard size)
 * + index, config.json with num_hidden_layers (and per-layer lists) updated, tokenizer files
 * copied, and swarmprune_export.json recording the source. Streams tensor by tensor from the
 * source mapping into DIR.tmp.<pid>, fsyncs, then renames: a failure leaves nothing at DIR. */
#ifndef SP_EXPORT_H
#define SP_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "../common/checkpoint.h"
#include "../common/error.h"
#include "../common/mask.h"
#include "../common/model.h"

#define SP_EXPORT_DEFAULT_SHARD_SIZE 5000000000ull /* "5GB", as Hugging Face */

typedef struct {
    uint64_t shard_size; /* max tensor bytes per shard (a larger tensor gets a shard of its own);
                            0 = SP_EXPORT_DEFAULT_SHARD_SIZE */
    int force;           /* replace an existing DIR, only once the new one is complete */
    FILE *progress;      /* progress lines (tensor i/N, bytes, MB/s), or NULL for none */
    /* Optional rewrite of kept tensors (heal --merge: W + scaling * B A). rewrites(ctx, src) says
       at planning time whether a source tensor will be replaced; rewrite(ctx, src, data) then
       returns 0 with *data = its new value (malloc'ed, numel floats, stored as F32 so the merge
       loses nothing) or -1 with a message. NULL: plain copy. */
    int (*rewrites)(void *ctx, const sp_tensor *src);
    int (*rewrite)(void *ctx, const sp_tensor *src, float **data, sp_error *err);
    void *rewrite_ctx;
} sp_export_options;

typedef struct {
    int layers_before, layers_after;
    int n_tensors, n_shards;
    int64_t params_before, params_after; /* elements of every stored tensor */
    uint64_t bytes_before, bytes_after;  /* tensor payload bytes */
    char fingerprint[17];                /* source fingerprint (sp_model_fingerprint) */
    double seconds;
} sp_export_result;

/* Exports model m without the layers in `removed` (each < L, not all of them) to out_dir.
 * Refuses an existing out_dir unless opt->force, an out_dir that is or contains the source,
 * and tensors the writer cannot store. Polls sp_signal_pending() between chunks: a signal
 * aborts the export and removes the temporary directory. */
int sp_export_model(const sp_model *m, const sp_mask *removed, const char *out_dir,
                    const sp_export_options *opt, sp_export_result *res, sp_error *err);

/* The best mask of a search checkpoint / results.h5 (last row of its best trajectory). The file
 * must have been written for this model (fingerprint and layer count); k >= 0 requires the mask
 * to remove exactly k layers (k < 0: no check). */
typedef struct {
    sp_mask mask;
    double fitness;
    int64_t evaluation;     /* evaluations done when it was found */
    int64_t n_evaluations;  /* evaluations in the file */
    sp_ckpt_status status;  /* running / stopped / done */
    char algorithm[32];
} sp_export_best;

int sp_export_best_mask(const char *results_path, const sp_model *m, int64_t k,
                        sp_export_best *out, sp_error *err);

/* "5GB" (10^9), "2GiB" (2^30), "500MB", "64KiB", "123" (bytes), "123B": positive, at most
 * 2^62 bytes. `what` names the option in messages. */
int sp_export_parse_size(const char *text, const char *what, uint64_t *out, sp_error *err);

/* config.json text with num_hidden_layers set to the kept count and every top-level list whose
 * key names layers and which has one entry per layer filtered the same way; every other byte of
 * the text is kept (key order, number spelling, indentation). *out is malloc'ed, NUL-terminated.
 * A layer list of another length is refused ("not implemented"). `what` names the file. */
int sp_export_rewrite_config(const char *text, size_t len, const char *what, int n_layers,
                             const sp_mask *removed, char **out, size_t *out_len, sp_error *err);

/* New name of a source tensor: "model.layers.<old>.<rest>" -> "model.layers.<new>.<rest>"
 * (new = old minus the removed layers below it), others unchanged. Returns 1 and fills dst when
 * kept, 0 when the tensor belongs to a removed layer, -1 when dst is too small. *layer gets the
 * new layer index, or -1 for a tensor outside the layers. */
int sp_export_tensor_name(const char *src, int n_layers, const sp_mask *removed, char *dst,
                          size_t size, int *layer);

#endif
