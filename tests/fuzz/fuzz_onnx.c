/* libFuzzer target for the ONNX loader: any bytes must load or fail cleanly
 * (no crash, no leak); loaded models must also serialize. External data is
 * refused (no base folder), so the fuzzer never touches the file system. */
#include <stdint.h>
#include <stdlib.h>

#include "graph/ir.h"
#include "onnx/onnx_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tq_model *m = NULL;
    tq_error err = {0};
    if (tq_model_load_buffer(&m, data, size, "fuzz.onnx", NULL, &err) == TQ_OK) {
        tq_model_sanitize(m);
        uint8_t *buf = NULL;
        size_t len = 0;
        tq_error err2 = {0};
        if (tq_onnx_serialize(m, &buf, &len, &err2) == TQ_OK)
            free(buf);
        tq_model_free(&m);
    }
    return 0;
}
