/* oneshot.c — score-based one-shot selections (see oneshot.h). */
#include "oneshot.h"

#include <math.h>

int sp_oneshot_lowest_scores(const sp_search_problem *p, const double *scores, sp_mask *out,
                             sp_error *err)
{
    for (int d = 0; d < p->n_prunable; d++)
        if (isnan(scores[p->prunable[d]]))
            return sp_error_set(err, "block influence: score of layer %d is NaN", p->prunable[d]);
    sp_mask_clear(out);
    for (int j = 0; j < p->k; j++) {
        int best = -1;
        for (int d = 0; d < p->n_prunable; d++) {
            int l = p->prunable[d];
            if (!sp_mask_test(out, l) && (best < 0 || scores[l] < scores[best])) best = l;
        }
        sp_mask_set(out, best);
    }
    return 0;
}

int sp_oneshot_best_window(const sp_search_problem *p, const double *dist, sp_mask *out,
                           sp_error *err)
{
    int best = -1;
    for (int s = 0; s + p->k <= p->n_layers; s++) {
        int ok = 1;
        for (int l = s; l < s + p->k && ok; l++) ok = p->slot_of[l] >= 0;
        if (!ok) continue;
        if (isnan(dist[s]))
            return sp_error_set(err, "angular distance: window starting at layer %d is NaN", s);
        if (best < 0 || dist[s] < dist[best]) best = s;
    }
    if (best < 0)
        return sp_error_set(err, "angular distance: no window of %d consecutive prunable layers",
                            p->k);
    sp_mask_clear(out);
    for (int l = best; l < best + p->k; l++) sp_mask_set(out, l);
    return 0;
}

int sp_oneshot_last_k(const sp_search_problem *p, sp_mask *out, sp_error *err)
{
    sp_mask_clear(out);
    int n = 0;
    for (int l = p->n_layers - 2; l >= 0 && n < p->k; l--)
        if (p->slot_of[l] >= 0) {
            sp_mask_set(out, l);
            n++;
        }
    if (n < p->k)
        return sp_error_set(err, "last-k: only %d prunable layers below the final one, need %d", n,
                            p->k);
    return 0;
}
