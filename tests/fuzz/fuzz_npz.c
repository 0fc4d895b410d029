/* libFuzzer target for the .npz and .npy parsers: any input must either parse
 * or fail with TQ_EFORMAT/TQ_ENOMEM and a message, never crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "io/npz.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tq_error err = {0};
    tq_tensor_set set;
    int rc = tq_npz_parse(data, size, "fuzz.npz", &set, &err);
    if (rc == TQ_OK)
        tq_tensor_set_free(&set);
    else if (rc != TQ_EFORMAT && rc != TQ_ENOMEM)
        abort();
    if (rc != TQ_OK && err.msg[0] == '\0')
        abort();

    /* Entries inside a zip need valid CRCs, which random mutation rarely
     * keeps; feed the same bytes to the .npy parser directly too. */
    tq_error_clear(&err);
    tq_tensor t;
    rc = tq_npy_parse(data, size, "fuzz.npy", &t, &err);
    if (rc == TQ_OK)
        tq_tensor_clear(&t);
    else if (rc != TQ_EFORMAT && rc != TQ_ENOMEM)
        abort();
    return 0;
}
