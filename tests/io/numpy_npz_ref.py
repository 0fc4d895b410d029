"""numpy side of test_npz: the reference .npy/.npz producer and consumer.

  make DIR   write arrays of every supported dtype with np.save / np.savez /
             np.savez_compressed / npy format 2.0 and 3.0, raw sidecars
             (arr.tobytes()), a manifest, and malformed files in DIR/bad/
  check DIR  load what tinyq wrote in DIR/ours/ with np.load and compare it
             exactly with the same arrays; tinyq's .npy must equal np.save's bytes
"""
import io
import os
import sys
import warnings
import zipfile

import numpy as np

DTYPES = ["<f4", "<f2", "<f8", "<i8", "<i4", "<i2", "|i1", "<u8", "<u4", "<u2", "|u1", "|b1"]
SHAPES = {"r0": (), "r1": (7,), "r4": (2, 3, 4, 5), "empty": (0, 3)}


def pattern(descr, shape):
    """Values both sides can compute exactly (test_npz.c fill_pattern)."""
    dt = np.dtype(descr)
    n = int(np.prod(shape, dtype=np.int64))
    base = (np.arange(n, dtype=np.int64) * 37) % 199 - 99
    if dt.kind == "f":
        a = (base / 8.0).astype(dt)
    elif dt.kind == "i":
        a = base.astype(dt)
    elif dt.kind == "u":
        a = (base + 99).astype(dt)
    else:
        a = base > 0
    return a.reshape(shape)


def arrays():
    for descr in DTYPES:
        for sname, shape in SHAPES.items():
            yield "%s_%s" % (np.dtype(descr).name, sname), descr, shape, pattern(descr, shape)


def npy_bytes(a, version=None):
    f = io.BytesIO()
    np.lib.format.write_array(f, a, version=version, allow_pickle=False)
    return f.getvalue()


def zip_entries(path, entries):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w") as z:
            for name, data in entries:
                z.writestr(name, data)


def make(d):
    for sub in ("npy", "v2", "v3", "raw", "bad"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    everything = {}
    with open(os.path.join(d, "manifest.txt"), "w") as man:
        for key, descr, shape, a in arrays():
            everything[key] = a
            np.save(os.path.join(d, "npy", key + ".npy"), a)
            for ver in ("v2", "v3"):
                with open(os.path.join(d, ver, key + ".npy"), "wb") as f:
                    f.write(npy_bytes(a, (int(ver[1]), 0)))
            a.tofile(os.path.join(d, "raw", key + ".raw"))
            for container in ("savez.npz", "savez_compressed.npz", "npy/%s.npy" % key,
                              "v2/%s.npy" % key, "v3/%s.npy" % key):
                man.write("%s %s %s %d %s\n" % (container, key, descr, len(shape),
                                                " ".join(str(s) for s in shape)))
    np.savez(os.path.join(d, "savez.npz"), **everything)
    np.savez_compressed(os.path.join(d, "savez_compressed.npz"), **everything)

    b = os.path.join(d, "bad")
    good = npy_bytes(np.arange(6, dtype=np.float32).reshape(2, 3))
    np.savez(os.path.join(b, "fortran.npz"), ok=np.zeros(2, np.float32),
             x=np.asfortranarray(np.ones((2, 3), np.float32)))
    np.save(os.path.join(b, "fortran.npy"), np.asfortranarray(np.ones((2, 3), np.float32)))
    zip_entries(os.path.join(b, "dup.npz"), [("a.npy", good), ("a.npy", good)])
    zip_entries(os.path.join(b, "notnpy.npz"), [("a.npy", good), ("readme.txt", b"hi")])
    np.savez(os.path.join(b, "complex.npz"), c=np.ones(3, np.complex64))
    np.savez(os.path.join(b, "bigendian.npz"), be=np.ones(3, ">f4"))
    np.savez(os.path.join(b, "object.npz"), o=np.array([1, "x"], dtype=object))
    np.savez(os.path.join(b, "structured.npz"), s=np.zeros(3, dtype=[("a", "<f4")]))
    zip_entries(os.path.join(b, "short.npz"), [("s.npy", good[:-4])])
    zip_entries(os.path.join(b, "long.npz"), [("l.npy", good + b"\0\0\0\0")])
    zip_entries(os.path.join(b, "badmagic.npz"), [("m.npy", b"\x93NUMPZ\x01\x00" + good[8:])])
    zip_entries(os.path.join(b, "garbage.npz"), [("g.npy", good[:10] + b"{'descr': <f4}" +
                                                  b" " * (len(good) - 24 - 24))])
    with open(os.path.join(b, "random.npz"), "wb") as f:
        f.write(np.random.default_rng(1).bytes(1000))
    with open(os.path.join(d, "savez.npz"), "rb") as f:
        whole = f.read()
    with open(os.path.join(b, "truncated.npz"), "wb") as f:
        f.write(whole[: len(whole) // 2])
    with open(os.path.join(b, "empty.npz"), "wb"):
        pass


def check(d):
    ours = os.path.join(d, "ours")
    n = 0
    for name, method in (("stored.npz", zipfile.ZIP_STORED), ("deflated.npz", zipfile.ZIP_DEFLATED)):
        path = os.path.join(ours, name)
        with zipfile.ZipFile(path) as z:
            assert z.testzip() is None, "%s: CRC error" % path
            for info in z.infolist():
                assert info.compress_type == method, "%s: %s has method %d" % (
                    path, info.filename, info.compress_type)
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
            for key, descr, shape, a in arrays():
                assert key in keys, "%s: missing %s" % (path, key)
                b = npz[key]
                assert b.dtype == a.dtype and b.shape == a.shape, "%s: %s is %s %s" % (
                    path, key, b.dtype, b.shape)
                assert np.array_equal(a, b), "%s: %s values differ" % (path, key)
                n += 1
            assert len(keys) == len(list(arrays())), "%s: extra keys %s" % (path, keys)
    for key, descr, shape, a in arrays():
        path = os.path.join(ours, "npy", key + ".npy")
        b = np.load(path, allow_pickle=False)
        assert b.dtype == a.dtype and b.shape == a.shape and np.array_equal(a, b), path
        with open(path, "rb") as f:
            mine = f.read()
        ref = io.BytesIO()
        np.save(ref, a)
        assert mine == ref.getvalue(), "%s: bytes differ from np.save:\n%r\n%r" % (
            path, mine[:128], ref.getvalue()[:128])
        n += 1
    print("numpy checked %d arrays" % n)


if __name__ == "__main__":
    {"make": make, "check": check}[sys.argv[1]](sys.argv[2])
