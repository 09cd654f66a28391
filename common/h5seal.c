/* h5seal.c — in-memory HDF5 images sealed with a whole-file checksum in the user block (see
 * h5seal.h). */
#include "h5seal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "h5io.h"
#include "hash.h"

#define SEAL_MAGIC "swarmprune-h5-seal 1\n"
#define SEAL_MAX_FILE ((size_t)1 << 32) /* 4 GiB: far above any checkpoint (read whole) */

/* The 512-byte block for an image of `len` bytes whose body is buf[512, len). */
static void seal_block(const unsigned char *buf, size_t len, unsigned char out[SP_H5SEAL_BLOCK])
{
    uint64_t h = sp_fnv1a(SP_FNV_OFFSET, buf + SP_H5SEAL_BLOCK, len - SP_H5SEAL_BLOCK);
    memset(out, 0, SP_H5SEAL_BLOCK);
    snprintf((char *)out, SP_H5SEAL_BLOCK, SEAL_MAGIC "size %zu\nfnv1a64 %016" PRIx64 "\n", len,
             h);
}

size_t sp_h5seal_increment(size_t size_hint)
{
    const size_t step = (size_t)64 << 10, most = (size_t)64 << 20;
    if (size_hint >= most) return most;
    size_t want = size_hint + size_hint / 8 + SP_H5SEAL_BLOCK;
    want = (want + step - 1) / step * step;
    return want > most ? most : want;
}

hid_t sp_h5seal_create(const char *name, size_t size_hint, sp_error *err)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), fcpl = H5Pcreate(H5P_FILE_CREATE);
    hid_t f = H5I_INVALID_HID;
    /* The core driver zeroes each step it allocates: a step near the file's size, not a
     * fixed 1 MiB (which made every small checkpoint fault in 256 fresh pages). */
    if (fapl < 0 || fcpl < 0 || H5Pset_fapl_core(fapl, sp_h5seal_increment(size_hint), 0) < 0 ||
        H5Pset_userblock(fcpl, SP_H5SEAL_BLOCK) < 0)
        sp_h5_fail(err, "%s: cannot set up an in-memory HDF5 file", name);
    else if ((f = H5Fcreate(name, H5F_ACC_TRUNC, fcpl, fapl)) < 0)
        sp_h5_fail(err, "%s: cannot create an in-memory HDF5 file", name);
    if (fapl >= 0) H5Pclose(fapl);
    if (fcpl >= 0) H5Pclose(fcpl);
    return f;
}

static int write_all(const char *path, const unsigned char *buf, size_t len, sp_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return sp_error_set(err, "%s: cannot create: %s", path, strerror(errno));
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, buf + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            close(fd);
            return sp_error_set(err, "%s: write failed after %zu of %zu bytes: %s", path, done,
                                len, strerror(e));
        }
        done += (size_t)w;
    }
    if (close(fd) < 0) return sp_error_set(err, "%s: close failed: %s", path, strerror(errno));
    return 0;
}

int sp_h5seal_save(hid_t file, const char *path, sp_error *err)
{
    ssize_t n = -1;
    if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0 || (n = H5Fget_file_image(file, NULL, 0)) < 0) {
        sp_h5_fail(err, "%s: cannot take the in-memory HDF5 image", path);
        H5Fclose(file);
        return -1;
    }
    /* The image starts at the superblock (its addresses are relative to it): the user block
     * goes in front, exactly where an on-disk file with a 512-byte user block has it. */
    size_t len = (size_t)n + SP_H5SEAL_BLOCK;
    unsigned char *buf = sp_xmalloc(len);
    if (H5Fget_file_image(file, buf + SP_H5SEAL_BLOCK, (size_t)n) != n) {
        sp_h5_fail(err, "%s: cannot copy the in-memory HDF5 image", path);
        H5Fclose(file);
        free(buf);
        return -1;
    }
    /* An in-memory file without a backing store: closing cannot hit the disk. */
    if (H5Fclose(file) < 0) {
        free(buf);
        return sp_h5_fail(err, "%s: closing the in-memory HDF5 file failed", path);
    }
    SP_ASSERT_MSG(n >= 8 && memcmp(buf + SP_H5SEAL_BLOCK, "\211HDF\r\n\032\n", 8) == 0,
                  "the HDF5 image does not start with the superblock");
    seal_block(buf, len, buf);
    int rc = write_all(path, buf, len, err);
    free(buf);
    return rc;
}

int sp_h5seal_verify(const unsigned char *buf, size_t len, sp_error *err)
{
    if (len < SP_H5SEAL_BLOCK + 8 || memcmp(buf, SEAL_MAGIC, strlen(SEAL_MAGIC)) != 0)
        return sp_error_set(err, "not a sealed swarmprune HDF5 file (no \"swarmprune-h5-seal\" "
                                 "block at byte 0: not written by swarmprune, written by a "
                                 "version before the seal, or damaged at its start)");
    unsigned char want[SP_H5SEAL_BLOCK];
    seal_block(buf, len, want);
    if (memcmp(want, buf, SP_H5SEAL_BLOCK) != 0) {
        char stored[80];
        const char *text = (const char *)buf + strlen(SEAL_MAGIC);
        size_t room = SP_H5SEAL_BLOCK - strlen(SEAL_MAGIC); /* the block may hold no NUL */
        const char *nul = memchr(text, '\0', room);
        size_t m = nul ? (size_t)(nul - text) : room;
        snprintf(stored, sizeof stored, "%.*s", (int)(m < 60 ? m : 60), text);
        for (char *p = stored; *p; p++)
            if (*p == '\n') *p = ' ';
        return sp_error_set(err, "whole-file checksum mismatch (file of %zu bytes, seal says "
                                 "\"%s\"): the file is damaged or truncated", len, stored);
    }
    return 0;
}

/* Reads a whole regular file (FIFOs, devices and directories are refused without blocking). */
static int read_regular(const char *path, unsigned char **out, size_t *len, sp_error *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return sp_error_set(err, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return sp_error_set(err, "not a regular file");
    }
    if ((size_t)sb.st_size > SEAL_MAX_FILE) {
        close(fd);
        return sp_error_set(err, "%lld bytes: too large for a checkpoint (limit %zu)",
                            (long long)sb.st_size, SEAL_MAX_FILE);
    }
    size_t n = (size_t)sb.st_size, got = 0;
    unsigned char *buf = sp_xmalloc(n ? n : 1);
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got != n) {
        free(buf);
        return sp_error_set(err, "read %zu of %zu bytes", got, n);
    }
    *out = buf;
    *len = n;
    return 0;
}

hid_t sp_h5seal_open(const char *path, sp_error *err)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    if (read_regular(path, &buf, &len, err) < 0) return H5I_INVALID_HID;
    if (sp_h5seal_verify(buf, len, err) < 0) {
        free(buf);
        return H5I_INVALID_HID;
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), f = H5I_INVALID_HID;
    if (fapl < 0 || H5Pset_fapl_core(fapl, sp_h5seal_increment(len), 0) < 0 ||
        H5Pset_file_image(fapl, buf, len) < 0)
        sp_h5_fail(err, "cannot set up reading the verified image");
    /* The core driver refuses an image under the name of an existing file: a name that
     * cannot exist on disk (nothing is read or written under it). */
    else if ((f = H5Fopen("/proc/swarmprune/sealed-image.h5", H5F_ACC_RDONLY, fapl)) < 0)
        sp_h5_fail(err, "cannot open as HDF5 (the seal is valid: written damaged?)");
    if (fapl >= 0) H5Pclose(fapl);
    free(buf);
    return f;
}

int sp_h5seal_reseal(const char *path, sp_error *err)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    if (read_regular(path, &buf, &len, err) < 0) return sp_error_wrap(err, "%s", path);
    if (len < SP_H5SEAL_BLOCK + 8) {
        free(buf);
        return sp_error_set(err, "%s: too short to hold a seal", path);
    }
    seal_block(buf, len, buf);
    int rc = write_all(path, buf, len, err);
    free(buf);
    return rc;
}
