/* test_heal_checkpoint.c — heal's HDF5 checkpoint: a write / read round trip is bit-exact (fp32
 * values through f64 datasets), a flipped byte in any array is refused by its checksum, a wrong
 * size is refused, and the write leaves no temporary file. */
#include <dirent.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/h5io.h"
#include "test_util.h"
#include "common/h5seal.h"
#include "worker/heal_checkpoint.h"

static char g_dir[] = "/tmp/test_heal_ckpt.XXXXXX";

static void flip_byte(const char *path, const char *dataset)
{
    uint64_t off = 0;
    sp_error err = {{0}};
    SP_ASSERT(sp_h5_data_offset(path, dataset, &off, &err) == 0);
    FILE *f = fopen(path, "r+b");
    SP_ASSERT(f && fseek(f, (long)off + 3, SEEK_SET) == 0);
    int c = fgetc(f);
    fseek(f, (long)off + 3, SEEK_SET);
    fputc(c ^ 0x10, f);
    fclose(f);
}

int main(void)
{
    SP_ASSERT(mkdtemp(g_dir) != NULL);
    enum { N = 1000 };
    float p[N], m[N], v[N], p2[N], m2[N], v2[N];
    for (int i = 0; i < N; i++) {
        p[i] = (float)i * 1.1e-3f - 0.5f;
        m[i] = 1e-7f / (float)(i + 1);
        v[i] = (float)i * (float)i * 3e-12f;
    }
    sp_heal_ckpt c = {12, 40, 96, 0xfedcba9876543210ull, 0x1234, 0x5678, "abcdef0123456789",
                      N, p, m, v, 4.5};
    char path[256];
    snprintf(path, sizeof path, "%s/x.heal.h5", g_dir);
    sp_error err = {{0}};
    CHECK(sp_heal_ckpt_write(path, &c, &err) == 0, "%s", err.msg);
    CHECK(sp_heal_ckpt_write(path, &c, &err) == 0, "rewrite: %s", err.msg);
    int n_files = 0;
    DIR *d = opendir(g_dir);
    for (struct dirent *e; (e = readdir(d));) n_files += e->d_name[0] != '.';
    closedir(d);
    CHECK(n_files == 1, "%d files in the directory (a temporary left behind?)", n_files);
    sp_heal_ckpt r = {0};
    r.n_params = N, r.params = p2, r.m = m2, r.v = v2;
    CHECK(sp_heal_ckpt_read(path, &r, &err) == 0, "%s", err.msg);
    CHECK(r.step == 12 && r.total_steps == 40 && r.data_pos == 96 && r.seed == c.seed &&
          r.options_hash == 0x1234 && r.data_hash == 0x5678 && r.last_eval_nll == 4.5 &&
          !strcmp(r.model_fingerprint, "abcdef0123456789"), "scalars after a round trip");
    CHECK(!memcmp(p, p2, sizeof p) && !memcmp(m, m2, sizeof m) && !memcmp(v, v2, sizeof v),
          "arrays differ after a round trip");
    r.n_params = N + 1;
    CHECK(sp_heal_ckpt_read(path, &r, &err) != 0 && strstr(err.msg, "holds 1000 values"),
          "size mismatch: %s", err.msg);
    const char *sets[] = {"adapter/params", "adam/m", "adam/v"};
    for (int k = 0; k < 3; k++) {
        SP_ASSERT(sp_heal_ckpt_write(path, &c, &err) == 0);
        flip_byte(path, sets[k]);
        r.n_params = N;
        /* The whole-file seal refuses the damaged file before HDF5 reads it ... */
        CHECK(sp_heal_ckpt_read(path, &r, &err) != 0 && strstr(err.msg, "checksum"),
              "flipped byte in %s, sealed: %s", sets[k], err.msg);
        /* ... and behind a recomputed seal the dataset's own checksum still names it. */
        SP_ASSERT(sp_h5seal_reseal(path, &err) == 0);
        CHECK(sp_heal_ckpt_read(path, &r, &err) != 0 && strstr(err.msg, "checksum") &&
              strstr(err.msg, sets[k]), "flipped byte in %s: %s", sets[k], err.msg);
    }
    sp_remove_tree(g_dir);
    return sp_test_finish("test_heal_checkpoint");
}
