/* Greedy arena planner (TFLite Micro style): every activation and every
 * node's scratch gets an offset; buffers whose lifetimes overlap never share
 * bytes. Lifetimes come from the topological order. */
#include <stdlib.h>

#include "runtime/session_internal.h"

#define ARENA_ALIGN 64

typedef struct buffer {
    size_t size;
    int first, last;
    size_t *offset; /* where to store the result */
} buffer;

static int by_size_desc(const void *a, const void *b)
{
    const buffer *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? 1 : -1;
    return x->first - y->first; /* deterministic order for equal sizes */
}

static size_t align_up(size_t n)
{
    return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

size_t tq_plan_arena(tq_session *s)
{
    int cap = s->n_values + s->n_nodes;
    buffer *bufs = calloc((size_t)cap > 0 ? (size_t)cap : 1, sizeof *bufs);
    buffer **placed = calloc((size_t)cap > 0 ? (size_t)cap : 1, sizeof *placed);
    if (!bufs || !placed) {
        free(bufs);
        free(placed);
        return (size_t)-1;
    }
    int n = 0;
    for (int i = 0; i < s->n_values; i++) {
        value_slot *vs = &s->values[i];
        if (vs->kind != VALUE_ACTIVATION || vs->producer < 0)
            continue;
        bufs[n++] = (buffer){align_up(vs->v.nbytes ? vs->v.nbytes : 1), vs->producer,
                             vs->last_use, &vs->offset};
    }
    for (int i = 0; i < s->n_nodes; i++) {
        exec_node *en = &s->nodes[i];
        if (en->folded || en->ctx.scratch_bytes == 0)
            continue;
        bufs[n++] = (buffer){align_up(en->ctx.scratch_bytes), i, i, &en->scratch_offset};
    }
    qsort(bufs, (size_t)n, sizeof *bufs, by_size_desc);

    size_t total = 0;
    int n_placed = 0;
    for (int i = 0; i < n; i++) {
        buffer *b = &bufs[i];
        size_t off = 0;
        /* Scan placed buffers that overlap in time, sorted by offset, for the
         * first gap big enough. n is small (tens to hundreds), so O(n^2) is fine. */
        for (;;) {
            size_t next = off;
            for (int j = 0; j < n_placed; j++) {
                buffer *p = placed[j];
                if (p->last < b->first || p->first > b->last)
                    continue;
                size_t po = *p->offset;
                if (po < off + b->size && off < po + p->size && po + p->size > next)
                    next = po + p->size;
            }
            if (next == off)
                break;
            off = next;
        }
        *b->offset = off;
        placed[n_placed++] = b;
        if (off + b->size > total)
            total = off + b->size;
    }
    free(bufs);
    free(placed);
    return total;
}
