/* cmd_report.c — `swarmprune report RESULTS.h5 [MORE.h5 ...] --out DIR`: reads results or
 * checkpoint files (and the summary.json beside each), writes SVG charts and a report.md that
 * embeds them with a results table (see report.h). Output is deterministic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/results_dir.h"
#include "report.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: swarmprune report RESULTS_OR_CHECKPOINT.h5|OUTPUT_DIR [MORE ...] --out DIR\n\n"
            "Draws the results of one or more searches as SVG charts and writes DIR/report.md\n"
            "embedding them, with a results table (algorithm, k, removed layers, size, metrics,\n"
            "evaluations, search wall time):\n"
            "  frequency-N.svg   per-layer pruning frequency of input N (protected layers hatched)\n"
            "  heatmap-N.svg     pruning frequency by layer and iteration of input N\n"
            "  convergence-M-evals.svg, convergence-M-time.svg\n"
            "                    best metric M so far against evaluations / wall time\n"
            "  size-M.svg        model size against metric M over the inputs (a sweep over k)\n"
            "Sizes come from the summary.json next to each results file when present.\n"
            "A search's output directory stands for its results.h5; a sweep's (k<K>/ inside)\n"
            "for every k<K>/results.h5, in increasing k.\n"
            "Same inputs give the same bytes.\n\n"
            "options:\n"
            "  --out DIR   output directory (created when missing; files in it are overwritten)\n"
            "  -h, --help  this text\n");
}

int cmd_report(int argc, char **argv)
{
    if (sp_cli_wants_help(argc, argv)) {
        usage(stdout);
        return SP_EXIT_OK;
    }
    const char *out = NULL;
    const char **inputs = sp_xcalloc((size_t)argc + 1, sizeof *inputs);
    size_t n = 0;
    sp_error err = {{0}};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0) {
            if (sp_cli_value(argc, argv, &i, &out, &err)) {
                free(inputs);
                return sp_cli_usage_error("report", "%s", err.msg);
            }
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            free(inputs);
            return sp_cli_usage_error("report", "unknown option %s", argv[i]);
        } else {
            inputs[n++] = argv[i];
        }
    }
    if (n == 0 || !out) {
        free(inputs);
        return sp_cli_usage_error("report", n == 0 ? "no results file given"
                                                   : "--out DIR is required (where to write "
                                                     "report.md and the SVG charts)");
    }
    /* A search output directory stands for its results.h5, a sweep's for every k<K>/results.h5. */
    char **files = NULL;
    size_t nf = 0;
    for (size_t i = 0; i < n; i++) {
        char **one;
        size_t m;
        if (sp_results_expand(inputs[i], &one, &m, &err)) {
            sp_results_free(files, nf);
            free(inputs);
            return sp_cli_fail("report", &err);
        }
        files = sp_xrealloc(files, (nf + m) * sizeof *files);
        memcpy(files + nf, one, m * sizeof *one);
        nf += m;
        free(one);
    }
    n = nf;
    sp_report_run *runs = sp_xcalloc(n, sizeof *runs);
    size_t loaded = 0;
    int rc = 0;
    while (loaded < n && rc == 0) {
        rc = sp_report_load(files[loaded], &runs[loaded], &err);
        if (rc == 0) loaded++; /* a failed load frees its own run */
    }
    if (rc == 0) {
        sp_report_label_runs(runs, n);
        rc = sp_report_write(runs, n, out, &err);
    }
    for (size_t i = 0; i < loaded; i++) sp_report_run_free(&runs[i]);
    free(runs);
    free(inputs);
    sp_results_free(files, nf);
    if (rc) return sp_cli_fail("report", &err);
    printf("wrote %s/report.md (%zu input%s)\n", out, n, n == 1 ? "" : "s");
    return SP_EXIT_OK;
}
