/* numpy .npy / .npz files <-> tq_tensor: the on-disk tensor format of tinyq
 * (inputs, outputs, calibration and evaluation sets).
 *
 * Supported element types (little-endian, C order only): float32 '<f4',
 * float16 '<f2', float64 '<f8', int64 '<i8', int32 '<i4', int16 '<i2',
 * uint64 '<u8', uint32 '<u4', uint16 '<u2', uint8 '|u1', int8 '|i1',
 * bool '|b1'. Headers of npy format versions 1.0, 2.0 and 3.0 are read;
 * version 1.0 is written, byte-identical to numpy's own np.save.
 *
 * Every malformed input fails with TQ_EFORMAT and a message of the form
 * "<file>: entry '<key>': <problem>" (npz) or "<file>: <problem>" (npy). */
#ifndef TQ_IO_NPZ_H
#define TQ_IO_NPZ_H

#include <stddef.h>
#include <stdint.h>

#include "graph/ir.h"

/* The tensors of one .npz file, in archive order. name = key without ".npy";
 * the set owns every name and data buffer. */
typedef struct tq_tensor_set {
    tq_tensor *t;
    int n;
} tq_tensor_set;

/* Parse one .npy image. name_for_errors prefixes every message (a file name,
 * or "file: entry 'key'"). On success *out owns a copy of the data and its
 * name is NULL (the caller names it). */
int tq_npy_parse(const uint8_t *buf, size_t len, const char *name_for_errors,
                 tq_tensor *out, tq_error *err);

/* Serialise a tensor as an .npy (v1.0) image into a malloc'ed buffer. */
int tq_npy_encode(const tq_tensor *t, uint8_t **buf, size_t *len, tq_error *err);

/* Read/write a single .npy file; out->name is set to the file's base name
 * without ".npy". Writing is atomic. */
int tq_npy_read(const char *path, tq_tensor *out, tq_error *err);
int tq_npy_write(const char *path, const tq_tensor *t, tq_error *err);

/* Parse an .npz image held in memory (name_for_errors = file name). */
int tq_npz_parse(const void *buf, size_t len, const char *name_for_errors,
                 tq_tensor_set *out, tq_error *err);
int tq_npz_read(const char *path, tq_tensor_set *out, tq_error *err);

/* Write every tensor as "<name>.npy"; compress=1 deflates (np.savez_compressed),
 * 0 stores (np.savez). Atomic: the file appears complete or not at all. */
int tq_npz_write(const char *path, const tq_tensor_set *set, int compress, tq_error *err);

/* Append a deep copy of t to the set (name must be non-empty and new). */
int tq_tensor_set_add(tq_tensor_set *set, const tq_tensor *t, tq_error *err);
void tq_tensor_set_free(tq_tensor_set *set);
const tq_tensor *tq_tensor_set_find(const tq_tensor_set *set, const char *name);

#endif
