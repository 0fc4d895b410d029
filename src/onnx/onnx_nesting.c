/* Nesting-depth guard run before protobuf-c unpacks a model: protobuf-c
 * recurses once per nested message with no limit, so a crafted file of graphs
 * inside attributes inside graphs could exhaust the stack. This walks only the
 * wire framing (tags and lengths), using protobuf-c's own descriptors to know
 * which fields are messages; decoding stays with protobuf-c. */
#include "onnx/onnx_proto.h"

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return -1;
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

int tq_onnx_check_nesting(const ProtobufCMessageDescriptor *desc, const uint8_t *buf,
                          size_t len, int max_depth)
{
    if (max_depth < 0)
        return -2;
    const uint8_t *p = buf, *end = buf + len;
    while (p < end) {
        uint64_t tag, v;
        if (read_varint(&p, end, &tag))
            return -1;
        switch (tag & 7) {
        case 0:
            if (read_varint(&p, end, &v))
                return -1;
            break;
        case 1:
            if (end - p < 8)
                return -1;
            p += 8;
            break;
        case 5:
            if (end - p < 4)
                return -1;
            p += 4;
            break;
        case 2: {
            if (read_varint(&p, end, &v) || v > (uint64_t)(end - p))
                return -1;
            const ProtobufCFieldDescriptor *f =
                tag >> 3 <= UINT32_MAX
                    ? protobuf_c_message_descriptor_get_field(desc, (unsigned)(tag >> 3))
                    : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                int rc = tq_onnx_check_nesting(f->descriptor, p, (size_t)v, max_depth - 1);
                if (rc)
                    return rc;
            }
            p += v;
            break;
        }
        default: /* groups (3/4) and invalid wire types: protobuf-c rejects them too */
            return -1;
        }
    }
    return 0;
}
