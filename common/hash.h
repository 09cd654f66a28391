/* hash.h — FNV-1a 64-bit, the one non-cryptographic hash used for job hashes, model fingerprints
 * and checkpoint checksums (detects accidental corruption, not tampering). */
#ifndef SP_HASH_H
#define SP_HASH_H

#include <stddef.h>
#include <stdint.h>

#define SP_FNV_OFFSET 0xcbf29ce484222325ull

/* Continues a running hash h (start with SP_FNV_OFFSET) over len bytes. */
static inline uint64_t sp_fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

#endif
