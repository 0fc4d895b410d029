/* Test helper for equalize_test.py: apply the --equalize rewrite alone (after
 * the quantiser's own pre-processing: sanitize, BatchNormalization folding)
 * and save the still-fp32 model, so the test can compare its function with
 * the original's and measure the channel ranges it produced.
 *
 *   equalize_dump MODEL.onnx CAL.npz OUT.onnx [ALPHA_INPUT ALPHA_LAYERS]
 *
 * Prints "inputs N centered N pairs N". Exit 0 ok, 2 error. */
#include <stdio.h>
#include <stdlib.h>

#include "graph/fold_bn.h"
#include "quant/equalize.h"
#include "tinyq/tinyq.h"

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 6) {
        fprintf(stderr, "usage: equalize_dump MODEL.onnx CAL.npz OUT.onnx [ALPHA_INPUT ALPHA_LAYERS]\n");
        return 2;
    }
    tq_quant_settings s;
    tq_quant_default_settings(&s);
    s.mode = TQ_QUANT_STATIC;
    s.per_channel = 1;
    s.equalize = 1;
    if (argc == 6) {
        s.equalize_alpha_input = strtof(argv[4], NULL);
        s.equalize_alpha_layers = strtof(argv[5], NULL);
    }
    tq_error err = {0};
    tq_model *m = NULL;
    tq_equalize_result res = {0};
    int rc = tq_model_load(&m, argv[1], &err);
    if (!rc && tq_model_sanitize(m) < 0)
        rc = TQ_EINTERNAL;
    if (!rc && tq_fold_batchnorm(m, &err) < 0)
        rc = TQ_EINTERNAL;
    if (!rc)
        rc = tq_equalize(m, &s, argv[2], &res, &err);
    if (!rc)
        rc = tq_model_save(m, argv[3], &err);
    if (rc)
        fprintf(stderr, "equalize_dump: %s\n", err.msg);
    else
        printf("inputs %d centered %d pairs %d\n", res.n_inputs, res.n_centered, res.n_pairs);
    tq_model_free(&m);
    return rc ? 2 : 0;
}
