/* Test harness for single ops: build a node and values, run prepare + eval
 * the way the executor does (scratch from prepare's size, outputs filled
 * with a sentinel first), and free everything. */
#ifndef TQ_TESTS_OP_HARNESS_H
#define TQ_TESTS_OP_HARNESS_H

#include "runtime/op.h"

#define H_MAX_IO 16

typedef struct op_run {
    tq_model *model; /* owns the node */
    tq_node *node;
    int64_t opset;
    int n_in, n_out;
    tq_value in_vals[H_MAX_IO], out_vals[H_MAX_IO];
    tq_value *in[H_MAX_IO], *out[H_MAX_IO];
    tq_error err;
    tq_op_ctx ctx;
} op_run;

/* Start a run of op_type; inputs are added with run_input (NULL data: omitted). */
int run_init(op_run *r, const char *op_type, int64_t opset, int n_out);
int run_input(op_run *r, const char *name, tq_dtype dt, int rank, const int64_t *dims,
              const void *data, bool is_const);
/* prepare + eval; returns the first failing code (message in r->err). */
int run_exec(op_run *r);
void run_free(op_run *r);

#endif
