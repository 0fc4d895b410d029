#!/usr/bin/env node
// ort_bench.js — ONNX Runtime latency of one model, for side-by-side benchmark scripts
// (tinyq vs ONNX Runtime on the same models in one run; SPEC §7).  Prints one JSON line:
//   {"runtime":"onnxruntime-node","version":...,"model":...,"batch":N,"iters":K,
//    "threads":T,"min_us":...,"median_us":...}
//
// usage: node bench/ort_bench.js MODEL [--batch N] [--iters K] [--threads T] [--warmup W]
//                                      [--dim NAME=VALUE]...
// Inputs are random (seeded) tensors of the model's input types.  Dynamic dims: the
// first axis takes --batch; other dynamic axes take their --dim value (default 1).
'use strict';

const path = require('path');
// onnxruntime-node is installed once, under tests/ort (the reference harness).
const ortDir = path.join(__dirname, '..', 'tests', 'ort', 'node_modules');
const ort = require(require.resolve('onnxruntime-node', { paths: [ortDir] }));
const ortVersion = require(require.resolve('onnxruntime-node/package.json', { paths: [ortDir] })).version;

const USAGE = 'usage: node bench/ort_bench.js MODEL [--batch N] [--iters K] [--threads T] [--warmup W] [--dim NAME=VALUE]...';

function fail(msg) {
  console.error(`ort_bench: ${msg}`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { batch: 1, iters: 200, threads: 1, warmup: 10, dims: {}, model: null };
  const positiveInt = (flag, v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) fail(`${flag} needs a positive integer, got '${v}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--batch') opts.batch = positiveInt(a, argv[++i]);
    else if (a === '--iters') opts.iters = positiveInt(a, argv[++i]);
    else if (a === '--threads') opts.threads = positiveInt(a, argv[++i]);
    else if (a === '--warmup') opts.warmup = Number(argv[++i]);
    else if (a === '--dim') {
      const m = /^([^=]+)=(\d+)$/.exec(argv[++i] || '');
      if (!m) fail('--dim needs NAME=VALUE');
      opts.dims[m[1]] = positiveInt('--dim', m[2]);
    } else if (a === '-h' || a === '--help') { console.log(USAGE); process.exit(0); }
    else if (a.startsWith('--')) fail(`unknown option ${a}\n${USAGE}`);
    else if (opts.model === null) opts.model = a;
    else fail(USAGE);
  }
  if (opts.model === null) fail(USAGE);
  if (!Number.isInteger(opts.warmup) || opts.warmup < 0) fail('--warmup needs a non-negative integer');
  return opts;
}

// Small deterministic PRNG (mulberry32) so every run feeds the same inputs.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FILLERS = {
  float32: (n, r) => Float32Array.from({ length: n }, r),
  float64: (n, r) => Float64Array.from({ length: n }, r),
  // IEEE half bits 0x3800..0x3bff = values in [0.5, 1): exponent of 0.5, 10 random mantissa bits.
  float16: (n, r) => Uint16Array.from({ length: n }, () => 0x3800 | Math.floor(r() * 1024)),
  int64: (n, r) => BigInt64Array.from({ length: n }, () => BigInt(Math.floor(r() * 16))),
  int32: (n, r) => Int32Array.from({ length: n }, () => Math.floor(r() * 16)),
  uint8: (n, r) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256)),
  int8: (n, r) => Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128),
  bool: (n, r) => Uint8Array.from({ length: n }, () => (r() < 0.5 ? 1 : 0)),
};

function makeInputs(session, opts) {
  const r = rng(0x7417);
  const feeds = {};
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor) fail(`${opts.model}: input '${meta.name}' is not a tensor`);
    const fill = FILLERS[meta.type];
    if (!fill) fail(`${opts.model}: input '${meta.name}' has unsupported type ${meta.type}`);
    const shape = meta.shape.map((d, axis) => {
      if (typeof d === 'number' && d >= 0) return d;
      if (axis === 0) return opts.batch;
      return typeof d === 'string' && opts.dims[d] ? opts.dims[d] : 1;
    });
    feeds[meta.name] = new ort.Tensor(meta.type, fill(shape.reduce((a, b) => a * b, 1), r), shape);
  }
  return feeds;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  let session;
  try {
    session = await ort.InferenceSession.create(opts.model, {
      graphOptimizationLevel: 'all', intraOpNumThreads: opts.threads, interOpNumThreads: 1,
      executionMode: 'sequential',
    });
  } catch (e) {
    fail(`${opts.model}: ONNX Runtime cannot load it: ${e.message}`);
  }
  const feeds = makeInputs(session, opts);
  for (let i = 0; i < opts.warmup; i++) await session.run(feeds);
  const times = [];
  for (let i = 0; i < opts.iters; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  const median = times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
  const round = (v) => Math.round(v * 10) / 10;
  console.log(JSON.stringify({
    runtime: 'onnxruntime-node', version: ortVersion, model: opts.model, batch: opts.batch,
    iters: opts.iters, threads: opts.threads, min_us: round(times[0]), median_us: round(median),
  }));
  await session.release();
}

main().catch((e) => fail(e.message));
