/* report_plots.c — the charts of `swarmprune report` (see report.h), drawn with svg.h:
 * per-layer frequency bars (protected layers hatched, best-mask layers highlighted), the layer x
 * iteration heat map, convergence (best so far against evaluations / wall time, one-shot
 * baselines as dashed lines) and size against the objective metric. Bars and points carry
 * data-* attributes with their exact values so tests can check them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "svg.h"

#define MARGIN_L 92.0
#define MARGIN_T 56.0
#define PLOT_H 300.0
#define LEGEND_W 230.0
#define C_BAR "#0072b2"
#define C_BEST "#d55e00"

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* A plot area of width w at the standard margins (ticks filled in by the caller). */
static sp_svg_plot plot_area(double w)
{
    sp_svg_plot p;
    memset(&p, 0, sizeof p);
    p.x = MARGIN_L;
    p.y = MARGIN_T;
    p.w = w;
    p.h = PLOT_H;
    return p;
}

/* Width of the plot area for L layer columns: ~14 px per layer within [420, 900]. */
static double layer_plot_width(int L) { return clampi(14 * L, 420, 900); }

static void layer_axis(int L, double w, sp_svg_ticks *t)
{
    sp_svg_ticks_nice(0, L - 1, clampi((int)(w / 45), 2, 20), 1, t);
    t->lo = -0.5;
    t->hi = L - 0.5;
    t->first = 0;
}

static void title(sp_svg *s, double x, const char *text)
{
    sp_svg_text(s, x, 30, SP_SVG_FONT_TITLE, "start", 0, 1, text);
}

/* Hatched columns over the protected layers, full plot height. */
static void protected_columns(sp_svg *s, const sp_svg_plot *p, const sp_report_run *r)
{
    for (int l = 0; l < r->ck.n_layers; l++) {
        if (!sp_mask_test(&r->protected_layers, l)) continue;
        double x0 = sp_svg_plot_x(p, l - 0.5), x1 = sp_svg_plot_x(p, l + 0.5);
        char extra[64];
        snprintf(extra, sizeof extra, "class=\"protected\" data-layer=\"%d\"", l);
        sp_svg_rect(s, x0, p->y, x1 - x0, p->h, "url(#hatch)", extra);
    }
}

int sp_report_plot_frequency(const sp_report_run *r, const char *path, sp_error *err)
{
    int L = r->ck.n_layers;
    double maxf = 0.05;
    for (int l = 0; l < L; l++)
        if (r->ck.freq.overall[l] > maxf) maxf = r->ck.freq.overall[l];
    sp_svg_plot p = plot_area(layer_plot_width(L));
    layer_axis(L, p.w, &p.xt);
    sp_svg_ticks_nice(0, maxf > 1 ? 1 : maxf, 5, 0, &p.yt);
    char t[256];
    snprintf(t, sizeof t, "Pruning frequency per layer: %s (%zu evaluations)", r->label,
             r->ck.history.n);
    sp_svg s;
    sp_svg_begin(&s, (int)(p.x + p.w + 24 + LEGEND_W), (int)(p.y + p.h + 70), t);
    title(&s, p.x, t);
    protected_columns(&s, &p, r);
    sp_svg_plot_axes(&s, &p, "layer index (0 = first layer)",
                     "fraction of evaluations removing it");
    double bw = p.w / L;
    sp_svg_raw(&s, "<g class=\"bars\">\n");
    for (int l = 0; l < L; l++) {
        double v = r->ck.freq.overall[l], shown = isfinite(v) && v > 0 ? v : 0;
        double y = sp_svg_plot_y(&p, shown);
        char extra[128];
        snprintf(extra, sizeof extra, "class=\"bar\" data-layer=\"%d\" data-value=\"%.6f\"", l, v);
        int best = r->has_best && sp_mask_test(&r->best_mask, l);
        sp_svg_rect(&s, p.x + l * bw + bw * 0.12, y, bw * 0.76, p.y + p.h - y, best ? C_BEST : C_BAR,
                    extra);
    }
    sp_svg_raw(&s, "</g>\n");
    sp_svg_key keys[3] = {{"pruning frequency", C_BAR, SP_SVG_KEY_BOX},
                          {"layer in the best mask", C_BEST, SP_SVG_KEY_BOX},
                          {"protected (never removed)", "#8a8a8a", SP_SVG_KEY_HATCH}};
    sp_svg_legend(&s, p.x + p.w + 20, p.y, keys, 3);
    return sp_svg_finish(&s, path, err);
}

int sp_report_plot_heatmap(const sp_report_run *r, const char *path, sp_error *err)
{
    const sp_ckpt_freq *f = &r->ck.freq;
    int L = r->ck.n_layers;
    size_t I = f->n_iter, per_bin = (I + 199) / 200, bins = (I + per_bin - 1) / per_bin;
    SP_ASSERT(I > 0);
    sp_svg_plot p = plot_area(layer_plot_width(L));
    layer_axis(L, p.w, &p.xt);
    p.no_grid = 1;
    sp_svg_ticks_nice(1, (double)I, 6, 1, &p.yt);
    p.yt.lo = 0.5;
    p.yt.hi = (double)(bins * per_bin) + 0.5;
    p.yt.first = p.yt.step >= 2 ? p.yt.step : 1;
    char t[256], col[8];
    snprintf(t, sizeof t, "Pruning frequency by layer and iteration: %s", r->label);
    sp_svg s;
    sp_svg_begin(&s, (int)(p.x + p.w + 140), (int)(p.y + p.h + 70), t);
    title(&s, p.x, t);
    double cw = p.w / L, ch = p.h / (double)bins;
    sp_svg_raw(&s, "<g class=\"cells\" shape-rendering=\"crispEdges\">\n");
    for (size_t b = 0; b < bins; b++) {
        double y = p.y + p.h - (double)(b + 1) * ch;
        for (int l = 0; l < L; l++) {
            double sum = 0;
            size_t cnt = 0;
            for (size_t i = b * per_bin; i < (b + 1) * per_bin && i < I; i++, cnt++)
                sum += f->per_iter[i * (size_t)L + (size_t)l];
            sp_svg_colormap(sum / (double)cnt, col);
            sp_svg_rect(&s, p.x + l * cw, y, cw + 0.25, ch + 0.25, col, NULL);
        }
    }
    sp_svg_raw(&s, "</g>\n");
    protected_columns(&s, &p, r);
    sp_svg_plot_axes(&s, &p, "layer index (0 = first layer)",
                     per_bin > 1 ? "iteration (rows averaged)" : "iteration");
    sp_svg_colour_scale(&s, p.x + p.w + 18, p.y, 18, p.h, 0, 1,
                        "fraction of the iteration's candidates");
    return sp_svg_finish(&s, path, err);
}

/* ---- convergence ----------------------------------------------------------------------------- */

/* x of best-trajectory row j: its evaluation count, or the wall time of that evaluation. */
static double traj_x(const sp_report_run *r, size_t j, int x_time, double tscale)
{
    int64_t ev = r->ck.best.evaluation[j];
    if (!x_time) return (double)ev;
    if (ev >= 1 && (size_t)ev <= r->ck.history.n) return r->ck.history.wall_time[ev - 1] / tscale;
    return NAN;
}

static double run_end_x(const sp_report_run *r, int x_time, double tscale)
{
    return x_time ? r->wall_seconds / tscale : (double)r->ck.history.n;
}

static void time_unit(const sp_report_run *runs, size_t n, double *scale, const char **unit)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, runs[i].wall_seconds);
    *scale = m < 120 ? 1 : m < 7200 ? 60 : 3600;
    *unit = m < 120 ? "s" : m < 7200 ? "min" : "h";
}

/* Staircase of the best-so-far values of run r into xy ([2*(2B) + 2] doubles); returns points. */
static size_t staircase(const sp_report_run *r, const sp_svg_plot *p, int x_time, double tscale,
                        double *xy)
{
    size_t m = 0, B = r->ck.best.n;
    for (size_t j = 0; j < B; j++) {
        double x = traj_x(r, j, x_time, tscale), y = sp_report_display_fitness(r, r->ck.best.fitness[j]);
        if (!isfinite(x) || !isfinite(y)) continue;
        if (m) { /* horizontal step to x at the previous level */
            xy[2 * m] = sp_svg_plot_x(p, x);
            xy[2 * m + 1] = xy[2 * m - 1];
            m++;
        }
        xy[2 * m] = sp_svg_plot_x(p, x);
        xy[2 * m + 1] = sp_svg_plot_y(p, y);
        m++;
    }
    double xe = run_end_x(r, x_time, tscale);
    if (m && isfinite(xe) && sp_svg_plot_x(p, xe) > xy[2 * m - 2]) {
        xy[2 * m] = sp_svg_plot_x(p, xe);
        xy[2 * m + 1] = xy[2 * m - 1];
        m++;
    }
    return m;
}

/* Data ranges of the runs drawn in a convergence chart. */
static int convergence_ranges(const sp_report_run *runs, size_t n, int metric, int x_time,
                              double tscale, double *xmax, double *ylo, double *yhi)
{
    int any = 0;
    *xmax = 1, *ylo = INFINITY, *yhi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        const sp_report_run *r = &runs[i];
        if (r->metric != metric || !r->has_best) continue;
        any = 1;
        for (size_t j = 0; j < r->ck.best.n; j++) {
            double y = sp_report_display_fitness(r, r->ck.best.fitness[j]);
            if (isfinite(y)) *ylo = fmin(*ylo, y), *yhi = fmax(*yhi, y);
            if (r->oneshot) break;
        }
        double xe = run_end_x(r, x_time, tscale);
        if (!r->oneshot && isfinite(xe)) *xmax = fmax(*xmax, xe);
    }
    if (!(*ylo <= *yhi)) {
        *ylo = 0, *yhi = 1;
        return any;
    }
    double pad = 0.04 * (*yhi - *ylo); /* keep lines off the frame */
    *ylo -= pad, *yhi += pad;
    return any;
}

/* The legend label of run r; for the baselines a search is judged against (SLEB-style greedy,
 * EvoPress-style evo) it says so, and greedy's final value is drawn as a dashed level across
 * the chart with a marker where greedy finished (its partial masks give no best-so-far before
 * its last step), so the evaluations at which a search crosses it can be read off. */
static void baseline_reference(sp_svg *s, const sp_svg_plot *p, const sp_report_run *r,
                               int x_time, double tscale, const char *col, char *label,
                               size_t size)
{
    const char *alg = r->ck.algorithm ? r->ck.algorithm : "";
    if (strcmp(alg, "evo") == 0) {
        snprintf(label, size, "%s (EvoPress-style)", r->label);
        return;
    }
    if (strcmp(alg, "greedy") != 0) {
        snprintf(label, size, "%s", r->label);
        return;
    }
    double v = sp_report_display_fitness(r, r->best_fitness), xe = run_end_x(r, x_time, tscale);
    double y = sp_svg_plot_y(p, v), xy[4] = {p->x, y, p->x + p->w, y};
    char extra[160];
    snprintf(extra, sizeof extra, "class=\"reference\" data-value=\"%.9g\" data-evals=\"%zu\"",
             v, r->ck.history.n);
    sp_svg_polyline(s, xy, 2, col, 1, "3 4", extra);
    if (isfinite(xe)) sp_svg_circle(s, sp_svg_plot_x(p, xe), y, 4, col, NULL);
    snprintf(label, size, "%s (SLEB greedy, %zu evals)", r->label, r->ck.history.n);
}

int sp_report_plot_convergence(const sp_report_run *runs, size_t n, int metric, int x_time,
                               const char *path, sp_error *err)
{
    double tscale, xmax, ylo, yhi;
    const char *unit, *task = "";
    time_unit(runs, n, &tscale, &unit);
    int any = convergence_ranges(runs, n, metric, x_time, tscale, &xmax, &ylo, &yhi);
    for (size_t i = 0; i < n; i++)
        if (runs[i].metric == metric) task = runs[i].task;
    sp_svg_plot p = plot_area(520);
    sp_svg_ticks_nice(0, xmax, 6, !x_time, &p.xt);
    sp_svg_ticks_nice(ylo, yhi, 6, 0, &p.yt);
    char ylabel[96], xlabel[64], t[256];
    sp_report_metric_label(metric, task, ylabel, sizeof ylabel);
    if (x_time) snprintf(xlabel, sizeof xlabel, "search wall time (%s)", unit);
    else snprintf(xlabel, sizeof xlabel, "evaluations (masks scored)");
    snprintf(t, sizeof t, "Best so far against %s", x_time ? "wall time" : "evaluations");
    sp_svg s;
    sp_svg_begin(&s, (int)(p.x + p.w + 24 + LEGEND_W), (int)(p.y + p.h + 70), t);
    title(&s, p.x, t);
    sp_svg_plot_axes(&s, &p, xlabel, ylabel);
    if (!any) sp_svg_text(&s, p.x + p.w / 2, p.y + p.h / 2, 14, "middle", 0, 0, "no results yet");
    sp_svg_key *keys = sp_xcalloc(n, sizeof *keys);
    char (*labels)[128] = sp_xcalloc(n, sizeof *labels);
    int nk = 0;
    for (size_t i = 0; i < n; i++) {
        const sp_report_run *r = &runs[i];
        if (r->metric != metric || !r->has_best) continue;
        const char *col = sp_svg_palette((int)i);
        char extra[96];
        snprintf(extra, sizeof extra, "class=\"series\" data-input=\"%zu\"", i + 1);
        if (r->oneshot) {
            double y = sp_svg_plot_y(&p, sp_report_display_fitness(r, r->best_fitness));
            double xy[4] = {p.x, y, p.x + p.w, y};
            sp_svg_polyline(&s, xy, 2, col, 2, "7 5", extra);
            snprintf(labels[nk], sizeof labels[nk], "%s (one-shot)", r->label);
            keys[nk] = (sp_svg_key){labels[nk], col, SP_SVG_KEY_DASH};
            nk++;
            continue;
        }
        double *xy = sp_xmalloc((2 * r->ck.best.n + 2) * 2 * sizeof *xy);
        size_t m = staircase(r, &p, x_time, tscale, xy);
        sp_svg_polyline(&s, xy, m, col, 2.5, NULL, extra);
        free(xy);
        baseline_reference(&s, &p, r, x_time, tscale, col, labels[nk], sizeof labels[nk]);
        keys[nk] = (sp_svg_key){labels[nk], col, SP_SVG_KEY_LINE};
        nk++;
    }
    if (nk) sp_svg_legend(&s, p.x + p.w + 20, p.y, keys, nk);
    free(keys);
    free(labels);
    return sp_svg_finish(&s, path, err);
}

/* ---- size against the metric ----------------------------------------------------------------- */

/* Displayed value of the metric for history row e of run r (NaN when absent). */
static double row_value(const sp_report_run *r, size_t e, int metric)
{
    const sp_ckpt_history *h = &r->ck.history;
    if (metric >= SP_REPORT_N_METRICS) return sp_report_display_fitness(r, h->fitness[e]);
    for (int j = 0; j < h->n_metrics; j++)
        if (strcmp(h->metric_names[j], sp_report_metric_key(metric)) == 0)
            return sp_report_display_metric(metric, h->metrics[e * (size_t)h->n_metrics + j]);
    return NAN;
}

static double best_value(const sp_report_run *r, int metric)
{
    if (metric < SP_REPORT_N_METRICS) return sp_report_display_metric(metric, r->best_metrics[metric]);
    return sp_report_display_fitness(r, r->best_fitness);
}

/* The original model's value: an empty-mask evaluation (highest fidelity, first found). */
static int original_value(const sp_report_run *runs, size_t n, int metric, double *value)
{
    int64_t fid = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        const sp_ckpt_history *h = &runs[i].ck.history;
        if (runs[i].metric != metric) continue;
        for (size_t e = 0; e < h->n; e++) {
            double v = row_value(&runs[i], e, metric);
            if (sp_mask_count(&h->mask[e]) == 0 && isfinite(v) && h->fidelity[e] > fid) {
                fid = h->fidelity[e];
                *value = v;
            }
        }
    }
    return fid != INT64_MIN;
}

typedef struct {
    double x, y;
    int k, alg; /* alg: index of the first input with the same algorithm */
    size_t input;
} size_point;

/* Points of the runs in the group; *gb = 1 when every point has a size in bytes. */
static size_t size_points(const sp_report_run *runs, size_t n, int metric, size_point *pts,
                          int *gb, double *bytes_before)
{
    size_t np = 0;
    *gb = 1;
    *bytes_before = NAN;
    for (size_t i = 0; i < n; i++)
        if (runs[i].metric == metric && runs[i].has_best && isfinite(best_value(&runs[i], metric))) {
            *gb &= runs[i].has_bytes;
            if (runs[i].has_bytes && isnan(*bytes_before)) *bytes_before = runs[i].bytes_before;
        }
    for (size_t i = 0; i < n; i++) {
        const sp_report_run *r = &runs[i];
        double y = best_value(r, metric);
        if (r->metric != metric || !r->has_best || !isfinite(y)) continue;
        size_t a = i;
        for (size_t j = 0; j < i; j++)
            if (runs[j].metric == metric && strcmp(runs[j].ck.algorithm, r->ck.algorithm) == 0) {
                a = j;
                break;
            }
        pts[np++] = (size_point){*gb ? r->bytes_after / 1e9 : r->k, y, r->k, (int)a, i};
    }
    return np;
}

static void size_lines(sp_svg *s, const sp_svg_plot *p, const size_point *pts, size_t np)
{
    double *xy = sp_xmalloc((np + 1) * 2 * sizeof *xy);
    size_t *idx = sp_xmalloc((np + 1) * sizeof *idx);
    for (size_t a = 0; a < np; a++) {
        if (pts[a].input != (size_t)pts[a].alg) continue; /* one line per algorithm */
        size_t m = 0;
        for (size_t i = 0; i < np; i++) {
            if (pts[i].alg != pts[a].alg) continue;
            size_t j = m++;
            for (; j > 0 && pts[idx[j - 1]].x > pts[i].x; j--) idx[j] = idx[j - 1];
            idx[j] = i;
        }
        for (size_t i = 0; i < m; i++) {
            xy[2 * i] = sp_svg_plot_x(p, pts[idx[i]].x);
            xy[2 * i + 1] = sp_svg_plot_y(p, pts[idx[i]].y);
        }
        if (m > 1) sp_svg_polyline(s, xy, m, sp_svg_palette(pts[a].alg), 1.5, NULL, NULL);
    }
    free(xy);
    free(idx);
}

int sp_report_plot_size(const sp_report_run *runs, size_t n, int metric, const char *path,
                        char *note, size_t note_size, sp_error *err)
{
    size_point *pts = sp_xcalloc(n, sizeof *pts);
    int gb;
    double bb, orig = NAN, xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    size_t np = size_points(runs, n, metric, pts, &gb, &bb);
    int has_orig = original_value(runs, n, metric, &orig) && (!gb || isfinite(bb));
    double ox = gb ? bb / 1e9 : 0;
    for (size_t i = 0; i < np; i++) {
        xlo = fmin(xlo, pts[i].x), xhi = fmax(xhi, pts[i].x);
        ylo = fmin(ylo, pts[i].y), yhi = fmax(yhi, pts[i].y);
    }
    if (has_orig) xlo = fmin(xlo, ox), xhi = fmax(xhi, ox), ylo = fmin(ylo, orig), yhi = fmax(yhi, orig);
    /* 6 % padding so that no point sits on the frame */
    double px = 0.06 * (xhi - xlo > 0 ? xhi - xlo : 1), py = 0.06 * (yhi - ylo > 0 ? yhi - ylo : 1);
    xlo -= px, xhi += px, ylo -= py, yhi += py;
    if (!gb) xlo = 0;
    const char *task = "";
    for (size_t i = 0; i < n; i++)
        if (runs[i].metric == metric) task = runs[i].task;
    sp_svg_plot p = plot_area(520);
    sp_svg_ticks_nice(np || has_orig ? xlo : 0, np || has_orig ? xhi : 1, 6, !gb, &p.xt);
    sp_svg_ticks_nice(np || has_orig ? ylo : 0, np || has_orig ? yhi : 1, 6, 0, &p.yt);
    char ylabel[96], t[160];
    sp_report_metric_label(metric, task, ylabel, sizeof ylabel);
    snprintf(t, sizeof t, "%s against %s", gb ? "Model size" : "Layers removed", ylabel);
    sp_svg s;
    sp_svg_begin(&s, (int)(p.x + p.w + 24 + LEGEND_W), (int)(p.y + p.h + 70), t);
    title(&s, p.x, t);
    sp_svg_plot_axes(&s, &p, gb ? "model size (GB, weights)" : "layers removed (k)", ylabel);
    size_lines(&s, &p, pts, np);
    sp_svg_key *keys = sp_xcalloc(n + 1, sizeof *keys);
    int nk = 0;
    for (size_t i = 0; i < np; i++) {
        char extra[128], lab[32];
        double x = sp_svg_plot_x(&p, pts[i].x), y = sp_svg_plot_y(&p, pts[i].y);
        const char *col = sp_svg_palette(pts[i].alg);
        snprintf(extra, sizeof extra, "class=\"point\" data-input=\"%zu\" data-k=\"%d\" "
                 "data-value=\"%.6f\"", pts[i].input + 1, pts[i].k, pts[i].y);
        sp_svg_circle(&s, x, y, 5.5, col, extra);
        snprintf(lab, sizeof lab, "k=%d", pts[i].k);
        sp_svg_text(&s, x + 8, y - 8, 12, "start", 0, 0, lab);
        if ((size_t)pts[i].alg == pts[i].input)
            keys[nk++] = (sp_svg_key){runs[pts[i].input].ck.algorithm, col, SP_SVG_KEY_POINT};
    }
    if (has_orig) {
        double x = sp_svg_plot_x(&p, ox), y = sp_svg_plot_y(&p, orig);
        char extra[96];
        snprintf(extra, sizeof extra, "class=\"original\" data-value=\"%.6f\" stroke=\"#ffffff\"",
                 orig);
        sp_svg_rect(&s, x - 6, y - 6, 12, 12, "#000000", extra);
        keys[nk++] = (sp_svg_key){"original model (k=0)", "#000000", SP_SVG_KEY_BOX};
    }
    if (nk) sp_svg_legend(&s, p.x + p.w + 20, p.y, keys, nk);
    free(keys);
    free(pts);
    note[0] = '\0';
    if (!gb)
        snprintf(note, note_size, "model sizes unknown for some inputs (no matching summary.json "
                 "with bytes_before/bytes_after), so the x axis is the number of removed layers.");
    if (!has_orig) {
        size_t len = strlen(note);
        snprintf(note + len, note_size - len, "%sthe original model (k = 0) is not shown: no "
                 "evaluation of the empty mask was found in the inputs.", len ? " Also, " : "");
    }
    return sp_svg_finish(&s, path, err);
}
