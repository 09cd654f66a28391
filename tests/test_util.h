/* test_util.h — the small harness every test program uses.
 * A test's exit status is its verdict: 0 pass, 77 skipped (with a reason), anything else fail.
 * CHECK records a failure with file:line and a message and goes on; tests end with
 * `return sp_test_finish("name");`. Shared data is found through SWARMPRUNE_SHARED or
 * <source dir>/../shared; when absent, the test skips and says why. */
#ifndef SP_TEST_UTIL_H
#define SP_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int sp_test_failures = 0;
static int sp_test_checks = 0;

#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        sp_test_checks++;                                                                 \
        if (!(cond)) {                                                                    \
            sp_test_failures++;                                                           \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
        }                                                                                 \
    } while (0)

/* |a - b| <= tol, NaN never passes. The optional message (printf style) follows the values. */
#define CHECK_NEAR(a, b, tol, ...)                                                        \
    do {                                                                                  \
        double sp_a_ = (a), sp_b_ = (b);                                                  \
        sp_test_checks++;                                                                 \
        if (!(fabs(sp_a_ - sp_b_) <= (tol))) {                                            \
            sp_test_failures++;                                                           \
            fprintf(stderr, "FAIL %s:%d: %s = %.9g vs %s = %.9g (tol %g): ", __FILE__,    \
                    __LINE__, #a, sp_a_, #b, sp_b_, (double)(tol));                       \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
        }                                                                                 \
    } while (0)

static inline int sp_test_finish(const char *name)
{
    if (sp_test_failures) {
        printf("%s: FAILED (%d of %d checks)\n", name, sp_test_failures, sp_test_checks);
        return 1;
    }
    printf("%s: ok (%d checks)\n", name, sp_test_checks);
    return 0;
}

static inline int sp_test_skip(const char *name, const char *reason)
{
    printf("%s: SKIPPED: %s\n", name, reason);
    return 77;
}

/* Returns the shared directory (static buffer) or NULL when it cannot be found. */
static inline const char *sp_test_shared_dir(void)
{
    static char buf[4096];
    struct stat sb;
    const char *env = getenv("SWARMPRUNE_SHARED");
    if (env && env[0]) {
        snprintf(buf, sizeof buf, "%s", env);
        if (stat(buf, &sb) == 0 && S_ISDIR(sb.st_mode)) return buf;
        return NULL;
    }
#ifdef SP_SOURCE_DIR
    snprintf(buf, sizeof buf, "%s/../shared", SP_SOURCE_DIR);
    if (stat(buf, &sb) == 0 && S_ISDIR(sb.st_mode)) return buf;
#endif
    return NULL;
}

/* Joins the shared dir and a relative path into a static buffer (NULL when shared is absent). */
static inline const char *sp_test_shared_path(const char *rel)
{
    static char buf[8192];
    const char *dir = sp_test_shared_dir();
    if (!dir) return NULL;
    snprintf(buf, sizeof buf, "%s/%s", dir, rel);
    return buf;
}

#define SP_TEST_REQUIRE_SHARED(name)                                                       \
    do {                                                                                   \
        if (!sp_test_shared_dir())                                                         \
            return sp_test_skip(name, "../shared not found (set SWARMPRUNE_SHARED to the " \
                                      "shared data directory)");                           \
    } while (0)

#endif
