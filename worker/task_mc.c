/* task_mc.c — multiple-choice request building (lm-eval's context/continuation split) and
 * scoring through the engine's packed batch: per item one shared prefix (the context) and one
 * branch per ending, several items per forward call up to a token budget, grouped by length. */
#include "task_mc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/tokenizer.h"
#include "engine.h"

int sp_mc_encode_tokenizer(void *ctx, const char *text, size_t len, int32_t **ids, size_t *n,
                           sp_error *err)
{
    return sp_tokenizer_encode((const sp_tokenizer *)ctx, text, len, 0, ids, n, err);
}

/* ---- request building -------------------------------------------------------------------- */

static size_t mc_utf8_chars(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80) n++;
    return n;
}

static void mc_request_free(sp_mc_request *r)
{
    free(r->ctx);
    for (int k = 0; k < r->n_endings; k++) free(r->cont ? r->cont[k] : NULL);
    free(r->cont);
    free(r->n_cont);
    free(r->norm_len);
    memset(r, 0, sizeof *r);
}

void sp_mc_requests_free(sp_mc_requests *r)
{
    if (!r) return;
    for (int64_t i = 0; i < r->n; i++) mc_request_free(&r->req[i]);
    free(r->req);
    memset(r, 0, sizeof *r);
}

/* One ending: continuation tokens = encode(ctx_str + cont_str)[len(q):] (lm-eval's split). */
static int mc_build_ending(const char *ctx_str, size_t ctx_len, size_t n_q, const char *cont_str,
                           sp_mc_encode_fn enc, void *enc_ctx, int32_t **cont, int32_t *n_cont,
                           sp_error *err)
{
    size_t cl = strlen(cont_str), wl;
    SP_ASSERT(sp_add_size(ctx_len, cl, &wl) == 0);
    char *whole = sp_xmalloc(wl + 1);
    memcpy(whole, ctx_str, ctx_len);
    memcpy(whole + ctx_len, cont_str, cl + 1);
    int32_t *w = NULL;
    size_t nw = 0;
    int rc = enc(enc_ctx, whole, wl, &w, &nw, err);
    free(whole);
    if (rc) return -1;
    if (nw <= n_q) {
        free(w);
        return sp_error_set(err, "the continuation encodes to no tokens past the context");
    }
    if (nw - n_q > INT32_MAX / 2) {
        free(w);
        return sp_error_set(err, "continuation of %zu tokens is too long", nw - n_q);
    }
    *n_cont = (int32_t)(nw - n_q);
    *cont = sp_xmalloc((size_t)*n_cont * sizeof(int32_t));
    memcpy(*cont, w + n_q, (size_t)*n_cont * sizeof(int32_t));
    free(w);
    return 0;
}

static int mc_build_one(const sp_mc_item *it, sp_mc_encode_fn enc, void *enc_ctx, int32_t bos,
                        int64_t max_len, sp_mc_request *r, sp_error *err)
{
    /* lm-eval moves the context's trailing whitespace to the front of the continuation. */
    size_t ql = strlen(it->query), ctx_len = ql;
    while (ctx_len > 0 && strchr(" \t\n\r\v\f", it->query[ctx_len - 1])) ctx_len--;
    int32_t *q = NULL;
    size_t nq = 0;
    if (ctx_len > 0 && enc(enc_ctx, it->query, ctx_len, &q, &nq, err)) return -1;
    if (ctx_len == 0 && bos < 0) return sp_error_set(err, "empty context and no BOS token");
    if (nq > (size_t)INT32_MAX / 2) {
        free(q);
        return sp_error_set(err, "context of %zu tokens is too long", nq);
    }
    int has_bos = bos >= 0;
    r->n_ctx = (int32_t)nq + has_bos;
    r->ctx = sp_xmalloc((size_t)r->n_ctx * sizeof(int32_t));
    if (has_bos) r->ctx[0] = bos;
    if (nq) memcpy(r->ctx + has_bos, q, nq * sizeof(int32_t));
    free(q);
    r->n_endings = it->n_endings;
    r->label = it->label;
    r->n_cont = sp_xcalloc((size_t)it->n_endings, sizeof(int32_t));
    r->cont = sp_xcalloc((size_t)it->n_endings, sizeof(int32_t *));
    r->norm_len = sp_xcalloc((size_t)it->n_endings, sizeof(double));
    for (int k = 0; k < it->n_endings; k++) {
        size_t tl = ql - ctx_len, el = strlen(it->endings[k]);
        char *cs = sp_xmalloc(tl + el + 2);
        memcpy(cs, it->query + ctx_len, tl);
        cs[tl] = ' ';
        memcpy(cs + tl + 1, it->endings[k], el + 1);
        int rc = mc_build_ending(it->query, ctx_len, nq, cs, enc, enc_ctx, &r->cont[k],
                                 &r->n_cont[k], err);
        free(cs);
        if (rc) return sp_error_wrap(err, "ending %d", k);
        r->norm_len[k] = (double)mc_utf8_chars(it->endings[k]);
        if ((int64_t)r->n_ctx + r->n_cont[k] - 1 > max_len)
            return sp_error_set(err, "ending %d needs %d tokens, more than the model's %lld "
                                     "positions", k, r->n_ctx + r->n_cont[k] - 1, (long long)max_len);
    }
    return 0;
}

int sp_mc_build(const sp_mc_set *set, const int64_t *idx, int64_t n, sp_mc_encode_fn enc,
                void *enc_ctx, int32_t bos, int64_t max_len, sp_mc_requests *out, sp_error *err)
{
    SP_ASSERT(max_len > 0);
    if (!idx) n = set->n;
    memset(out, 0, sizeof *out);
    out->req = sp_xcalloc((size_t)(n ? n : 1), sizeof(sp_mc_request));
    for (int64_t i = 0; i < n; i++) {
        int64_t item = idx ? idx[i] : i;
        SP_ASSERT(item >= 0 && item < set->n);
        sp_mc_request *r = &out->req[i];
        r->item = item;
        out->n = i + 1;
        if (mc_build_one(&set->items[item], enc, enc_ctx, bos, max_len, r, err)) {
            sp_error_wrap(err, "%s:%lld: item %lld", set->path, (long long)set->items[item].line,
                          (long long)item);
            sp_mc_requests_free(out);
            return -1;
        }
    }
    return 0;
}

/* ---- batching ---------------------------------------------------------------------------- */

static int64_t mc_footprint(const sp_mc_request *r, sp_mc_pack pack)
{
    int64_t t = pack == SP_MC_PACK_SHARED ? r->n_ctx : 0;
    for (int k = 0; k < r->n_endings; k++)
        t += (pack == SP_MC_PACK_SHARED ? 0 : r->n_ctx) + r->n_cont[k] - 1;
    return t;
}

typedef struct {
    int64_t cap_tokens, cap_items, cap_rows;
    int32_t *tokens, *prefix_len, *branch, *targets;
    int64_t *item_off, *rows, *dest; /* dest: request index * SP_MC_MAX_ENDINGS + ending */
    float *logprob;
    int64_t n_tokens, n_rows;
    int32_t n_items;
} mc_pack_buf;

static void mc_buf_reserve(mc_pack_buf *b, int64_t tokens, int64_t items)
{
    if (tokens > b->cap_tokens) {
        b->cap_tokens = tokens;
        b->tokens = sp_xrealloc(b->tokens, (size_t)tokens * sizeof(int32_t));
        b->branch = sp_xrealloc(b->branch, (size_t)tokens * sizeof(int32_t));
        b->targets = sp_xrealloc(b->targets, (size_t)tokens * sizeof(int32_t));
        b->rows = sp_xrealloc(b->rows, (size_t)tokens * sizeof(int64_t));
        b->dest = sp_xrealloc(b->dest, (size_t)tokens * sizeof(int64_t));
        b->logprob = sp_xrealloc(b->logprob, (size_t)tokens * sizeof(float));
    }
    if (items + 1 > b->cap_items) {
        b->cap_items = items + 1;
        b->prefix_len = sp_xrealloc(b->prefix_len, (size_t)(items + 1) * sizeof(int32_t));
        b->item_off = sp_xrealloc(b->item_off, (size_t)(items + 1) * sizeof(int64_t));
    }
}

static void mc_buf_free(mc_pack_buf *b)
{
    free(b->tokens), free(b->prefix_len), free(b->branch), free(b->targets);
    free(b->item_off), free(b->rows), free(b->dest), free(b->logprob);
}

static void mc_add_row(mc_pack_buf *b, int64_t row, int32_t target, int64_t dest)
{
    b->rows[b->n_rows] = row;
    b->targets[b->n_rows] = target;
    b->dest[b->n_rows++] = dest;
}

/* Appends request ri: shared = prefix + one branch per ending (cont[:-1]); plain = one item per
 * ending. The row at the last context token predicts cont[0]; branch token j predicts cont[j+1]. */
static void mc_pack_item(mc_pack_buf *b, const sp_mc_request *r, int64_t ri, sp_mc_pack pack)
{
    int branch_id = 0;
    for (int k = 0; k < r->n_endings; k++) {
        int64_t dest = ri * SP_MC_MAX_ENDINGS + k;
        if (pack == SP_MC_PACK_PLAIN || k == 0) {
            b->item_off[b->n_items] = b->n_tokens;
            b->prefix_len[b->n_items] = pack == SP_MC_PACK_PLAIN ? r->n_ctx + r->n_cont[k] - 1
                                                                 : r->n_ctx;
            b->n_items++;
            memcpy(b->tokens + b->n_tokens, r->ctx, (size_t)r->n_ctx * sizeof(int32_t));
            memset(b->branch + b->n_tokens, 0, (size_t)r->n_ctx * sizeof(int32_t));
            b->n_tokens += r->n_ctx;
        }
        int64_t last_ctx = b->item_off[b->n_items - 1] + r->n_ctx - 1;
        mc_add_row(b, last_ctx, r->cont[k][0], dest);
        if (r->n_cont[k] > 1) branch_id++;
        for (int32_t j = 0; j + 1 < r->n_cont[k]; j++) {
            b->tokens[b->n_tokens] = r->cont[k][j];
            b->branch[b->n_tokens] = pack == SP_MC_PACK_PLAIN ? 0 : branch_id;
            mc_add_row(b, b->n_tokens, r->cont[k][j + 1], dest);
            b->n_tokens++;
        }
    }
    b->item_off[b->n_items] = b->n_tokens;
}

typedef struct {
    int64_t footprint, index;
} mc_order;

static int mc_order_cmp(const void *a, const void *b)
{
    const mc_order *x = a, *y = b;
    if (x->footprint != y->footprint) return x->footprint > y->footprint ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

static int mc_run_batch(sp_engine *e, const sp_mask *removed, mc_pack_buf *b, sp_mc_pack pack,
                        double *lls, sp_error *err)
{
    sp_batch batch = {b->n_tokens, b->tokens, b->n_items, b->item_off, b->prefix_len,
                      pack == SP_MC_PACK_SHARED ? b->branch : NULL};
    sp_head_request req = {b->n_rows, b->rows, b->targets, b->logprob, NULL};
    if (sp_engine_forward(e, &batch, removed, &req, err)) return -1;
    for (int64_t r = 0; r < b->n_rows; r++) lls[b->dest[r]] += (double)b->logprob[r];
    return 0;
}

int sp_mc_score(struct sp_engine *e, const sp_mask *removed, const sp_mc_requests *rq,
                const sp_mc_options *opt, sp_mc_result *res, sp_error *err)
{
    SP_ASSERT(opt->token_budget > 0);
    double t0 = sp_now();
    memset(res, 0, sizeof *res);
    int64_t n = rq->n;
    res->n = n;
    res->lls = sp_xcalloc((size_t)(n ? n : 1) * SP_MC_MAX_ENDINGS, sizeof(double));
    res->pred = sp_xcalloc((size_t)(n ? n : 1), sizeof(int));
    res->pred_norm = sp_xcalloc((size_t)(n ? n : 1), sizeof(int));
    mc_order *ord = sp_xmalloc((size_t)(n ? n : 1) * sizeof(mc_order));
    for (int64_t i = 0; i < n; i++) {
        const sp_mc_request *r = &rq->req[i];
        ord[i].footprint = mc_footprint(r, opt->pack);
        ord[i].index = i;
        for (int k = 0; k < r->n_endings; k++) {
            res->tokens_scored += r->n_cont[k];
            res->tokens_naive += r->n_ctx + r->n_cont[k] - 1;
        }
    }
    qsort(ord, (size_t)n, sizeof(mc_order), mc_order_cmp);
    mc_pack_buf b = {0};
    int rc = 0;
    for (int64_t i = 0; i < n && rc == 0;) {
        int64_t j = i, tokens = 0;
        while (j < n && (j == i || tokens + ord[j].footprint <= opt->token_budget))
            tokens += ord[j++].footprint;
        int64_t items = (j - i) * (opt->pack == SP_MC_PACK_PLAIN ? SP_MC_MAX_ENDINGS : 1);
        /* rows <= tokens + one extra per ending (the row at the last context token). */
        mc_buf_reserve(&b, tokens + 1 + (j - i) * SP_MC_MAX_ENDINGS, items);
        b.n_tokens = b.n_rows = 0;
        b.n_items = 0;
        for (int64_t k = i; k < j; k++)
            mc_pack_item(&b, &rq->req[ord[k].index], ord[k].index, opt->pack);
        SP_ASSERT(b.n_tokens == tokens);
        rc = mc_run_batch(e, removed, &b, opt->pack, res->lls, err);
        res->tokens_forward += tokens;
        res->forward_calls++;
        i = j;
    }
    mc_buf_free(&b);
    free(ord);
    if (rc) {
        sp_mc_result_free(res);
        return -1;
    }
    sp_mc_metrics(rq, res);
    res->wall_s = sp_now() - t0;
    return 0;
}

void sp_mc_result_free(sp_mc_result *r)
{
    if (!r) return;
    free(r->lls);
    free(r->pred);
    free(r->pred_norm);
    memset(r, 0, sizeof *r);
}

static double mc_stderr(double mean, int64_t n)
{
    /* lm-eval mean_stderr: sample std (ddof 1) / sqrt(n) of 0/1 values; 0 for n < 2. */
    if (n < 2) return 0.0;
    double var = mean * (1.0 - mean) * (double)n / (double)(n - 1);
    return sqrt(var / (double)n);
}

void sp_mc_metrics(const sp_mc_requests *rq, sp_mc_result *res)
{
    int64_t hit = 0, hit_norm = 0;
    for (int64_t i = 0; i < rq->n; i++) {
        const sp_mc_request *r = &rq->req[i];
        const double *ll = res->lls + i * SP_MC_MAX_ENDINGS;
        int best = 0, best_norm = 0;
        for (int k = 1; k < r->n_endings; k++) {
            if (ll[k] > ll[best]) best = k;
            if (ll[k] / r->norm_len[k] > ll[best_norm] / r->norm_len[best_norm]) best_norm = k;
        }
        res->pred[i] = best;
        res->pred_norm[i] = best_norm;
        hit += best == r->label;
        hit_norm += best_norm == r->label;
    }
    double n = rq->n > 0 ? (double)rq->n : 1.0;
    res->acc = (double)hit / n;
    res->acc_norm = (double)hit_norm / n;
    res->acc_stderr = mc_stderr(res->acc, rq->n);
    res->acc_norm_stderr = mc_stderr(res->acc_norm, rq->n);
}
