/* surrogate.c — additive + near-pairwise ridge regression over layer masks (see surrogate.h). */
#include "surrogate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

static int pair_offset(int P, int j) /* first pair feature at distance j (1-based) */
{
    int off = 1 + P;
    for (int i = 1; i < j; i++) off += P - i > 0 ? P - i : 0;
    return off;
}

void sp_surrogate_init(sp_surrogate *s, int P, int k)
{
    memset(s, 0, sizeof *s);
    s->P = P;
    s->k = k;
    s->nf = pair_offset(P, SP_SURROGATE_WINDOW + 1) + (k - 1);
    s->w = sp_xcalloc((size_t)s->nf, sizeof(double));
}

void sp_surrogate_free(sp_surrogate *s)
{
    free(s->w);
    memset(s, 0, sizeof *s);
}

/* Active feature indices of removed slots x[P] into idx (returns the count). */
static int active_features(int P, int k, const uint8_t *x, int *idx)
{
    int n = 0, count = 0;
    idx[n++] = 0;
    for (int d = 0; d < P; d++)
        if (x[d]) {
            idx[n++] = 1 + d;
            count++;
        }
    if (count >= 1 && count < k) idx[n++] = pair_offset(P, SP_SURROGATE_WINDOW + 1) + count - 1;
    for (int j = 1; j <= SP_SURROGATE_WINDOW; j++) {
        int off = pair_offset(P, j);
        for (int d = 0; d + j < P; d++)
            if (x[d] && x[d + j]) idx[n++] = off + d;
    }
    return n;
}

double sp_surrogate_predict(const sp_surrogate *s, const uint8_t *x)
{
    if (!s->fitted) return 0.0;
    int idx[2 + SP_MAX_LAYERS * (SP_SURROGATE_WINDOW + 1)];
    int n = active_features(s->P, s->k, x, idx);
    double f = 0.0;
    for (int i = 0; i < n; i++) f += s->w[idx[i]];
    return f;
}

/* Solves A w = b in place for symmetric positive definite A[n x n] (Cholesky); 0 on success. */
static int cholesky_solve(double *A, double *b, int n)
{
    for (int j = 0; j < n; j++) {
        double d = A[(size_t)j * n + j];
        for (int k = 0; k < j; k++) d -= A[(size_t)j * n + k] * A[(size_t)j * n + k];
        if (!(d > 0.0)) return -1;
        d = sqrt(d);
        A[(size_t)j * n + j] = d;
        for (int i = j + 1; i < n; i++) {
            double v = A[(size_t)i * n + j];
            for (int k = 0; k < j; k++) v -= A[(size_t)i * n + k] * A[(size_t)j * n + k];
            A[(size_t)i * n + j] = v / d;
        }
    }
    for (int i = 0; i < n; i++) { /* L y = b */
        double v = b[i];
        for (int k = 0; k < i; k++) v -= A[(size_t)i * n + k] * b[k];
        b[i] = v / A[(size_t)i * n + i];
    }
    for (int i = n - 1; i >= 0; i--) { /* L^T w = y */
        double v = b[i];
        for (int k = i + 1; k < n; k++) v -= A[(size_t)k * n + i] * b[k];
        b[i] = v / A[(size_t)i * n + i];
    }
    return 0;
}

void sp_surrogate_fit(sp_surrogate *s, const sp_search_problem *p, const sp_fitness_cache *data,
                      int fidelity)
{
    int P = s->P, nf = s->nf;
    double ybar = 0.0;
    size_t n_obs = 0;
    for (size_t i = 0; i < data->n; i++)
        if (data->entries[i].fidelity == fidelity && isfinite(data->entries[i].fitness)) {
            ybar += data->entries[i].fitness;
            n_obs++;
        }
    s->fitted = 0;
    if (n_obs < 2) return;
    ybar /= (double)n_obs;
    double *A = sp_xcalloc((size_t)nf * (size_t)nf, sizeof(double));
    double *b = sp_xcalloc((size_t)nf, sizeof(double));
    int idx[2 + SP_MAX_LAYERS * (SP_SURROGATE_WINDOW + 1)];
    for (size_t i = 0; i < data->n; i++) {
        const sp_cache_entry *e = &data->entries[i];
        if (e->fidelity != fidelity || !isfinite(e->fitness)) continue;
        uint8_t x[SP_MAX_LAYERS];
        for (int d = 0; d < P; d++) x[d] = (uint8_t)sp_mask_test(&e->mask, p->prunable[d]);
        int n = active_features(P, s->k, x, idx);
        for (int a = 0; a < n; a++) {
            b[idx[a]] += e->fitness - ybar;
            for (int c = 0; c < n; c++) A[(size_t)idx[a] * nf + idx[c]] += 1.0;
        }
    }
    A[0] += 1e-9;
    int counts = pair_offset(P, SP_SURROGATE_WINDOW + 1); /* first count intercept */
    for (int f = 1; f < nf; f++)
        A[(size_t)f * nf + f] += f < 1 + P       ? SP_SURROGATE_RIDGE_ADD
                                 : f < counts    ? SP_SURROGATE_RIDGE_PAIR
                                                 : 1e-9; /* unseen counts stay 0 */
    if (cholesky_solve(A, b, nf) == 0) {
        memcpy(s->w, b, (size_t)nf * sizeof(double));
        s->w[0] += ybar;
        s->fitted = 1;
    }
    free(A);
    free(b);
}
