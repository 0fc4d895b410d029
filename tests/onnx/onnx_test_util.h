/* Helpers shared by the ONNX layer tests: the reference text dump (same
 * format as onnx_reference.py), a field-by-field IR comparison, running the
 * Python reference, and scratch folders. */
#ifndef TQ_TESTS_ONNX_TEST_UTIL_H
#define TQ_TESTS_ONNX_TEST_UTIL_H

#include <stddef.h>

#include "graph/ir.h"

/* Text dump of a loaded model in onnx_reference.py's "model" format. */
char *tqt_dump_model(const tq_model *m);
/* One "tensor ..." line for t (sha256 of its dense bytes), malloc'ed. */
char *tqt_tensor_line(const tq_tensor *t);
/* Hex sha256 of a buffer into out[65]. */
void tqt_sha256_hex(const void *data, size_t len, char out[65]);

/* Compare two IRs field by field. Returns 0 when identical; otherwise fills
 * why with the first difference. Provenance fields (path, sizes) are ignored. */
int tqt_compare_models(const tq_model *a, const tq_model *b, char *why, size_t why_len);

/* Run a shell command, return its stdout (malloc'ed) and exit status. */
char *tqt_run(const char *cmd, int *status);

/* Run onnx_reference.py with the given arguments; NULL when python fails. */
char *tqt_reference(const char *mode, const char *args);

/* First differing line of two texts, or NULL when equal (malloc'ed). */
char *tqt_first_diff(const char *a, const char *b);

/* Fresh scratch folder under $TMPDIR (malloc'ed path); rm -rf'd by tqt_rmdir. */
char *tqt_mkdtemp(void);
void tqt_rmdir(char *dir);

/* Seed-models folder or NULL (with a printed skip reason) when absent. */
const char *tqt_seed_models(void);

#endif
