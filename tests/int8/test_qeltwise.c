/* tinyq.QEltwise (runtime/ops/fused_qdq.c) against the unfused ONNX ops
 * written out here: DequantizeLinear ((q - zp) * scale), BatchNormalization
 * folded as norm.c does (s = gamma / sqrtf(var + eps), t = B - mean * s,
 * x * s + t), Add with numpy broadcasting, Relu / Clip, QuantizeLinear
 * (rint(v / scale) + zp, saturated). Same-shape inputs take the vectorised
 * path, broadcast ones the element-by-element path; one input takes the byte
 * table. Outputs are pre-filled with a sentinel by the harness. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../ops/op_harness.h"
#include "kernels/cpu.h"
#include "kernels/qgemm.h"

#define QRAND_SEED 0x1234567887654321ull
#include "qrand.h"

enum { C = 3, H = 4, W = 5, N = C * H * W };

typedef struct branch {
    tq_dtype t;
    float scale;
    int8_t zp;
    bool bn;
    float g[C], b[C], m[C], v[C];
} branch;

static float branch_value(const branch *br, const uint8_t *q, int64_t i, int ch)
{
    int qv = br->t == TQ_INT8 ? (int8_t)q[i] : q[i];
    int zp = br->t == TQ_INT8 ? br->zp : (uint8_t)br->zp;
    volatile float x = (float)(qv - zp) * br->scale;
    if (br->bn) {
        volatile float s = br->g[ch] / sqrtf(br->v[ch] + 1e-5f);
        volatile float t = br->b[ch] - br->m[ch] * s;
        x = x * s;
        x = x + t;
    }
    return x;
}

static void add_branch(op_run *r, const branch *br, const char *p, const uint8_t *q, int rank,
                       const int64_t *dims)
{
    char name[5][16];
    for (int k = 0; k < 5; k++)
        snprintf(name[k], sizeof name[k], "%s%d", p, k);
    int64_t cd[1] = { C };
    assert_int_equal(run_input(r, strdup(name[0]), br->t, rank, dims, q, false), TQ_OK);
    assert_int_equal(run_input(r, strdup(name[1]), TQ_FLOAT, 0, NULL, &br->scale, true), TQ_OK);
    assert_int_equal(run_input(r, strdup(name[2]), br->t, 0, NULL, &br->zp, true), TQ_OK);
    const float *bn[4] = { br->g, br->b, br->m, br->v };
    for (int k = 0; k < 4; k++)
        assert_int_equal(run_input(r, br->bn ? strdup(name[3]) : NULL, TQ_FLOAT, 1,
                                   br->bn ? cd : NULL, br->bn ? bn[k] : NULL, true),
                         TQ_OK);
}

static void random_branch(branch *br, tq_dtype t, bool bn)
{
    br->t = t;
    br->scale = 0.01f + (float)(rnd() % 100u) * 1e-3f;
    br->zp = (int8_t)(rnd() % 40u) - 20;
    br->bn = bn;
    for (int c = 0; c < C; c++) {
        br->g[c] = 0.5f + (float)(rnd() % 100u) / 100.0f;
        br->b[c] = (float)(rnd() % 100u) / 50.0f - 1.0f;
        br->m[c] = (float)(rnd() % 100u) / 100.0f - 0.5f;
        br->v[c] = 0.1f + (float)(rnd() % 100u) / 50.0f;
    }
}

/* mode 0: one input; 1: same shapes; 2: b is [1, C, 1, 1]; act 0/1/2 */
static void run_case(int mode, int act, bool quant_out)
{
    op_run r;
    assert_int_equal(run_init(&r, "QEltwise", 1, 1), TQ_OK);
    free(r.node->domain);
    r.node->domain = strdup("tinyq");
    branch ba, bb;
    random_branch(&ba, rnd() & 1 ? TQ_INT8 : TQ_UINT8, rnd() & 1);
    random_branch(&bb, rnd() & 1 ? TQ_INT8 : TQ_UINT8, rnd() & 1);
    uint8_t qa[N], qb[N];
    for (int i = 0; i < N; i++) {
        qa[i] = (uint8_t)rnd();
        qb[i] = (uint8_t)rnd();
    }
    int64_t da[4] = { 1, C, H, W }, db[4] = { 1, C, mode == 2 ? 1 : H, mode == 2 ? 1 : W };
    add_branch(&r, &ba, "a", qa, 4, da);
    if (mode > 0) {
        add_branch(&r, &bb, "b", qb, 4, db);
    } else {
        for (int k = 0; k < 7; k++)
            assert_int_equal(run_input(&r, NULL, TQ_FLOAT, 0, NULL, NULL, true), TQ_OK);
    }
    float ys = 0.05f;
    int8_t yz = 7;
    if (quant_out) {
        assert_int_equal(run_input(&r, strdup("ys"), TQ_FLOAT, 0, NULL, &ys, true), TQ_OK);
        assert_int_equal(run_input(&r, strdup("yz"), TQ_INT8, 0, NULL, &yz, true), TQ_OK);
    }
    float lo = -0.75f, hi = 2.5f;
    tq_attr *at = tq_node_add_attr(r.node, "act", TQ_ATTR_INT);
    assert_non_null(at);
    at->i = act;
    at = tq_node_add_attr(r.node, "act_min", TQ_ATTR_FLOAT);
    assert_non_null(at);
    at->f = lo;
    at = tq_node_add_attr(r.node, "act_max", TQ_ATTR_FLOAT);
    assert_non_null(at);
    at->f = hi;
    /* the harness looks ops up in the default domain: run prepare/eval here */
    const tq_op_def *def = tq_op_find("tinyq", "QEltwise");
    assert_non_null(def);
    assert_int_equal(tq_node_add_output(r.node, "out"), TQ_OK);
    tq_op_ctx *c = &r.ctx;
    c->node = r.node;
    c->opset = 1;
    c->n_in = r.n_in;
    c->n_out = 1;
    c->in = r.in;
    c->out = r.out;
    c->err = &r.err;
    int rc = def->prepare(c);
    if (rc)
        fail_msg("%s", r.err.msg);
    tq_value *y = r.out[0];
    assert_int_equal(tq_value_numel(y), N);
    y->nbytes = (size_t)N * tq_dtype_size(y->dtype);
    y->data = malloc(y->nbytes);
    assert_non_null(y->data);
    memset(y->data, 0xA5, y->nbytes);
    if (c->scratch_bytes)
        c->scratch = calloc(1, c->scratch_bytes);
    assert_int_equal(def->eval(c), TQ_OK);
    for (int i = 0; i < N; i++) {
        int ch = (i / (H * W)) % C;
        float v = branch_value(&ba, qa, i, ch);
        if (mode > 0) {
            volatile float w = branch_value(&bb, qb, mode == 2 ? ch : i, ch);
            v = v + w;
        }
        if (act == 1)
            v = v > 0.0f ? v : 0.0f;
        if (act == 2) {
            v = v < lo ? lo : v;
            v = v > hi ? hi : v;
        }
        if (!quant_out) {
            assert_memory_equal(&((const float *)y->data)[i], &v, sizeof v);
            continue;
        }
        float t = rintf(v / ys) + (float)yz;
        t = t < -128.0f ? -128.0f : (t > 127.0f ? 127.0f : t);
        assert_int_equal(((const int8_t *)y->data)[i], (int)t);
    }
    if (def->release)
        def->release(c->state);
    c->state = NULL;
    for (int i = 0; i < r.n_in; i++)
        if (r.in[i])
            free((char *)r.in_vals[i].name);
    run_free(&r);
}

static void test_qeltwise(void **st)
{
    (void)st;
    for (unsigned mask = 0; mask < 2; mask++) {
        tq_cpu_set_mask(mask ? ~0u : 0u);
        for (int trial = 0; trial < 6; trial++)
            for (int mode = 0; mode < 3; mode++)
                for (int act = 0; act < 3; act++) {
                    run_case(mode, act, true);
                    if (mode > 0)
                        run_case(mode, act, false);
                }
    }
    tq_cpu_set_mask(~0u);
}

/* The one-pass kernel (kernels/qgemm.h qelt2q) of every table against the
 * unfused formula written here, on lengths 1..40 (vector body, overlapped
 * tail, short inputs), in place too (y == a), with a's steps half of
 * y_scale so that many quotients are half-integers: exact ties (y_scale 1,
 * rint to even) or within rounding of one (random y_scale: where v * (1 /
 * y_scale) and v / y_scale can round differently). */
static void test_qelt2q_kernel(void **st)
{
    (void)st;
    for (unsigned mask = 0; mask < 2; mask++) {
        tq_cpu_set_mask(mask ? ~0u : 0u);
        const tq_qdsp *d = tq_qdsp_get();
        assert_non_null(d->qelt2q);
        for (int n = 1; n <= 40; n++)
            for (int trial = 0; trial < 6; trial++) {
                /* a's steps are half of y_scale: odd (q - zp) lands on a
                 * half-integer quotient, give or take the float rounding */
                float ys = trial % 3 ? (float)(rnd() % 100000u + 1u) * 1e-6f : 1.0f;
                tq_qbranch ba = { .zp = (int)(rnd() % 9u) - 4, .is_signed = (int)(rnd() & 1),
                                  .has_affine = trial % 2, .scale = ys * 0.5f,
                                  .mul = 0.75f, .add = (float)(rnd() % 5u) * 0.25f };
                tq_qbranch bb = { .zp = (int)(rnd() % 9u) - 4, .is_signed = (int)(rnd() & 1),
                                  .has_affine = 0, .scale = trial < 3 ? 0.5f : 0.013f };
                tq_qact act = { .kind = trial % 3, .lo = -3.5f, .hi = 20.5f };
                int yzp = (int)(rnd() % 11u) - 5, ysg = (int)(rnd() & 1);
                if (!ysg)
                    yzp += 5;
                bool two = trial != 5, in_place = trial == 4;
                uint8_t a[40], b[40], y[40], ref[40];
                for (int i = 0; i < n; i++) {
                    a[i] = (uint8_t)rnd();
                    b[i] = (uint8_t)rnd();
                }
                for (int i = 0; i < n; i++) {
                    int qa = ba.is_signed ? (int8_t)a[i] : a[i];
                    volatile float v = (float)(qa - ba.zp) * ba.scale;
                    if (ba.has_affine) {
                        v = v * ba.mul;
                        v = v + ba.add;
                    }
                    if (two) {
                        int qb = bb.is_signed ? (int8_t)b[i] : b[i];
                        volatile float w = (float)(qb - bb.zp) * bb.scale;
                        v = v + w;
                    }
                    if (act.kind == TQ_QACT_RELU)
                        v = v > 0.0f ? v : 0.0f;
                    if (act.kind == TQ_QACT_CLIP) {
                        v = v < act.lo ? act.lo : v;
                        v = v > act.hi ? act.hi : v;
                    }
                    float t = rintf(v / ys) + (float)yzp;
                    float lo = ysg ? -128.0f : 0.0f, hi = ysg ? 127.0f : 255.0f;
                    t = t < lo ? lo : (t > hi ? hi : t);
                    ref[i] = ysg ? (uint8_t)(int8_t)(int)t : (uint8_t)(int)t;
                }
                uint8_t *out = in_place ? a : y;
                if (!in_place)
                    memset(y, 0xA5, sizeof y);
                d->qelt2q(out, a, &ba, two ? b : NULL, two ? &bb : NULL, n, &act, ys, yzp, ysg);
                assert_memory_equal(out, ref, (size_t)n);
                if (!in_place)
                    for (int i = n; i < 40; i++)
                        assert_int_equal(y[i], 0xA5);
            }
    }
    tq_cpu_set_mask(~0u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qeltwise),
        cmocka_unit_test(test_qelt2q_kernel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
