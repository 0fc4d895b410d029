/* A random 3x3 depthwise geometry for the row-kernel tests (include after
 * qrand.h): stride 1 or 2, pads 0..2 on each side, rows narrower and wider
 * than the 8-vector blocks (every 4th call 100-230 wide). */
#ifndef TQ_TESTS_INT8_DW_GEOM_H
#define TQ_TESTS_INT8_DW_GEOM_H

#include "kernels/conv.h"

static tq_conv2d_geom rnd_dw_geom(int iter)
{
    tq_conv2d_geom g = { .c = 1, .kh = 3, .kw = 3, .dh = 1, .dw = 1 };
    g.sh = g.sw = rnd_in(1, 2);
    g.pt = rnd_in(0, 2);
    g.pl = rnd_in(0, 2);
    int pb = rnd_in(0, 2), pr = rnd_in(0, 2);
    g.ih = rnd_in(3, 30);
    g.iw = iter % 4 == 0 ? rnd_in(100, 230) : rnd_in(3, 80);
    g.oh = (g.ih + g.pt + pb - 3) / g.sh + 1;
    g.ow = (g.iw + g.pl + pr - 3) / g.sw + 1;
    return g;
}

#endif
