"""Reference draws from numpy's Generator for test_pcg64.

argv[1] is a ';'-separated list of operations; one output line per operation:
  seed S            default_rng(S)                       -> "seed S"
  f32 D0xD1x...     rng.random(shape, dtype=float32)     -> uint32 bit patterns
  f64 N             rng.random(N)                        -> uint64 bit patterns
  int LO HI N       rng.integers(LO, HI, size=N)         -> values
  raw N             rng.bit_generator.random_raw(N)      -> values
  perm N            rng.permutation(N)                   -> values
  ss N E0,E1,...    SeedSequence([E...]).generate_state(N) -> values
"""
import sys

import numpy as np

rng = None
for op in sys.argv[1].split(";"):
    w = op.split()
    if not w:
        continue
    if w[0] == "seed":
        rng = np.random.default_rng(int(w[1]))
        out = [int(w[1])]
    elif w[0] == "f32":
        shape = tuple(int(d) for d in w[1].split("x"))
        out = rng.random(shape, dtype=np.float32).reshape(-1).view(np.uint32).tolist()
    elif w[0] == "f64":
        out = rng.random(int(w[1])).view(np.uint64).tolist()
    elif w[0] == "int":
        out = rng.integers(int(w[1]), int(w[2]), size=int(w[3])).tolist()
    elif w[0] == "raw":
        out = rng.bit_generator.random_raw(int(w[1])).tolist()
    elif w[0] == "perm":
        out = rng.permutation(int(w[1])).tolist()
    elif w[0] == "ss":
        ent = [int(e) for e in w[2].split(",")]
        out = np.random.SeedSequence(ent).generate_state(int(w[1])).tolist()
    else:
        sys.exit("unknown op " + op)
    print(" ".join([w[0]] + [str(v) for v in out]))
