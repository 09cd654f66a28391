/* rng.h — counter-based random numbers: every draw is a pure function of (seed, counters), so
 * results never depend on the number of ranks or on the order of draws, and a stream's state is
 * just (seed, stream, counter) — trivially checkpointed. */
#ifndef SP_RNG_H
#define SP_RNG_H

#include <stdint.h>

/* A strong 64-bit mix of four words (splitmix64-style finaliser applied round by round). */
uint64_t sp_rng_hash(uint64_t seed, uint64_t a, uint64_t b, uint64_t c);

/* Uniform double in [0, 1) from a hash (53 random bits). */
static inline double sp_rng_to_unit(uint64_t h) { return (double)(h >> 11) * 0x1.0p-53; }

static inline double sp_rng_uniform(uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    return sp_rng_to_unit(sp_rng_hash(seed, a, b, c));
}

/* A sequential stream for code that draws a variable number of values: state is serializable. */
typedef struct {
    uint64_t seed;
    uint64_t stream;
    uint64_t counter;
} sp_rng;

static inline sp_rng sp_rng_make(uint64_t seed, uint64_t stream)
{
    sp_rng r = {seed, stream, 0};
    return r;
}
uint64_t sp_rng_next(sp_rng *r);
double sp_rng_next_unit(sp_rng *r);
/* Uniform integer in [0, n) without modulo bias (n > 0). */
uint64_t sp_rng_next_below(sp_rng *r, uint64_t n);
/* Standard normal (Box-Muller, uses two draws). */
double sp_rng_next_normal(sp_rng *r);

#endif
