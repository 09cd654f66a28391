/* report.h — `swarmprune report`: turns results/checkpoint files (common/checkpoint.h schema)
 * into SVG charts and a report.md that embeds them: per-layer pruning frequency (bars and a
 * layer x iteration heat map), convergence (best so far against evaluations and wall time),
 * size against the objective metric over a k sweep, and a results table.
 * Sizes come from a summary.json next to the results file when present. */
#ifndef SP_REPORT_H
#define SP_REPORT_H

#include <stddef.h>

#include "common/checkpoint.h"
#include "common/error.h"
#include "common/mask.h"

/* Metrics the report knows how to label (metric_names in the checkpoint). */
typedef enum {
    SP_REPORT_NLL = 0,
    SP_REPORT_ACC,
    SP_REPORT_ACC_NORM,
    SP_REPORT_KL,
    SP_REPORT_N_METRICS,
    SP_REPORT_SCORE = SP_REPORT_N_METRICS, /* weighted objective: -fitness, higher is better */
    SP_REPORT_FITNESS                      /* unknown objective: raw fitness */
} sp_report_metric;

/* One input file and what the report derives from it. */
typedef struct {
    char *path;             /* as given on the command line */
    sp_ckpt ck;
    /* from the job text (lenient: absent keys leave defaults) */
    char objective[32];     /* "acc", "acc_norm", "nll", "kl", "weighted" or "" */
    char task[32];          /* "hellaswag", "nll", "kl" or "" */
    sp_mask protected_layers;
    /* derived */
    int k;                  /* layers removed by the best mask (-1: no best yet) */
    int has_best;
    sp_mask best_mask;
    double best_fitness;
    long best_index;        /* history row of the best (-1 when unknown) */
    double best_metrics[SP_REPORT_N_METRICS]; /* NaN when absent */
    int metric;             /* sp_report_metric drawn for this run */
    int oneshot;            /* algorithm "fixed" or a single evaluation */
    double wall_seconds;    /* search wall time (summary, else last history wall_time) */
    char label[96];         /* "pso, k=3" (made unique across inputs) */
    /* summary.json */
    int has_summary;
    int has_bytes;
    double bytes_before, bytes_after, size_fraction;
    char note[512];         /* why the summary was not used, etc. ("" when none) */
} sp_report_run;

/* Reads and verifies path (sp_ckpt_read) and its optional summary.json. On failure the run is
 * freed and err names the file. */
int sp_report_load(const char *path, sp_report_run *run, sp_error *err);
void sp_report_run_free(sp_report_run *run);

/* Gives runs unique labels ("pso, k=3", "pso, k=3 (2)"). */
void sp_report_label_runs(sp_report_run *runs, size_t n);

/* Writes the SVGs and report.md into out_dir (created when missing). */
int sp_report_write(const sp_report_run *runs, size_t n, const char *out_dir, sp_error *err);

/* ---- helpers shared with report_plots.c ------------------------------------------------ */

/* Value shown for a fitness: accuracies and scores with the minus sign undone, accuracies in
 * percent. */
double sp_report_display_fitness(const sp_report_run *r, double fitness);
/* Value shown for a raw metric (accuracies in percent). */
double sp_report_display_metric(int metric, double value);
/* Axis label with unit ("mean NLL (nats/token)", "HellaSwag acc_norm (%)"). */
void sp_report_metric_label(int metric, const char *task, char *buf, size_t size);
/* Short key for file names ("acc_norm", "nll", "score", "fitness"). */
const char *sp_report_metric_key(int metric);
/* 1 when higher values of the metric are better. */
int sp_report_higher_is_better(int metric);

/* Charts (report_plots.c); each writes one SVG file. */
int sp_report_plot_frequency(const sp_report_run *r, const char *path, sp_error *err);
int sp_report_plot_heatmap(const sp_report_run *r, const char *path, sp_error *err);
/* Runs whose metric equals `metric`; x_time: 0 evaluations, 1 wall time. */
int sp_report_plot_convergence(const sp_report_run *runs, size_t n, int metric, int x_time,
                               const char *path, sp_error *err);
/* Points per run (size from summary.json, else k); the original model from an empty-mask
 * evaluation. *note receives what was omitted ("" when nothing). */
int sp_report_plot_size(const sp_report_run *runs, size_t n, int metric, const char *path,
                        char *note, size_t note_size, sp_error *err);

#endif
