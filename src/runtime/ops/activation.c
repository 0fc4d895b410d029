/* Op family 'activation' (placeholder: implemented in its own change). */
#include "runtime/op.h"

const tq_op_def *const tq_ops_activation[] = { NULL };
