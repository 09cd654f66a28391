/* test_report.c — `swarmprune report` on crafted results files: a k=3 PSO search (40
 * evaluations, with one evaluation of the empty mask), a k=5 WOA search with its own protected
 * layers, and a one-shot "fixed" baseline, each with a summary.json where sizes are known.
 * Checks the files exist, every SVG is well-formed XML (own checker, plus python3's minidom
 * when present), the table's best mask, bar values and heights against freq.overall, the size
 * and convergence charts' contents, byte-identical reruns, and refusals of bad input. */
#include <ctype.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/checkpoint.h"
#include "common/json_util.h"
#include "common/rng.h"
#include "coordinator/report.h"
#include "coordinator/svg.h"
#include "test_util.h"

int cmd_report(int argc, char **argv); /* coordinator/cmd_report.c */

#define L 16
#define N_METRICS 7

static char g_dir[256];

static const char *tpath(const char *name)
{
    static char buf[32][600];
    static int k = 0;
    k = (k + 1) % 32;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

/* Damage of removing layer l (a fixed landscape so that some layers are clearly better). */
static double damage(int l) { return 0.004 + 0.02 * fabs(sin(1.7 * l)); }

typedef struct {
    const char *alg, *dir, *job;
    int k, E, per_iter, with_empty;
    uint64_t seed;
    sp_mask prot;
} run_spec;

static void random_mask(const run_spec *s, int e, sp_mask *m)
{
    sp_mask_clear(m);
    if (s->with_empty && e == 0) return;
    for (uint64_t j = 0; sp_mask_count(m) < s->k; j++) {
        int l = (int)(sp_rng_uniform(s->seed, (uint64_t)e, j, 0) * L);
        if (l >= 0 && l < L && !sp_mask_test(&s->prot, l)) sp_mask_set(m, l);
    }
}

static void make_run(sp_ckpt *c, const run_spec *s)
{
    static const char *names[N_METRICS] = {"nll", "acc", "acc_norm", "kl", "units", "tokens",
                                           "seconds"};
    sp_ckpt_init(c, L, N_METRICS, names);
    sp_ckpt_set_job(c, s->alg, s->job);
    sp_ckpt_set_model(c, "fp:test");
    sp_ckpt_set_algorithm(c, s->alg);
    c->status = SP_CKPT_DONE;
    c->minimize = 1;
    double best = INFINITY, row[L] = {0}, overall[L] = {0};
    int in_iter = 0;
    for (int e = 0; e < s->E; e++) {
        sp_mask m;
        random_mask(s, e, &m);
        double d = 0;
        for (int l = 0; l < L; l++)
            if (sp_mask_test(&m, l)) d += damage(l), row[l] += 1, overall[l] += 1;
        double acc_norm = 0.62 - d + 0.01 * sp_rng_uniform(s->seed, 99, (uint64_t)e, 0);
        double met[N_METRICS] = {2.5 + 3 * d, acc_norm - 0.03, acc_norm, NAN, 100, 5000, 1.5};
        sp_ckpt_history_append(&c->history, &m, 100, e / s->per_iter, -acc_norm, met,
                               2.0 * (e + 1), e % 2);
        if (-acc_norm < best && sp_mask_count(&m) == s->k) { /* the search's best is k-exact */
            best = -acc_norm;
            sp_ckpt_best_append(&c->best, e + 1, best, &m);
        }
        if (++in_iter == s->per_iter || e == s->E - 1) {
            for (int l = 0; l < L; l++) row[l] /= in_iter;
            sp_ckpt_freq_append(&c->freq, row);
            memset(row, 0, sizeof row);
            in_iter = 0;
        }
    }
    for (int l = 0; l < L; l++) c->freq.overall[l] = overall[l] / s->E;
    c->iteration = (int64_t)c->freq.n_iter;
}

static void write_summary(const sp_ckpt *c, const run_spec *s, const char *path)
{
    const sp_mask *m = &c->best.mask[c->best.n - 1];
    char list[256];
    sp_mask_format(m, list, sizeof list);
    double frac = 0.05 * s->k, before = 16.06e9;
    FILE *f = fopen(path, "w");
    SP_ASSERT(f != NULL);
    fprintf(f, "{\"algorithm\": \"%s\", \"k\": %d, \"removed_layers\": [%s], \"best_fitness\": "
               "%.17g, \"size_fraction_removed\": %.17g, \"bytes_before\": %.17g, \"bytes_after\": "
               "%.17g, \"evaluations\": %d, \"wall_seconds\": 81.25}\n",
            s->alg, s->k, list, c->best.fitness[c->best.n - 1], frac, before, before * (1 - frac),
            s->E);
    SP_ASSERT(fclose(f) == 0);
}

/* ---- a small XML well-formedness checker ------------------------------------------------- */

static int xml_entity_ok(const char *p)
{
    static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (int i = 0; i < 5; i++)
        if (strncmp(p, ents[i], strlen(ents[i])) == 0) return 1;
    return 0;
}

static const char *xml_name(const char *p, char *out, size_t n)
{
    size_t i = 0;
    while (isalnum((unsigned char)*p) || *p == '-' || *p == ':' || *p == '_' || *p == '.') {
        if (i + 1 < n) out[i++] = *p;
        p++;
    }
    out[i] = '\0';
    return p;
}

/* Returns NULL when well-formed, else a description. */
static const char *xml_check(const char *s)
{
    static char why[128];
    char stack[64][64], name[64];
    int depth = 0, roots = 0;
    for (const char *p = s; *p;) {
        if (*p != '<') {
            if (*p == '&' && !xml_entity_ok(p)) return "bad entity in text";
            if (depth == 0 && !isspace((unsigned char)*p)) return "text outside the root";
            p++;
            continue;
        }
        if (p[1] == '?' || strncmp(p, "<!--", 4) == 0) {
            const char *e = strstr(p, p[1] == '?' ? "?>" : "-->");
            if (!e) return "unterminated declaration/comment";
            p = e + 2;
            continue;
        }
        if (p[1] == '/') {
            p = xml_name(p + 2, name, sizeof name);
            if (depth == 0 || strcmp(stack[depth - 1], name) != 0 || *p != '>') {
                snprintf(why, sizeof why, "mismatched </%s>", name);
                return why;
            }
            depth--, p++;
            continue;
        }
        p = xml_name(p + 1, name, sizeof name);
        if (!name[0] || depth >= 64) return "bad element name or too deep";
        if (depth == 0) roots++;
        snprintf(stack[depth++], 64, "%s", name);
        for (;;) {
            while (isspace((unsigned char)*p)) p++;
            if (p[0] == '/' && p[1] == '>') { depth--, p += 2; break; }
            if (*p == '>') { p++; break; }
            char an[64];
            p = xml_name(p, an, sizeof an);
            if (!an[0] || *p != '=' || p[1] != '"') return "bad attribute";
            for (p += 2; *p != '"'; p++) {
                if (!*p || *p == '<') return "unterminated attribute";
                if (*p == '&' && !xml_entity_ok(p)) return "bad entity in attribute";
            }
            p++;
        }
    }
    return depth == 0 && roots == 1 ? NULL : "unbalanced document";
}

static char *slurp(const char *path)
{
    char *buf = NULL;
    size_t len;
    sp_error err = {{0}};
    if (sp_read_file(path, &buf, &len, &err)) return NULL;
    return buf;
}

static int run_report(const char *const *inputs, int n, const char *out)
{
    char *argv[16];
    int argc = 0;
    argv[argc++] = (char *)"report";
    for (int i = 0; i < n; i++) argv[argc++] = (char *)inputs[i];
    argv[argc++] = (char *)"--out";
    argv[argc++] = (char *)out;
    argv[argc] = NULL;
    fflush(stdout);
    return cmd_report(argc, argv);
}

static const char *const g_files[] = {
    "report.md", "frequency-1.svg", "frequency-2.svg", "frequency-3.svg", "heatmap-1.svg",
    "heatmap-2.svg", "heatmap-3.svg", "convergence-acc_norm-evals.svg",
    "convergence-acc_norm-time.svg", "size-acc_norm.svg"};
#define N_FILES (sizeof g_files / sizeof g_files[0])

static void check_xml(const char *out)
{
    int have_py = system("python3 -c 'import xml.dom.minidom' >/dev/null 2>&1") == 0;
    char cmd[8192];
    int len = snprintf(cmd, sizeof cmd, "python3 -c 'import sys, xml.dom.minidom\n"
                                        "for f in sys.argv[1:]: xml.dom.minidom.parse(f)'");
    for (size_t i = 1; i < N_FILES; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", out, g_files[i]);
        char *s = slurp(path);
        CHECK(s != NULL, "%s missing", path);
        if (!s) continue;
        const char *why = xml_check(s);
        CHECK(why == NULL, "%s: not well-formed: %s", path, why ? why : "");
        free(s);
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, " '%s'", path);
    }
    if (have_py) CHECK(system(cmd) == 0, "python3 minidom refused an SVG: %s", cmd);
}

/* Bars: one per layer, data-value = freq.overall[l], height proportional to the value. */
static void check_bars(const char *path, const sp_ckpt *c, int n_protected)
{
    char *s = slurp(path);
    CHECK(s != NULL, "%s missing", path);
    if (!s) return;
    int seen = 0;
    double ratio = NAN, vmax = 0;
    for (int l = 0; l < L; l++) vmax = fmax(vmax, c->freq.overall[l]);
    for (const char *p = s; (p = strstr(p, "class=\"bar\" data-layer=\"")) != NULL; p++) {
        int layer = -1;
        double v = NAN, h = NAN;
        sscanf(p, "class=\"bar\" data-layer=\"%d\" data-value=\"%lf\"", &layer, &v);
        const char *r = p;
        while (r > s && strncmp(r, "<rect", 5) != 0) r--;
        const char *hp = strstr(r, "height=\"");
        if (hp && hp < p) sscanf(hp, "height=\"%lf\"", &h);
        CHECK(layer == seen, "bar %d has layer %d", seen, layer);
        if (layer < 0 || layer >= L) break;
        CHECK_NEAR(v, c->freq.overall[layer], 1e-6, "data-value of layer %d", layer);
        if (c->freq.overall[layer] == vmax) ratio = h / vmax;
        seen++;
    }
    CHECK(seen == L, "%s: %d bars, expected %d", path, seen, L);
    for (const char *p = s; (p = strstr(p, "class=\"bar\" data-layer=\"")) != NULL; p++) {
        int layer;
        double h = NAN;
        sscanf(p, "class=\"bar\" data-layer=\"%d\"", &layer);
        const char *r = p;
        while (r > s && strncmp(r, "<rect", 5) != 0) r--;
        sscanf(strstr(r, "height=\""), "height=\"%lf\"", &h);
        CHECK_NEAR(h, ratio * c->freq.overall[layer], 0.02, "bar height of layer %d", layer);
    }
    int prot = 0;
    for (const char *p = s; (p = strstr(p, "class=\"protected\"")) != NULL; p++) prot++;
    CHECK(prot == n_protected, "%s: %d protected columns, expected %d", path, prot, n_protected);
    free(s);
}

static void check_table(const char *md, const char *input, const sp_ckpt *c, int idx, int k)
{
    char mask[256], row[1024];
    sp_mask_format(&c->best.mask[c->best.n - 1], mask, sizeof mask);
    snprintf(row, sizeof row, "| %d | `%s` | %s | %d | %s |", idx, input, c->algorithm, k, mask);
    CHECK(strstr(md, row) != NULL, "report.md lacks the row '%s'", row);
}

static int same_bytes(const char *a, const char *b)
{
    char *x = slurp(a), *y = slurp(b);
    int same = x && y && strcmp(x, y) == 0;
    free(x);
    free(y);
    return same;
}

static void check_units_and_points(const char *out, double orig_acc)
{
    char path[600];
    snprintf(path, sizeof path, "%s/convergence-acc_norm-evals.svg", out);
    char *s = slurp(path);
    CHECK(s && strstr(s, "HellaSwag acc_norm (%)") != NULL, "convergence y label");
    CHECK(s && strstr(s, "fill=\"#1a1a1a\">-") == NULL, "a negative tick label: accuracy shown "
          "with the fitness sign");
    CHECK(s && strstr(s, "data-input=\"3\"") && strstr(s, "one-shot"), "one-shot baseline line");
    free(s);
    snprintf(path, sizeof path, "%s/size-acc_norm.svg", out);
    s = slurp(path);
    CHECK(s && strstr(s, "data-k=\"3\"") && strstr(s, "data-k=\"5\""), "size points k=3, k=5");
    CHECK(s && strstr(s, "model size (GB, weights)"), "size x axis in GB");
    const char *o = s ? strstr(s, "class=\"original\" data-value=\"") : NULL;
    double v = NAN;
    if (o) sscanf(o, "class=\"original\" data-value=\"%lf\"", &v);
    CHECK_NEAR(v, 100 * orig_acc, 1e-5, "original model point (empty-mask evaluation)");
    free(s);
}

static void check_bad_input(const char *good)
{
    sp_report_run r;
    sp_error err = {{0}};
    CHECK(sp_report_load(tpath("missing.h5"), &r, &err) == -1 && strstr(err.msg, "missing.h5") &&
              strstr(err.msg, "cannot open"), "missing file: %s", err.msg);
    FILE *f = fopen(tpath("text.h5"), "w");
    fputs("this is not HDF5\n", f);
    fclose(f);
    CHECK(sp_report_load(tpath("text.h5"), &r, &err) == -1 && strstr(err.msg, "text.h5") &&
              strstr(err.msg, "not an HDF5 file"), "text file: %s", err.msg);
    /* a truncated results file: signature fine, HDF5 refuses */
    char *buf = NULL;
    size_t len = 0;
    SP_ASSERT(sp_read_file(good, &buf, &len, &err) == 0);
    f = fopen(tpath("trunc.h5"), "wb");
    fwrite(buf, 1, len / 2, f);
    fclose(f);
    free(buf);
    CHECK(sp_report_load(tpath("trunc.h5"), &r, &err) == -1 && strstr(err.msg, "trunc.h5"),
          "truncated file: %s", err.msg);
    const char *in[1] = {good};
    char *argv[3] = {(char *)"report", (char *)good, NULL};
    CHECK(cmd_report(2, argv) == 2, "--out missing must be a usage error");
    CHECK(run_report(in, 1, tpath("text.h5/sub")) != 0, "--out under a file must fail");
    const char *bad[2] = {good, tpath("missing.h5")};
    CHECK(run_report(bad, 2, tpath("out-bad")) == 1, "a missing input must fail");
}

/* A checkpoint written before any evaluation: the report still renders, with "k=?". */
static void check_empty_run(void)
{
    static const char *names[1] = {"nll"};
    sp_ckpt c;
    sp_error err = {{0}};
    sp_ckpt_init(&c, L, 1, names);
    sp_ckpt_set_job(&c, "empty", "{\"k\": 2, \"objective\": {\"type\": \"nll\"}}");
    sp_ckpt_set_model(&c, "fp:test");
    sp_ckpt_set_algorithm(&c, "pso");
    c.minimize = 1;
    const char *in[1] = {tpath("empty.h5")};
    SP_ASSERT(sp_ckpt_write(in[0], &c, &err) == 0);
    sp_ckpt_free(&c);
    CHECK(run_report(in, 1, tpath("out-empty")) == 0, "report of an empty checkpoint failed");
    const char *files[3] = {"out-empty/frequency-1.svg", "out-empty/convergence-nll-evals.svg",
                            "out-empty/size-nll.svg"};
    for (int i = 0; i < 3; i++) {
        char *s = slurp(tpath(files[i]));
        CHECK(s && xml_check(s) == NULL, "%s missing or not well-formed", files[i]);
        free(s);
    }
    char *md = slurp(tpath("out-empty/report.md"));
    CHECK(md && strstr(md, "pso, k=?") && strstr(md, "No completed iteration"), "empty report.md");
    free(md);
}

static void check_svg_basics(void)
{
    sp_svg_ticks t;
    sp_svg_ticks_nice(0, 0.37, 5, 0, &t);
    CHECK_NEAR(t.step, 0.1, 1e-12, "step for [0, 0.37]");
    CHECK_NEAR(t.hi, 0.4, 1e-12, "hi for [0, 0.37]");
    CHECK(t.decimals == 1, "decimals %d", t.decimals);
    sp_svg_ticks_nice(3, 97, 6, 1, &t);
    CHECK_NEAR(t.step, 20, 1e-12, "step for [3, 97]");
    CHECK_NEAR(t.lo, 0, 1e-12, "lo");
    CHECK_NEAR(t.hi, 100, 1e-12, "hi");
    sp_svg_ticks_nice(-2.5, -2.5, 5, 0, &t);
    CHECK(t.hi > t.lo && t.lo <= -2.5 && t.hi >= -2.5, "degenerate range widened");
    char b[32];
    sp_svg_format(-0.0001, 2, b, sizeof b);
    CHECK(strcmp(b, "0.00") == 0, "-0 printed as %s", b);
    sp_svg s;
    sp_svg_begin(&s, 100, 50, "a <b> & \"c\" \x01 \xff");
    sp_svg_text(&s, 1, 2, 12, "start", 0, 0, "x < y & z");
    sp_svg_raw(&s, "</svg>\n");
    CHECK(xml_check(s.buf) == NULL, "escaped SVG not well-formed: %s", s.buf);
    sp_svg_free(&s);
}

/* SLEB greedy and EvoPress-style runs beside a search: greedy's final level is a dashed reference
 * line (value and evaluation count as data attributes), both are named in the legend. */
static void check_baseline_curves(void)
{
    const char *job = "{\"name\": \"demo\", \"k\": 3, \"task\": {\"type\": \"nll\"}, "
                      "\"objective\": {\"type\": \"nll\"}, \"search\": {\"algorithm\": \"%s\"}}";
    const char *algs[3] = {"pso", "greedy", "evo"};
    const char *inputs[3];
    sp_error err = {{0}};
    for (int i = 0; i < 3; i++) {
        char j[512], rel[64];
        snprintf(j, sizeof j, job, algs[i]);
        run_spec sp = {algs[i], algs[i], j, 3, 30 + 6 * i, 6, 0, 40 + (uint64_t)i, {{0}}};
        sp_mask_set(&sp.prot, 0), sp_mask_set(&sp.prot, L - 1);
        sp_ckpt c;
        snprintf(rel, sizeof rel, "base-%s", algs[i]);
        SP_ASSERT(mkdir(tpath(rel), 0777) == 0);
        make_run(&c, &sp);
        snprintf(rel, sizeof rel, "base-%s/results.h5", algs[i]);
        inputs[i] = strdup(tpath(rel));
        SP_ASSERT(sp_ckpt_write(inputs[i], &c, &err) == 0);
        sp_ckpt_free(&c);
    }
    const char *out = tpath("out-base");
    CHECK(run_report(inputs, 3, out) == 0, "report with baselines failed");
    sp_report_run g;
    CHECK(sp_report_load(inputs[1], &g, &err) == 0, "%s", err.msg);
    char path[600], want[200];
    snprintf(path, sizeof path, "%s/convergence-nll-evals.svg", out);
    char *s = slurp(path);
    double v = NAN;
    const char *ref = s ? strstr(s, "class=\"reference\" data-value=\"") : NULL;
    if (ref) sscanf(ref, "class=\"reference\" data-value=\"%lf\"", &v);
    CHECK_NEAR(v, sp_report_display_fitness(&g, g.best_fitness), 1e-6, "greedy reference level");
    snprintf(want, sizeof want, "data-evals=\"%zu\"", g.ck.history.n);
    CHECK(ref && strstr(ref, want), "greedy reference: %s", want);
    snprintf(want, sizeof want, "(SLEB greedy, %zu evals)", g.ck.history.n);
    CHECK(s && strstr(s, want) && strstr(s, "(EvoPress-style)"), "baseline legend labels");
    CHECK(s && strstr(s, "class=\"reference\"") == ref && !strstr(ref + 1, "class=\"reference\""),
          "one reference line (greedy only)");
    free(s);
    sp_report_run_free(&g);
    for (int i = 0; i < 3; i++) free((void *)inputs[i]);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/sp_test_report_XXXXXX");
    SP_ASSERT(mkdtemp(g_dir) != NULL);
    check_svg_basics();
    run_spec spec[3] = {
        {"pso", "k3", "{\"name\": \"demo\", \"k\": 3, \"task\": {\"type\": \"hellaswag\"}, "
                      "\"objective\": {\"type\": \"acc_norm\"}, \"search\": {\"algorithm\": "
                      "\"pso\", \"budget\": 40}}", 3, 40, 8, 1, 11, {{0}}},
        {"woa", "k5", "{\"name\": \"demo\", \"k\": 5, \"task\": {\"type\": \"hellaswag\"}, "
                      "\"objective\": {\"type\": \"acc_norm\"}, \"protected\": [0, 1, 15], "
                      "\"search\": {\"algorithm\": \"woa\", \"budget\": 30}}", 5, 30, 6, 0, 22, {{0}}},
        {"fixed", "fixed", "{\"name\": \"demo\", \"k\": 3, \"task\": {\"type\": \"hellaswag\"}, "
                           "\"objective\": {\"type\": \"acc_norm\"}, \"search\": {\"algorithm\": "
                           "\"fixed\", \"budget\": 1}}", 3, 1, 1, 0, 33, {{0}}}};
    int nprot[3] = {2, 3, 2};
    sp_mask_set(&spec[0].prot, 0), sp_mask_set(&spec[0].prot, L - 1);
    sp_mask_set(&spec[1].prot, 0), sp_mask_set(&spec[1].prot, 1), sp_mask_set(&spec[1].prot, 15);
    sp_mask_set(&spec[2].prot, 0), sp_mask_set(&spec[2].prot, L - 1);
    sp_ckpt c[3];
    const char *inputs[3];
    sp_error err = {{0}};
    for (int i = 0; i < 3; i++) {
        char rel[64];
        SP_ASSERT(mkdir(tpath(spec[i].dir), 0777) == 0);
        make_run(&c[i], &spec[i]);
        snprintf(rel, sizeof rel, "%s/results.h5", spec[i].dir);
        inputs[i] = strdup(tpath(rel));
        SP_ASSERT(sp_ckpt_write(inputs[i], &c[i], &err) == 0);
        snprintf(rel, sizeof rel, "%s/summary.json", spec[i].dir);
        write_summary(&c[i], &spec[i], tpath(rel));
    }
    const char *out = strdup(tpath("out")), *out2 = strdup(tpath("out2"));
    CHECK(run_report(inputs, 3, out) == 0, "report failed");
    for (size_t i = 0; i < N_FILES; i++) {
        char p[600];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", out, g_files[i]);
        CHECK(stat(p, &sb) == 0 && sb.st_size > 200, "%s missing or tiny", p);
    }
    check_xml(out);
    char path[600];
    snprintf(path, sizeof path, "%s/report.md", out);
    char *md = slurp(path);
    CHECK(md != NULL, "report.md unreadable");
    for (int i = 0; md && i < 3; i++) check_table(md, inputs[i], &c[i], i + 1, spec[i].k);
    CHECK(md && strstr(md, "![") && strstr(md, "(frequency-1.svg)") &&
              strstr(md, "(convergence-acc_norm-time.svg)"), "report.md embeds the SVGs");
    CHECK(md && strstr(md, "| 16.06 → 13.65 | 15.0 % |") && strstr(md, "| 25.0 % |"),
          "size columns (GB before and after, percent reduction) from summary.json");
    free(md);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/frequency-%d.svg", out, i + 1);
        check_bars(path, &c[i], nprot[i]);
    }
    check_units_and_points(out, c[0].history.metrics[2]);
    /* determinism: a second run elsewhere and a rerun in place give identical bytes */
    CHECK(run_report(inputs, 3, out2) == 0, "second report failed");
    CHECK(run_report(inputs, 3, out) == 0, "rerun failed");
    for (size_t i = 0; i < N_FILES; i++) {
        char a[600], b[600];
        snprintf(a, sizeof a, "%s/%s", out, g_files[i]);
        snprintf(b, sizeof b, "%s/%s", out2, g_files[i]);
        CHECK(same_bytes(a, b), "%s differs between runs", g_files[i]);
    }
    check_bad_input(inputs[0]);
    check_empty_run();
    check_baseline_curves();
    for (int i = 0; i < 3; i++) sp_ckpt_free(&c[i]), free((void *)inputs[i]);
    free((void *)out);
    free((void *)out2);
    if (sp_test_failures == 0 && !getenv("SP_KEEP_REPORT")) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    }
    return sp_test_finish("test_report");
}
