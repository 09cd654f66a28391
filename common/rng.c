/* rng.c — counter-based random numbers. */
#include "rng.h"

#include <math.h>

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t sp_rng_hash(uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t h = mix64(seed + 0x9e3779b97f4a7c15ull);
    h = mix64(h ^ (a + 0x632be59bd9b4e019ull));
    h = mix64(h ^ (b + 0x85157af5ull * 0x100000001ull));
    h = mix64(h ^ (c + 0xd6e8feb86659fd93ull));
    return h;
}

uint64_t sp_rng_next(sp_rng *r)
{
    return sp_rng_hash(r->seed, r->stream, r->counter++, 0x5151u);
}

double sp_rng_next_unit(sp_rng *r) { return sp_rng_to_unit(sp_rng_next(r)); }

uint64_t sp_rng_next_below(sp_rng *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
        uint64_t v = sp_rng_next(r);
        if (v < limit) return v % n;
    }
}

double sp_rng_next_normal(sp_rng *r)
{
    double u1 = sp_rng_next_unit(r), u2 = sp_rng_next_unit(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
