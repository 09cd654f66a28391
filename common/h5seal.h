/* h5seal.h — HDF5 files built in memory and sealed with a whole-file checksum kept in their user
 * block, so that a damaged file is refused before libhdf5 parses a byte of it (HDF5 1.10 can
 * crash on crafted or corrupted metadata).
 *
 * Layout: bytes [0, 512) are the HDF5 user block (H5Pset_userblock: h5dump, h5py and every HDF5
 * reader skip it), holding the text "swarmprune-h5-seal 1\nsize <file bytes>\nfnv1a64 <16 hex>\n"
 * padded with NUL bytes; the checksum is FNV-1a 64 of bytes [512, size) — every HDF5 byte: the
 * superblock, the object headers, all attributes (the root ones included) and the raw data.
 * FNV-1a changes on any single-byte change. The seal is checked by rebuilding the 512-byte block
 * from the file's size and body and comparing all 512 bytes, so a flipped byte in the block
 * itself is caught too. The file is written with plain write(2) calls from the finished image:
 * a full disk is an ordinary write error, with no HDF5 file left half-closed. */
#ifndef SP_H5SEAL_H
#define SP_H5SEAL_H

#include <hdf5.h>
#include <stddef.h>

#include "error.h"

#define SP_H5SEAL_BLOCK 512

/* A new, empty in-memory HDF5 file with a 512-byte user block (`name` is for messages only;
 * nothing touches the disk). `size_hint`, the caller's estimate of the finished file's bytes,
 * sets the step the image grows by (sp_h5seal_increment): small files do not pay for zeroing
 * a large first block, and large ones grow in a few steps. */
hid_t sp_h5seal_create(const char *name, size_t size_hint, sp_error *err);

/* The growth step for an image of about `size_hint` bytes: the hint plus 1/8 for HDF5's own
 * metadata, rounded up to 64 KiB, between 64 KiB and 64 MiB. */
size_t sp_h5seal_increment(size_t size_hint);

/* Takes the image of `file`, closes `file` (always, even on failure), seals the image and writes
 * it to `path` (created or truncated, mode 0644; not fsynced). On failure `path` may hold a
 * partial file: the caller removes it. */
int sp_h5seal_save(hid_t file, const char *path, sp_error *err);

/* Reads `path` (a regular file), verifies the seal, and opens the verified bytes read-only in
 * memory (later changes to the file on disk cannot reach HDF5). Close with H5Fclose. Errors:
 * "not a swarmprune HDF5 file (no seal in the user block)", "whole-file checksum mismatch ...". */
hid_t sp_h5seal_open(const char *path, sp_error *err);

/* Recomputes the seal of an existing file in place: for tests that damage a file on purpose
 * and then need the checks behind the seal to see it (never used on user data). */
int sp_h5seal_reseal(const char *path, sp_error *err);

/* Verifies the seal of an image in memory (0 = valid). */
int sp_h5seal_verify(const unsigned char *buf, size_t len, sp_error *err);

#endif
