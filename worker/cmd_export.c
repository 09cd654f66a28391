/* cmd_export.c — `swarmprune export MODEL_DIR (--remove LIST | --from RESULTS.h5 [--k K])
 * --out DIR [--shard-size SIZE] [--force] [--quiet]`: writes the pruned model as a Hugging Face
 * checkpoint (see worker/export.h). Nothing appears at DIR unless the whole export succeeds. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../common/cli.h"
#include "../common/signals.h"
#include "export.h"

static void export_usage(FILE *f)
{
    fprintf(f,
            "usage: swarmprune export MODEL_DIR --remove LIST --out DIR [options]\n"
            "       swarmprune export MODEL_DIR --from RESULTS.h5 [--k K] --out DIR [options]\n\n"
            "Writes the model without the given layers as a Hugging Face checkpoint: safetensors\n"
            "shards (source dtypes) + model.safetensors.index.json, config.json with\n"
            "num_hidden_layers (and per-layer lists) updated, the tokenizer and generation files\n"
            "copied, and swarmprune_export.json (removed layers, old->new layer map, source\n"
            "fingerprint, sizes). Kept layers are renumbered contiguously. The export is written\n"
            "to DIR.tmp.<pid> and renamed at the end: a failure leaves nothing at DIR.\n\n"
            "options:\n"
            "  --remove LIST     layers to remove, 0-based, e.g. 3,7,11\n"
            "  --from FILE       take the best mask of a search (results.h5 or checkpoint)\n"
            "  --k K             with --from: the mask must remove exactly K layers\n"
            "  --out DIR         output directory (must not exist unless --force)\n"
            "  --shard-size SIZE max tensor bytes per shard: 5GB (default), 500MB, 2GiB, bytes\n"
            "  --force           replace an existing DIR, once the new export is complete\n"
            "  --quiet           no progress lines\n"
            "  -h, --help        this help\n");
}

typedef struct {
    const char *model, *remove, *from, *out, *shard_size, *k;
    int force, quiet;
} export_args;

static int export_parse(int argc, char **argv, export_args *a, sp_error *err)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char **slot = strcmp(o, "--remove") == 0       ? &a->remove
                            : strcmp(o, "--from") == 0       ? &a->from
                            : strcmp(o, "--out") == 0        ? &a->out
                            : strcmp(o, "--shard-size") == 0 ? &a->shard_size
                            : strcmp(o, "--k") == 0          ? &a->k
                                                             : NULL;
        if (slot) {
            if (*slot) return sp_error_set(err, "%s given twice", o);
            if (sp_cli_value(argc, argv, &i, slot, err)) return -1;
        } else if (strcmp(o, "--force") == 0) {
            a->force = 1;
        } else if (strcmp(o, "--quiet") == 0) {
            a->quiet = 1;
        } else if (o[0] == '-' && o[1] != '\0') {
            return sp_error_set(err, "unknown option \"%s\" (see --help)", o);
        } else if (!a->model) {
            a->model = o;
        } else {
            return sp_error_set(err, "unexpected argument \"%s\"", o);
        }
    }
    if (!a->model) return sp_error_set(err, "missing MODEL_DIR (see --help)");
    if (!a->out) return sp_error_set(err, "missing --out DIR");
    if (!a->remove == !a->from) return sp_error_set(err, "give exactly one of --remove and --from");
    if (a->k && !a->from) return sp_error_set(err, "--k goes with --from");
    return 0;
}

/* The mask to export, from --remove or --from; prints where a --from mask came from. */
static int export_mask(const export_args *a, const sp_model *m, sp_mask *mask, sp_error *err)
{
    if (a->remove) return sp_mask_parse(a->remove, (int)m->cfg.n_layers, "--remove", mask, err);
    int64_t k = -1;
    if (a->k && sp_cli_int("--k", a->k, 0, m->cfg.n_layers - 1, &k, err)) return -1;
    sp_export_best best;
    if (sp_export_best_mask(a->from, m, k, &best, err)) return -1;
    char buf[1100];
    printf("best mask of %s (%s, %s, %" PRId64 " evaluations): fitness %.6g found at "
           "evaluation %" PRId64 ", removes %s\n", a->from, best.algorithm,
           sp_ckpt_status_name(best.status), best.n_evaluations, best.fitness, best.evaluation,
           sp_mask_format(&best.mask, buf, sizeof buf));
    if (best.status != SP_CKPT_DONE)
        fprintf(stderr, "swarmprune export: note: %s is from an unfinished search (status %s): "
                        "exporting its best mask so far\n", a->from,
                sp_ckpt_status_name(best.status));
    *mask = best.mask;
    return 0;
}

int cmd_export(int argc, char **argv)
{
    if (sp_cli_wants_help(argc, argv)) {
        export_usage(stdout);
        return SP_EXIT_OK;
    }
    export_args a;
    sp_error err = {{0}};
    if (export_parse(argc, argv, &a, &err)) return sp_cli_usage_error("export", "%s", err.msg);
    sp_export_options opt = {.force = a.force, .progress = a.quiet ? NULL : stdout};
    if (a.shard_size && sp_export_parse_size(a.shard_size, "--shard-size", &opt.shard_size, &err))
        return sp_cli_usage_error("export", "%s", err.msg);
    sp_model m;
    if (sp_model_open(a.model, &m, &err)) return sp_cli_fail("export", &err);
    sp_mask mask;
    sp_export_result res;
    int rc = export_mask(&a, &m, &mask, &err);
    if (rc == 0) {
        sp_signals_install();
        rc = sp_export_model(&m, &mask, a.out, &opt, &res, &err);
    }
    sp_model_close(&m);
    if (rc) return sp_cli_fail("export", &err);
    char buf[1100];
    double dp = res.params_before ? 100.0 * (double)(res.params_before - res.params_after) /
                                        (double)res.params_before : 0.0;
    printf("exported %s -> %s: removed layers [%s] (%d -> %d layers), %d tensors in %d shard%s, "
           "%" PRId64 " -> %" PRId64 " params (-%.2f%%), %.1f -> %.1f MB, %.1f s, source %s\n",
           a.model, a.out, sp_mask_format(&mask, buf, sizeof buf), res.layers_before,
           res.layers_after, res.n_tensors, res.n_shards, res.n_shards == 1 ? "" : "s",
           res.params_before, res.params_after, dp, (double)res.bytes_before / 1e6,
           (double)res.bytes_after / 1e6, res.seconds, res.fingerprint);
    return SP_EXIT_OK;
}
