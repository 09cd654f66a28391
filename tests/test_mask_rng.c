/* test_mask_rng.c — layer masks (parse/format/errors) and counter-based RNG properties. */
#include <stdint.h>

#include "common/mask.h"
#include "common/rng.h"
#include "test_util.h"

static void test_mask(void)
{
    sp_mask m;
    sp_error err = {{0}};
    CHECK(sp_mask_parse("3,7, 11", 24, "--remove", &m, &err) == 0, "%s", err.msg);
    CHECK(sp_mask_count(&m) == 3, "count");
    char buf[64];
    CHECK(strcmp(sp_mask_format(&m, buf, sizeof buf), "3,7,11") == 0, "format %s", buf);
    CHECK(sp_mask_parse("3,3", 24, "--remove", &m, &err) != 0 && strstr(err.msg, "twice"), "dup: %s",
          err.msg);
    CHECK(sp_mask_parse("24", 24, "--remove", &m, &err) != 0 && strstr(err.msg, "out of range"),
          "range: %s", err.msg);
    CHECK(sp_mask_parse("-1", 24, "--remove", &m, &err) != 0, "negative");
    CHECK(sp_mask_parse("1,x", 24, "--remove", &m, &err) != 0, "junk");
    CHECK(sp_mask_parse("0,1", 2, "--remove", &m, &err) != 0 && strstr(err.msg, "all"), "all: %s",
          err.msg);
    CHECK(sp_mask_parse("", 24, "--remove", &m, &err) == 0 && sp_mask_count(&m) == 0, "empty");
    sp_mask a, b;
    sp_mask_clear(&a);
    sp_mask_clear(&b);
    sp_mask_set(&a, 200);
    sp_mask_set(&b, 200);
    CHECK(sp_mask_equal(&a, &b) && sp_mask_hash(&a) == sp_mask_hash(&b), "equal/hash");
    sp_mask_set(&b, 1);
    CHECK(!sp_mask_equal(&a, &b) && sp_mask_hash(&a) != sp_mask_hash(&b), "differ");
}

static void test_rng(void)
{
    /* Pure function of its counters. */
    CHECK(sp_rng_hash(1, 2, 3, 4) == sp_rng_hash(1, 2, 3, 4), "pure");
    CHECK(sp_rng_hash(1, 2, 3, 4) != sp_rng_hash(1, 2, 4, 3), "order matters");
    /* Uniform moments over 200k draws: mean 0.5 +- 0.005, variance 1/12 +- 0.002. */
    sp_rng r = sp_rng_make(42, 7);
    double s = 0, s2 = 0;
    int n = 200000, buckets[10] = {0};
    for (int i = 0; i < n; i++) {
        double u = sp_rng_next_unit(&r);
        CHECK(u >= 0.0 && u < 1.0, "range %g", u);
        s += u;
        s2 += u * u;
        buckets[(int)(u * 10)]++;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    CHECK_NEAR(mean, 0.5, 0.005, "mean");
    CHECK_NEAR(var, 1.0 / 12, 0.002, "variance");
    for (int i = 0; i < 10; i++) CHECK(abs(buckets[i] - n / 10) < 1000, "bucket %d", i);
    /* Resuming a stream from its saved state continues the same sequence. */
    sp_rng a = sp_rng_make(9, 1);
    for (int i = 0; i < 5; i++) sp_rng_next(&a);
    sp_rng saved = a;
    uint64_t x = sp_rng_next(&a);
    CHECK(sp_rng_next(&saved) == x, "resume");
    for (int i = 0; i < 1000; i++) CHECK(sp_rng_next_below(&a, 7) < 7, "below");
}

int main(void)
{
    test_mask();
    test_rng();
    return sp_test_finish("test_mask_rng");
}
