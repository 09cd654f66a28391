/* task_kl.c — KL(dense || pruned) over calibration windows: the dense distributions are cached
 * once (full fp32 log-probs, or top-K + tail mass when N x V does not fit the budget), then each
 * mask costs one forward pass over the same windows. See task_kl.h for the approximation. */
#include "task_kl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "engine.h"

struct sp_kl_scorer {
    sp_engine *e;
    int64_t V, N, K; /* vocab, rows, cached entries per row (V when full) */
    int full;
    /* windows: packed tokens of every window (BOS included) */
    int64_t n_win, n_tok;
    int32_t *tokens;     /* [n_tok] */
    int64_t *win_off;    /* [n_win + 1] token offsets */
    int64_t *row_off;    /* [n_win + 1] row offsets */
    int64_t *row_pos;    /* [N] token index (into tokens) of each row */
    int64_t n_groups;
    int64_t *group_win;  /* [n_groups + 1] window ranges per forward call */
    /* dense cache */
    float *lp;           /* [N x K] fp32 log-probs (full: all V in id order) */
    int32_t *idx;        /* [N x K] token ids (top-K only) */
    double *tail;        /* [N] tail mass p_T (top-K only) */
    /* scratch */
    float *logits;       /* [max rows per call x V] */
    int64_t max_rows;
    int64_t *rows;       /* [max rows per call] */
    int64_t *item_off;   /* [max windows per call + 1] */
    int32_t *prefix_len; /* [max windows per call] */
    double *lq;          /* [V] */
    double *tmp;         /* [V] */
    unsigned char *mark; /* [V] */
};

static int kl_windows(sp_kl_scorer *s, const int32_t *text, int64_t n, const sp_kl_options *o)
{
    int has_bos = o->bos >= 0;
    int64_t per = o->ctx - has_bos; /* text tokens per window */
    s->n_win = (n + per - 1) / per;
    s->n_tok = n + (has_bos ? s->n_win : 0);
    s->tokens = sp_xmalloc((size_t)s->n_tok * sizeof(int32_t));
    s->win_off = sp_xmalloc((size_t)(s->n_win + 1) * sizeof(int64_t));
    s->row_off = sp_xmalloc((size_t)(s->n_win + 1) * sizeof(int64_t));
    s->row_pos = sp_xmalloc((size_t)n * sizeof(int64_t));
    int64_t t = 0, r = 0;
    for (int64_t w = 0; w < s->n_win; w++) {
        s->win_off[w] = t;
        s->row_off[w] = r;
        if (has_bos) s->tokens[t++] = o->bos;
        int64_t a = w * per, b = a + per < n ? a + per : n;
        for (int64_t i = a; i < b; i++) {
            s->row_pos[r++] = t; /* the distribution after this text token */
            s->tokens[t++] = text[i];
        }
    }
    s->win_off[s->n_win] = t;
    s->row_off[s->n_win] = r;
    SP_ASSERT(t == s->n_tok && r == n);
    return 0;
}

/* Groups windows into forward calls of at most logits_budget bytes of logits (>= 1 window). */
static void kl_groups(sp_kl_scorer *s, size_t logits_budget)
{
    int64_t max_rows_budget = (int64_t)(logits_budget / ((size_t)s->V * sizeof(float)));
    s->group_win = sp_xmalloc((size_t)(s->n_win + 1) * sizeof(int64_t));
    s->n_groups = 0;
    s->max_rows = 0;
    int64_t max_w = 1;
    for (int64_t w = 0; w < s->n_win;) {
        int64_t w1 = w + 1;
        while (w1 < s->n_win && s->row_off[w1 + 1] - s->row_off[w] <= max_rows_budget) w1++;
        s->group_win[s->n_groups++] = w;
        int64_t rows = s->row_off[w1] - s->row_off[w];
        if (rows > s->max_rows) s->max_rows = rows;
        if (w1 - w > max_w) max_w = w1 - w;
        w = w1;
    }
    s->group_win[s->n_groups] = s->n_win;
    size_t bytes;
    SP_ASSERT(sp_mul_size((size_t)s->max_rows, (size_t)s->V * sizeof(float), &bytes) == 0);
    s->logits = sp_xmalloc(bytes);
    s->rows = sp_xmalloc((size_t)s->max_rows * sizeof(int64_t));
    s->item_off = sp_xmalloc((size_t)(max_w + 1) * sizeof(int64_t));
    s->prefix_len = sp_xmalloc((size_t)max_w * sizeof(int32_t));
}

/* log-softmax of one row of logits into s->lq (double). */
static void kl_log_softmax(const float *l, int64_t V, double *lq)
{
    double mx = -INFINITY, sum = 0;
    for (int64_t v = 0; v < V; v++)
        if (l[v] > mx) mx = l[v];
    for (int64_t v = 0; v < V; v++) sum += exp((double)l[v] - mx);
    double lse = mx + log(sum);
    for (int64_t v = 0; v < V; v++) lq[v] = (double)l[v] - lse;
}

/* Min-heap of (log-prob, id) keeping the K largest. */
static void kl_heap_down(double *hv, int32_t *hi, int64_t K, int64_t i)
{
    for (;;) {
        int64_t c = 2 * i + 1, m = i;
        if (c < K && hv[c] < hv[m]) m = c;
        if (c + 1 < K && hv[c + 1] < hv[m]) m = c + 1;
        if (m == i) return;
        double tv = hv[i];
        hv[i] = hv[m], hv[m] = tv;
        int32_t ti = hi[i];
        hi[i] = hi[m], hi[m] = ti;
        i = m;
    }
}

static void kl_cache_row(sp_kl_scorer *s, int64_t r)
{
    const double *lq = s->lq;
    if (s->full) {
        for (int64_t v = 0; v < s->V; v++) s->lp[r * s->V + v] = (float)lq[v];
        return;
    }
    int64_t K = s->K;
    double *hv = s->tmp; /* heap values in tmp[0..K) */
    int32_t *hi = s->idx + r * K;
    for (int64_t v = 0; v < K; v++) hv[v] = lq[v], hi[v] = (int32_t)v;
    for (int64_t i = K / 2 - 1; i >= 0; i--) kl_heap_down(hv, hi, K, i);
    for (int64_t v = K; v < s->V; v++)
        if (lq[v] > hv[0]) {
            hv[0] = lq[v], hi[0] = (int32_t)v;
            kl_heap_down(hv, hi, K, 0);
        }
    for (int64_t k = 0; k < K; k++) s->mark[hi[k]] = 1;
    double tail = 0;
    for (int64_t v = 0; v < s->V; v++)
        if (!s->mark[v]) tail += exp(lq[v]);
    for (int64_t k = 0; k < K; k++) {
        s->mark[hi[k]] = 0;
        s->lp[r * K + k] = (float)hv[k];
    }
    s->tail[r] = tail;
}

static int kl_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : (x > y);
}

/* KL of one row against the cache (s->lq holds the pruned log-probs); *bound when asked. */
static double kl_row(sp_kl_scorer *s, int64_t r, double *bound)
{
    const double *lq = s->lq;
    double kl = 0;
    if (s->full) {
        const float *lp = s->lp + r * s->V;
        for (int64_t v = 0; v < s->V; v++) kl += exp((double)lp[v]) * ((double)lp[v] - lq[v]);
        return kl;
    }
    const float *lp = s->lp + r * s->K;
    const int32_t *id = s->idx + r * s->K;
    double pmin = 1;
    for (int64_t k = 0; k < s->K; k++) {
        double p = exp((double)lp[k]);
        kl += p * ((double)lp[k] - lq[id[k]]);
        if (p < pmin) pmin = p;
        s->mark[id[k]] = 1;
    }
    double pt = s->tail[r], qt = 0;
    int64_t nt = 0;
    for (int64_t v = 0; v < s->V; v++)
        if (!s->mark[v]) {
            qt += exp(lq[v]);
            s->tmp[nt++] = lq[v];
        }
    for (int64_t k = 0; k < s->K; k++) s->mark[id[k]] = 0;
    double lumped = pt > 0 ? pt * (log(pt) - log(qt)) : 0;
    kl += lumped;
    if (bound) {
        /* Max of sum x_v log(x_v / q_v) over 0 <= x_v <= pmin, sum x_v = pt: greedy on smallest q. */
        qsort(s->tmp, (size_t)nt, sizeof(double), kl_cmp_double);
        double left = pt, worst = 0;
        for (int64_t i = 0; i < nt && left > 0; i++) {
            double x = left < pmin ? left : pmin;
            worst += x * (log(x) - s->tmp[i]);
            left -= x;
        }
        *bound = worst - lumped > 0 ? worst - lumped : 0;
    }
    return kl;
}

/* One pass over every window: mode 0 fills the cache, mode 1 scores against it. */
static int kl_pass(sp_kl_scorer *s, const sp_mask *removed, int mode, int64_t n_rows,
                   int want_bound, sp_kl_stats *st, sp_error *err)
{
    for (int64_t g = 0; g < s->n_groups && s->row_off[s->group_win[g]] < n_rows; g++) {
        int64_t w0 = s->group_win[g], w1 = s->group_win[g + 1];
        int64_t t0 = s->win_off[w0], r0 = s->row_off[w0], nr = s->row_off[w1] - r0;
        for (int64_t w = w0; w <= w1; w++) s->item_off[w - w0] = s->win_off[w] - t0;
        for (int64_t w = w0; w < w1; w++)
            s->prefix_len[w - w0] = (int32_t)(s->win_off[w + 1] - s->win_off[w]);
        for (int64_t r = 0; r < nr; r++) s->rows[r] = s->row_pos[r0 + r] - t0;
        sp_batch b = {s->win_off[w1] - t0, s->tokens + t0, (int32_t)(w1 - w0), s->item_off,
                      s->prefix_len, NULL};
        sp_head_request req = {nr, s->rows, NULL, NULL, s->logits};
        if (sp_engine_forward(s->e, &b, removed, &req, err)) return -1;
        for (int64_t r = 0; r < nr && r0 + r < n_rows; r++) {
            kl_log_softmax(s->logits + r * s->V, s->V, s->lq);
            if (mode == 0) {
                kl_cache_row(s, r0 + r);
                continue;
            }
            double bound = 0, kl = kl_row(s, r0 + r, want_bound ? &bound : NULL);
            st->mean_kl += kl;
            st->mean_bound += bound;
            if (kl > st->max_kl) st->max_kl = kl;
        }
    }
    return 0;
}

static int kl_check_options(const sp_kl_options *o, int64_t V, int64_t n, const sp_model_config *c,
                            sp_error *err)
{
    if (n < 1) return sp_error_set(err, "kl: no calibration tokens");
    if (o->ctx < 2 || o->ctx > c->max_pos)
        return sp_error_set(err, "kl: window of %lld tokens outside [2, %lld]", (long long)o->ctx,
                            (long long)c->max_pos);
    if (o->top_k < 0 || o->top_k >= V)
        return sp_error_set(err, "kl: top-K %lld outside [1, V = %lld) (0 = automatic)",
                            (long long)o->top_k, (long long)V);
    if (o->bos >= V) return sp_error_set(err, "kl: BOS id %d outside the vocabulary", o->bos);
    return 0;
}

int sp_kl_create(struct sp_engine *e, const int32_t *tokens, int64_t n_tokens,
                 const sp_kl_options *opt, sp_kl_scorer **out, sp_error *err)
{
    const sp_model_config *c = sp_engine_config(e);
    int64_t V = c->vocab;
    if (kl_check_options(opt, V, n_tokens, c, err)) return -1;
    for (int64_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return sp_error_set(err, "kl: token %lld has id %d outside the vocabulary of %lld",
                                (long long)i, tokens[i], (long long)V);
    sp_kl_scorer *s = sp_xcalloc(1, sizeof *s);
    s->e = e;
    s->V = V;
    s->N = n_tokens;
    size_t budget = opt->mem_budget ? opt->mem_budget : SP_KL_DEFAULT_MEM_BUDGET, full_bytes;
    int fits = sp_mul_size((size_t)n_tokens, (size_t)V * sizeof(float), &full_bytes) == 0 &&
               full_bytes <= budget;
    s->full = opt->top_k == 0 && fits;
    s->K = s->full ? V : (opt->top_k ? opt->top_k : (SP_KL_DEFAULT_TOP_K < V ? SP_KL_DEFAULT_TOP_K : V - 1));
    size_t lp_bytes;
    if (sp_mul_size((size_t)n_tokens, (size_t)s->K * sizeof(float), &lp_bytes)) {
        free(s);
        return sp_error_set(err, "kl: cache size overflows");
    }
    kl_windows(s, tokens, n_tokens, opt);
    kl_groups(s, opt->logits_budget ? opt->logits_budget : (size_t)64 << 20);
    s->lp = sp_xmalloc(lp_bytes);
    if (!s->full) {
        s->idx = sp_xmalloc((size_t)n_tokens * (size_t)s->K * sizeof(int32_t));
        s->tail = sp_xmalloc((size_t)n_tokens * sizeof(double));
    }
    s->lq = sp_xmalloc((size_t)V * sizeof(double));
    s->tmp = sp_xmalloc((size_t)V * sizeof(double));
    s->mark = sp_xcalloc((size_t)V, 1);
    if (kl_pass(s, NULL, 0, s->N, 0, NULL, err)) {
        sp_kl_free(s);
        return sp_error_wrap(err, "kl: dense pass");
    }
    *out = s;
    return 0;
}

int sp_kl_score(sp_kl_scorer *s, const sp_mask *removed, int want_bound, sp_kl_stats *out,
                sp_error *err)
{
    return sp_kl_score_first(s, removed, s->N, want_bound, out, err);
}

int sp_kl_score_first(sp_kl_scorer *s, const sp_mask *removed, int64_t n_rows, int want_bound,
                      sp_kl_stats *out, sp_error *err)
{
    double t0 = sp_now();
    memset(out, 0, sizeof *out);
    SP_ASSERT(n_rows >= 1 && n_rows <= s->N);
    if (kl_pass(s, removed, 1, n_rows, want_bound, out, err)) return -1;
    out->n_rows = n_rows;
    out->mean_kl /= (double)n_rows;
    out->mean_bound /= (double)n_rows;
    out->wall_s = sp_now() - t0;
    return 0;
}

void sp_kl_free(sp_kl_scorer *s)
{
    if (!s) return;
    free(s->tokens), free(s->win_off), free(s->row_off), free(s->row_pos), free(s->group_win);
    free(s->lp), free(s->idx), free(s->tail), free(s->logits), free(s->rows);
    free(s->item_off), free(s->prefix_len), free(s->lq), free(s->tmp), free(s->mark);
    free(s);
}

int sp_kl_is_full(const sp_kl_scorer *s) { return s->full; }
int64_t sp_kl_top_k(const sp_kl_scorer *s) { return s->K; }
int64_t sp_kl_rows(const sp_kl_scorer *s) { return s->N; }
size_t sp_kl_cache_bytes(const sp_kl_scorer *s)
{
    size_t per = (size_t)s->K * (sizeof(float) + (s->full ? 0 : sizeof(int32_t)));
    return (size_t)s->N * per + (s->full ? 0 : (size_t)s->N * sizeof(double));
}
