/* svg.h — a tiny SVG writer for the report's charts: text (XML-escaped), lines, rectangles,
 * polylines, circles, axes with "nice" 1/2/5 x 10^n ticks, legends, a colour map and its
 * scale. Output is deterministic: coordinates are printed with two decimals, no timestamps,
 * so the same data gives the same bytes. Fonts are >= 12 px. */
#ifndef SP_SVG_H
#define SP_SVG_H

#include <stddef.h>

#include "common/error.h"

typedef struct {
    char *buf;
    size_t len, cap;
    double width, height;
} sp_svg;

/* Tick layout of one axis: the axis spans [lo, hi]; ticks at first + i*step <= hi. */
typedef struct {
    double lo, hi, first, step;
    int decimals; /* digits after the point in tick labels */
} sp_svg_ticks;

/* A plot area in pixels (x, y = top-left) and its data ranges. */
typedef struct {
    double x, y, w, h;
    sp_svg_ticks xt, yt;
    int no_grid; /* 1: no horizontal grid lines (heat maps) */
} sp_svg_plot;

typedef enum {
    SP_SVG_KEY_LINE = 0, /* solid line */
    SP_SVG_KEY_DASH,     /* dashed line (reference / baseline) */
    SP_SVG_KEY_BOX,      /* filled square */
    SP_SVG_KEY_HATCH,    /* hatched grey square (protected / excluded) */
    SP_SVG_KEY_POINT     /* marker */
} sp_svg_key_kind;

typedef struct {
    const char *label;
    const char *colour; /* "#rrggbb" */
    sp_svg_key_kind kind;
} sp_svg_key;

#define SP_SVG_FONT_TICK 13
#define SP_SVG_FONT_LABEL 14
#define SP_SVG_FONT_TITLE 16

/* Starts a document of width x height px with a white background, a <title>, the shared
 * style and the "hatch" pattern. */
void sp_svg_begin(sp_svg *s, int width, int height, const char *title);
/* Closes the document and writes it to path (the buffer is freed either way). */
int sp_svg_finish(sp_svg *s, const char *path, sp_error *err);
void sp_svg_free(sp_svg *s);

/* Raw markup (the caller escapes) and escaped text. */
void sp_svg_raw(sp_svg *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sp_svg_escape(sp_svg *s, const char *text);
/* anchor: "start", "middle", "end"; rotate in degrees about (x, y); weight 1 = bold. */
void sp_svg_text(sp_svg *s, double x, double y, int size, const char *anchor, double rotate,
                 int bold, const char *text);
void sp_svg_line(sp_svg *s, double x1, double y1, double x2, double y2, const char *stroke,
                 double width, const char *dash /* NULL = solid */);
/* extra: more attributes written verbatim (e.g. data-value="0.25"), NULL for none. */
void sp_svg_rect(sp_svg *s, double x, double y, double w, double h, const char *fill,
                 const char *extra);
void sp_svg_circle(sp_svg *s, double cx, double cy, double r, const char *fill,
                   const char *extra);
/* xy: [n x 2] pixel coordinates. */
void sp_svg_polyline(sp_svg *s, const double *xy, size_t n, const char *stroke, double width,
                     const char *dash, const char *extra);

/* Ticks covering [min, max] with about `target` intervals of 1, 2 or 5 x 10^n (integer: step
 * at least 1). A zero-width or non-finite range is widened so the axis is never degenerate. */
void sp_svg_ticks_nice(double min, double max, int target, int integer, sp_svg_ticks *t);
/* Formats v with `decimals` digits after the point; never prints "-0". */
void sp_svg_format(double v, int decimals, char *buf, size_t size);

double sp_svg_plot_x(const sp_svg_plot *p, double v);
double sp_svg_plot_y(const sp_svg_plot *p, double v);
/* Grid, frame, tick marks with labels, and axis labels (y label rotated). */
void sp_svg_plot_axes(sp_svg *s, const sp_svg_plot *p, const char *xlabel, const char *ylabel);

/* A legend box with its top-left corner at (x, y); returns its height in px. */
double sp_svg_legend(sp_svg *s, double x, double y, const sp_svg_key *keys, int n);

/* Sequential colour map (dark blue -> green -> yellow) for v in [0, 1] (clamped; NaN grey). */
void sp_svg_colormap(double v, char out[8]);
/* A vertical colour scale bar for [lo, hi] at (x, y) of size w x h with ticks and a label. */
void sp_svg_colour_scale(sp_svg *s, double x, double y, double w, double h, double lo, double hi,
                         const char *label);

/* Line colours for series i (8 colour-blind-safe colours, then repeated). */
const char *sp_svg_palette(int i);

#endif
