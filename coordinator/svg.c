/* svg.c — the tiny SVG writer (see svg.h). Everything goes into one growing buffer that is
 * written to disk at the end; numbers are printed with fixed formats so that output bytes
 * depend only on the data. */
#include "svg.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Clean coordinate: rounds away "-0.00" so identical pictures print identically. */
static double cc(double v)
{
    if (!isfinite(v)) return 0.0;
    return fabs(v) < 0.005 ? 0.0 : v;
}

static void reserve(sp_svg *s, size_t more)
{
    size_t need;
    SP_ASSERT(sp_add_size(s->len, more + 1, &need) == 0);
    if (need <= s->cap) return;
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < need) {
        SP_ASSERT(sp_mul_size(cap, 2, &cap) == 0);
    }
    s->buf = sp_xrealloc(s->buf, cap);
    s->cap = cap;
}

void sp_svg_raw(sp_svg *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    SP_ASSERT(n >= 0);
    reserve(s, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(s->buf + s->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence starting at p (0 when invalid). */
static int utf8_len(const unsigned char *p)
{
    int n = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3
            : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 2 && p[0] < 0xc2) return 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    return n;
}

void sp_svg_escape(sp_svg *s, const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        int n = utf8_len(p);
        if (*p == '&') sp_svg_raw(s, "&amp;");
        else if (*p == '<') sp_svg_raw(s, "&lt;");
        else if (*p == '>') sp_svg_raw(s, "&gt;");
        else if (*p == '"') sp_svg_raw(s, "&quot;");
        else if (n == 0 || *p < 0x20) sp_svg_raw(s, "?"); /* not representable in XML */
        else sp_svg_raw(s, "%.*s", n, (const char *)p);
        p += n ? n : 1;
    }
}

void sp_svg_begin(sp_svg *s, int width, int height, const char *title)
{
    memset(s, 0, sizeof *s);
    s->width = width;
    s->height = height;
    sp_svg_raw(s,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\">\n"
               "<title>",
               width, height, width, height);
    sp_svg_escape(s, title);
    sp_svg_raw(s, "</title>\n<defs>\n"
                  "<pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
                  "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#e3e3e3\"/>"
                  "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#8a8a8a\" stroke-width=\"2\"/>"
                  "</pattern>\n</defs>\n");
    sp_svg_raw(s, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", width,
               height);
}

void sp_svg_free(sp_svg *s)
{
    free(s->buf);
    memset(s, 0, sizeof *s);
}

int sp_svg_finish(sp_svg *s, const char *path, sp_error *err)
{
    sp_svg_raw(s, "</svg>\n");
    int rc = 0;
    FILE *f = fopen(path, "wb");
    if (!f) {
        rc = sp_error_set(err, "%s: cannot write: %s", path, strerror(errno));
    } else {
        int bad = fwrite(s->buf, 1, s->len, f) != s->len;
        bad |= fclose(f) != 0;
        if (bad) rc = sp_error_set(err, "%s: write failed: %s", path, strerror(errno));
    }
    sp_svg_free(s);
    return rc;
}

void sp_svg_text(sp_svg *s, double x, double y, int size, const char *anchor, double rotate,
                 int bold, const char *text)
{
    sp_svg_raw(s, "<text x=\"%.2f\" y=\"%.2f\" font-size=\"%d\" text-anchor=\"%s\"", cc(x), cc(y),
               size, anchor);
    if (bold) sp_svg_raw(s, " font-weight=\"bold\"");
    if (rotate != 0.0)
        sp_svg_raw(s, " transform=\"rotate(%.0f %.2f %.2f)\"", rotate, cc(x), cc(y));
    sp_svg_raw(s, " fill=\"#1a1a1a\">");
    sp_svg_escape(s, text);
    sp_svg_raw(s, "</text>\n");
}

void sp_svg_line(sp_svg *s, double x1, double y1, double x2, double y2, const char *stroke,
                 double width, const char *dash)
{
    sp_svg_raw(s, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" "
                  "stroke-width=\"%.2f\"",
               cc(x1), cc(y1), cc(x2), cc(y2), stroke, width);
    if (dash) sp_svg_raw(s, " stroke-dasharray=\"%s\"", dash);
    sp_svg_raw(s, "/>\n");
}

void sp_svg_rect(sp_svg *s, double x, double y, double w, double h, const char *fill,
                 const char *extra)
{
    sp_svg_raw(s, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"%s%s/>\n",
               cc(x), cc(y), cc(w < 0 ? 0 : w), cc(h < 0 ? 0 : h), fill, extra ? " " : "",
               extra ? extra : "");
}

void sp_svg_circle(sp_svg *s, double cx, double cy, double r, const char *fill, const char *extra)
{
    sp_svg_raw(s, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\" fill=\"%s\"%s%s/>\n", cc(cx), cc(cy),
               r, fill, extra ? " " : "", extra ? extra : "");
}

void sp_svg_polyline(sp_svg *s, const double *xy, size_t n, const char *stroke, double width,
                     const char *dash, const char *extra)
{
    sp_svg_raw(s, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.2f\" "
                  "stroke-linejoin=\"round\"",
               stroke, width);
    if (dash) sp_svg_raw(s, " stroke-dasharray=\"%s\"", dash);
    if (extra) sp_svg_raw(s, " %s", extra);
    sp_svg_raw(s, " points=\"");
    for (size_t i = 0; i < n; i++)
        sp_svg_raw(s, "%s%.2f,%.2f", i ? " " : "", cc(xy[2 * i]), cc(xy[2 * i + 1]));
    sp_svg_raw(s, "\"/>\n");
}

/* ---- axes -------------------------------------------------------------------------------- */

void sp_svg_ticks_nice(double min, double max, int target, int integer, sp_svg_ticks *t)
{
    if (!isfinite(min) || !isfinite(max)) min = 0, max = 1;
    if (min > max) {
        double tmp = min;
        min = max;
        max = tmp;
    }
    if (max - min <= 1e-12 * fmax(1.0, fabs(max))) {
        double pad = fabs(max) > 0 ? fabs(max) * 0.1 : 1.0;
        if (integer && pad < 1) pad = 1;
        min -= pad;
        max += pad;
    }
    if (target < 1) target = 1;
    double raw = (max - min) / target, mag = pow(10.0, floor(log10(raw))), f = raw / mag;
    double step = (f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0) * mag;
    if (integer && step < 1) step = 1;
    t->step = step;
    t->lo = floor(min / step + 1e-9) * step;
    t->hi = ceil(max / step - 1e-9) * step;
    t->first = t->lo;
    int d = (int)-floor(log10(step) + 1e-9);
    t->decimals = d > 0 ? d : 0;
}

void sp_svg_format(double v, int decimals, char *buf, size_t size)
{
    snprintf(buf, size, "%.*f", decimals, v);
    /* "-0", "-0.00": print without the sign */
    int only_zero = buf[0] == '-';
    for (const char *p = buf + 1; *p && only_zero; p++)
        if (*p != '0' && *p != '.') only_zero = 0;
    if (only_zero) memmove(buf, buf + 1, strlen(buf));
}

double sp_svg_plot_x(const sp_svg_plot *p, double v)
{
    return p->x + (v - p->xt.lo) / (p->xt.hi - p->xt.lo) * p->w;
}

double sp_svg_plot_y(const sp_svg_plot *p, double v)
{
    return p->y + p->h - (v - p->yt.lo) / (p->yt.hi - p->yt.lo) * p->h;
}

/* Tick values of one axis: n ticks from first by step within [lo, hi]. */
static int tick_count(const sp_svg_ticks *t)
{
    if (!(t->step > 0)) return 0;
    int n = (int)floor((t->hi - t->first) / t->step + 1e-6) + 1;
    return n < 0 ? 0 : n > 200 ? 200 : n;
}

void sp_svg_plot_axes(sp_svg *s, const sp_svg_plot *p, const char *xlabel, const char *ylabel)
{
    char lab[64];
    int nx = tick_count(&p->xt), ny = tick_count(&p->yt);
    sp_svg_raw(s, "<g class=\"grid\">\n");
    for (int i = 0; i < ny && !p->no_grid; i++) {
        double y = sp_svg_plot_y(p, p->yt.first + i * p->yt.step);
        sp_svg_line(s, p->x, y, p->x + p->w, y, "#e0e0e0", 1, NULL);
    }
    sp_svg_raw(s, "</g>\n<g class=\"axes\">\n");
    sp_svg_line(s, p->x, p->y + p->h, p->x + p->w, p->y + p->h, "#333333", 1.2, NULL);
    sp_svg_line(s, p->x, p->y, p->x, p->y + p->h, "#333333", 1.2, NULL);
    for (int i = 0; i < nx; i++) {
        double v = p->xt.first + i * p->xt.step, x = sp_svg_plot_x(p, v);
        sp_svg_line(s, x, p->y + p->h, x, p->y + p->h + 5, "#333333", 1.2, NULL);
        sp_svg_format(v, p->xt.decimals, lab, sizeof lab);
        sp_svg_text(s, x, p->y + p->h + 20, SP_SVG_FONT_TICK, "middle", 0, 0, lab);
    }
    for (int i = 0; i < ny; i++) {
        double v = p->yt.first + i * p->yt.step, y = sp_svg_plot_y(p, v);
        sp_svg_line(s, p->x - 5, y, p->x, y, "#333333", 1.2, NULL);
        sp_svg_format(v, p->yt.decimals, lab, sizeof lab);
        sp_svg_text(s, p->x - 8, y + 4.5, SP_SVG_FONT_TICK, "end", 0, 0, lab);
    }
    if (xlabel)
        sp_svg_text(s, p->x + p->w / 2, p->y + p->h + 44, SP_SVG_FONT_LABEL, "middle", 0, 0,
                    xlabel);
    if (ylabel)
        sp_svg_text(s, p->x - 62, p->y + p->h / 2, SP_SVG_FONT_LABEL, "middle", -90, 0, ylabel);
    sp_svg_raw(s, "</g>\n");
}

/* ---- legend, colours ----------------------------------------------------------------------- */

double sp_svg_legend(sp_svg *s, double x, double y, const sp_svg_key *keys, int n)
{
    const double row = 20, pad = 8, sym = 22;
    size_t longest = 0;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(keys[i].label);
        if (len > longest) longest = len;
    }
    double w = pad * 2 + sym + 6 + 7.4 * (double)longest, h = pad * 2 + row * n - 4;
    sp_svg_raw(s, "<g class=\"legend\">\n");
    sp_svg_raw(s, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"#ffffff\" "
                  "fill-opacity=\"0.9\" stroke=\"#bbbbbb\"/>\n",
               cc(x), cc(y), w, h);
    for (int i = 0; i < n; i++) {
        double cy = y + pad + row * i + 8, sx = x + pad;
        const char *col = keys[i].colour;
        switch (keys[i].kind) {
        case SP_SVG_KEY_LINE: sp_svg_line(s, sx, cy, sx + sym, cy, col, 2.5, NULL); break;
        case SP_SVG_KEY_DASH: sp_svg_line(s, sx, cy, sx + sym, cy, col, 2, "6 4"); break;
        case SP_SVG_KEY_BOX: sp_svg_rect(s, sx + 4, cy - 7, 14, 14, col, NULL); break;
        case SP_SVG_KEY_HATCH:
            sp_svg_rect(s, sx + 4, cy - 7, 14, 14, "url(#hatch)", "stroke=\"#8a8a8a\"");
            break;
        case SP_SVG_KEY_POINT: sp_svg_circle(s, sx + sym / 2, cy, 5, col, NULL); break;
        }
        sp_svg_text(s, sx + sym + 6, cy + 4.5, 12, "start", 0, 0, keys[i].label);
    }
    sp_svg_raw(s, "</g>\n");
    return h;
}

void sp_svg_colormap(double v, char out[8])
{
    /* anchors of a dark-blue -> teal -> green -> yellow ramp, evenly spaced */
    static const unsigned char c[5][3] = {
        {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
    if (isnan(v)) {
        snprintf(out, 8, "#bbbbbb");
        return;
    }
    double t = (v < 0 ? 0 : v > 1 ? 1 : v) * 4;
    int i = (int)floor(t);
    if (i > 3) i = 3;
    double f = t - i;
    int rgb[3];
    for (int k = 0; k < 3; k++) rgb[k] = (int)lround(c[i][k] + f * (c[i + 1][k] - c[i][k]));
    snprintf(out, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

void sp_svg_colour_scale(sp_svg *s, double x, double y, double w, double h, double lo, double hi,
                         const char *label)
{
    const int steps = 40;
    char col[8], lab[64];
    sp_svg_raw(s, "<g class=\"colour-scale\">\n");
    for (int i = 0; i < steps; i++) {
        sp_svg_colormap((i + 0.5) / steps, col);
        double y0 = y + h - (i + 1) * h / steps;
        sp_svg_rect(s, x, y0, w, h / steps + 0.3, col, NULL);
    }
    sp_svg_raw(s, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" "
                  "stroke=\"#333333\"/>\n",
               cc(x), cc(y), w, h);
    sp_svg_ticks t;
    sp_svg_ticks_nice(lo, hi, 5, 0, &t);
    for (double v = lo; v <= hi + 1e-9 * fabs(hi - lo); v += t.step) {
        double ty = y + h - (v - lo) / (hi - lo) * h;
        sp_svg_line(s, x + w, ty, x + w + 4, ty, "#333333", 1, NULL);
        sp_svg_format(v, t.decimals, lab, sizeof lab);
        sp_svg_text(s, x + w + 7, ty + 4.5, 12, "start", 0, 0, lab);
    }
    if (label) sp_svg_text(s, x + w + 52, y + h / 2, SP_SVG_FONT_LABEL, "middle", 90, 0, label);
    sp_svg_raw(s, "</g>\n");
}

const char *sp_svg_palette(int i)
{
    static const char *const pal[8] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                                       "#e69f00", "#56b4e9", "#000000", "#7f7f7f"};
    return pal[(i % 8 + 8) % 8];
}
