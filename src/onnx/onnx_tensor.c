/* TensorProto -> dense IR tensor: raw_data, the typed repeated fields and
 * external data, all checked against numel * elemsize. Also the reader for
 * standalone TensorProto files (ONNX conformance test data). */
#define _POSIX_C_SOURCE 200809L
#include "onnx/onnx_tensor.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx_proto.h"
#include "util/error.h"
#include "util/fileio.h"

/* ONNX stores raw_data and external data little-endian; we copy it as is. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tinyq's ONNX loader assumes a little-endian host"
#endif

/* Strict decimal for external_data offset/length: digits only, no overflow. */
static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int decode_external(const Onnx__TensorProto *tp, const char *where, const char *what,
                           const char *name, tq_external_ctx *ext, uint64_t need, void **data,
                           tq_error *err)
{
    const char *location = NULL;
    uint64_t offset = 0, length = 0;
    int has_length = 0;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *kv = tp->external_data[i];
        const char *key = kv->key ? kv->key : "";
        const char *val = kv->value ? kv->value : "";
        if (strcmp(key, "location") == 0) {
            location = val;
        } else if (strcmp(key, "offset") == 0) {
            if (parse_u64(val, &offset))
                return tq_fail(err, TQ_EFORMAT, "%s: %s '%s': external data offset '%s' is "
                               "not a non-negative integer", where, what, name, val);
        } else if (strcmp(key, "length") == 0) {
            if (parse_u64(val, &length))
                return tq_fail(err, TQ_EFORMAT, "%s: %s '%s': external data length '%s' is "
                               "not a non-negative integer", where, what, name, val);
            has_length = 1;
        }
    }
    if (!location)
        return tq_fail(err, TQ_EFORMAT, "%s: %s '%s': external data has no location", where,
                       what, name);
    if (!ext)
        return tq_fail(err, TQ_EFORMAT, "%s: %s '%s': external data '%s' is not allowed here",
                       where, what, name, location);
    return tq_external_read(ext, what, name, location, offset, has_length, length, need, data,
                            err);
}

/* The typed repeated field ONNX uses for each data type, and its length. */
static size_t typed_count(const Onnx__TensorProto *tp, tq_dtype dt, const char **field)
{
    switch (dt) {
    case TQ_FLOAT: *field = "float_data"; return tp->n_float_data;
    case TQ_INT8: case TQ_UINT8: case TQ_INT16: case TQ_UINT16: case TQ_INT32:
    case TQ_BOOL: case TQ_FLOAT16:
        *field = "int32_data"; return tp->n_int32_data;
    case TQ_INT64: *field = "int64_data"; return tp->n_int64_data;
    case TQ_DOUBLE: *field = "double_data"; return tp->n_double_data;
    case TQ_UINT32: case TQ_UINT64: *field = "uint64_data"; return tp->n_uint64_data;
    default: *field = "?"; return 0;
    }
}

/* Narrow the typed field into the dense element type (little-endian host). */
static void convert_typed(const Onnx__TensorProto *tp, tq_dtype dt, size_t n, void *dst)
{
    for (size_t i = 0; i < n; i++) {
        switch (dt) {
        case TQ_FLOAT: ((float *)dst)[i] = tp->float_data[i]; break;
        case TQ_INT8: ((int8_t *)dst)[i] = (int8_t)tp->int32_data[i]; break;
        case TQ_UINT8: ((uint8_t *)dst)[i] = (uint8_t)tp->int32_data[i]; break;
        case TQ_BOOL: ((uint8_t *)dst)[i] = tp->int32_data[i] != 0; break;
        case TQ_INT16: ((int16_t *)dst)[i] = (int16_t)tp->int32_data[i]; break;
        case TQ_UINT16: case TQ_FLOAT16: /* float16 travels as its bit pattern */
            ((uint16_t *)dst)[i] = (uint16_t)tp->int32_data[i]; break;
        case TQ_INT32: ((int32_t *)dst)[i] = tp->int32_data[i]; break;
        case TQ_INT64: ((int64_t *)dst)[i] = tp->int64_data[i]; break;
        case TQ_DOUBLE: ((double *)dst)[i] = tp->double_data[i]; break;
        case TQ_UINT32: ((uint32_t *)dst)[i] = (uint32_t)tp->uint64_data[i]; break;
        case TQ_UINT64: ((uint64_t *)dst)[i] = tp->uint64_data[i]; break;
        default: break;
        }
    }
}

int tq_onnx_decode_tensor(const Onnx__TensorProto *tp, const char *where, const char *what,
                          tq_external_ctx *ext, tq_tensor *out, int *from_external,
                          tq_error *err)
{
    memset(out, 0, sizeof *out);
    if (from_external)
        *from_external = 0;
    const char *name = tp->name ? tp->name : "";
    int dt_raw = tp->has_data_type ? tp->data_type : 0;
    tq_dtype dt = (tq_dtype)dt_raw;
    if (dt == TQ_STRING)
        return tq_fail(err, TQ_EUNSUPPORTED, "%s: %s '%s': string tensors are not supported",
                       where, what, name);
    size_t esz = tq_dtype_size(dt);
    if (esz == 0)
        return tq_fail(err, TQ_EUNSUPPORTED, "%s: %s '%s': data type %d is not supported "
                       "(tinyq handles float, float16, double, int8..int64, uint8..uint64, bool)",
                       where, what, name, dt_raw);
    if (tp->n_dims > TQ_MAX_RANK)
        return tq_fail(err, TQ_EUNSUPPORTED, "%s: %s '%s' has rank %zu; tinyq supports at "
                       "most rank %d", where, what, name, tp->n_dims, TQ_MAX_RANK);
    for (size_t i = 0; i < tp->n_dims; i++)
        if (tp->dims[i] < 0)
            return tq_fail(err, TQ_EFORMAT, "%s: %s '%s': dimension %zu is negative (%lld)",
                           where, what, name, i, (long long)tp->dims[i]);
    int64_t numel = tq_shape_numel(tp->dims, (int)tp->n_dims);
    if (numel < 0 || (uint64_t)numel > SIZE_MAX / esz)
        return tq_fail(err, TQ_EFORMAT, "%s: %s '%s': element count overflows", where, what,
                       name);
    size_t need = (size_t)numel * esz;
    if (tp->segment)
        return tq_fail(err, TQ_EUNSUPPORTED, "%s: %s '%s': segmented tensors are not supported",
                       where, what, name);

    void *data = NULL;
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        int rc = decode_external(tp, where, what, name, ext, need, &data, err);
        if (rc)
            return rc;
        if (from_external)
            *from_external = 1;
    } else if (tp->has_raw_data) {
        if (tp->raw_data.len != need)
            return tq_fail(err, TQ_EFORMAT, "%s: %s '%s': raw_data has %zu bytes, the shape "
                           "needs %zu (%lld x %s)", where, what, name, tp->raw_data.len, need,
                           (long long)numel, tq_dtype_name(dt));
        if (need) {
            data = malloc(need);
            if (!data)
                return tq_fail(err, TQ_ENOMEM, "%s: %s '%s': out of memory", where, what, name);
            memcpy(data, tp->raw_data.data, need);
        }
    } else {
        const char *field;
        size_t count = typed_count(tp, dt, &field);
        if (count != (size_t)numel)
            return tq_fail(err, TQ_EFORMAT, "%s: %s '%s': %s has %zu values, the shape needs "
                           "%lld", where, what, name, field, count, (long long)numel);
        if (need) {
            data = malloc(need);
            if (!data)
                return tq_fail(err, TQ_ENOMEM, "%s: %s '%s': out of memory", where, what, name);
            convert_typed(tp, dt, count, data);
        }
    }
    out->name = strdup(name);
    if (!out->name) {
        free(data);
        return tq_fail(err, TQ_ENOMEM, "%s: %s '%s': out of memory", where, what, name);
    }
    out->dtype = dt;
    out->rank = (int)tp->n_dims;
    for (size_t i = 0; i < tp->n_dims; i++)
        out->dims[i] = tp->dims[i];
    out->data = data;
    out->nbytes = need;
    return TQ_OK;
}

int tq_onnx_read_tensor_pb(const char *path, tq_tensor *out, tq_error *err)
{
    memset(out, 0, sizeof *out);
    uint8_t *buf;
    size_t len;
    int rc = tq_read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    free(buf);
    if (!tp)
        return tq_fail(err, TQ_EFORMAT, "%s: not a valid ONNX TensorProto (protobuf parse "
                       "failed)", path);
    rc = tq_onnx_decode_tensor(tp, path, "tensor", NULL, out, NULL, err);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return rc;
}
