#!/usr/bin/env node
// ort_run.js — the ONNX Runtime reference: run MODEL on the tensors in IN.npz and write
// every output to OUT.npz (keys = output names), numpy-compatible.  Tests compare
// tinyq's results with these.
//
// usage: node tests/ort/ort_run.js MODEL IN.npz OUT.npz [--threads N] [--per-sample]
//   IN.npz keys are model input names; keys that are not inputs (labels, targets) are
//   ignored.  --per-sample runs each batch row alone (batch 1) and concatenates the
//   outputs along axis 0, the way the accuracy gate runs samples.
// Exit codes: 0 ok, 2 usage or input error, 1 ONNX Runtime failure.
//
// Exactness: on CPUs without VNNI, ONNX Runtime's uint8 x int8 integer kernels sum pairs
// into a saturating int16 and can be wrong (ORT-PARITY.md). When a probe shows that here
// and MODEL has int8 tensors, MODEL still runs (its first sample, to show ONNX Runtime
// takes the file), but the outputs written come from exact_int8.py's equivalent model
// (int8 -> uint8 + 128, same function), which ONNX Runtime computes exactly; a note on
// stderr says so. TQ_ORT_RAW=1 writes the original model's outputs whatever the CPU.
'use strict';

const childProcess = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const ort = require('onnxruntime-node');
const { NpyError, DTYPES, elementCount, readNpz, writeNpz } = require('./npy');

const USAGE = 'usage: node ort_run.js MODEL IN.npz OUT.npz [--threads N] [--per-sample]';

class UsageError extends Error {}

function parseArgs(argv) {
  const opts = { threads: 1, perSample: false, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--per-sample') opts.perSample = true;
    else if (a === '--threads') {
      opts.threads = Number(argv[++i]);
      if (!Number.isInteger(opts.threads) || opts.threads < 1) throw new UsageError('--threads needs a positive integer');
    } else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
    else opts.positional.push(a);
  }
  if (opts.positional.length !== 3) throw new UsageError(USAGE);
  return opts;
}

function sessionOptions(threads) {
  return { graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1,
           executionMode: 'sequential' };
}

function toTensor(arr) {
  return new ort.Tensor(arr.ortType, arr.data, arr.shape);
}

function fromTensor(t) {
  const dtype = Object.values(DTYPES).find((d) => d.ort === t.type);
  if (!dtype) throw new Error(`output type '${t.type}' cannot be written to .npy`);
  // Copy the bytes (not the values): ORT may reuse its buffer, and on runtimes with a
  // native Float16Array a value copy into Uint16Array would convert halves to integers.
  const d = t.data;
  const bytes = d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength);
  return { ortType: t.type, shape: t.dims.slice(), data: new dtype.Array(bytes) };
}

// Rows [row, row+1) of arr along axis 0, keeping the axis (shape [1, ...]).
function sliceRow(arr, row) {
  const rowLen = elementCount(arr.shape.slice(1));
  return { ortType: arr.ortType, shape: [1, ...arr.shape.slice(1)],
           data: arr.data.slice(row * rowLen, (row + 1) * rowLen) };
}

function concatAxis0(parts, name) {
  const tail = JSON.stringify(parts[0].shape.slice(1));
  let rows = 0;
  for (const p of parts) {
    if (p.shape.length === 0) throw new Error(`output '${name}' is a scalar: cannot concatenate per-sample results`);
    if (JSON.stringify(p.shape.slice(1)) !== tail) throw new Error(`output '${name}' changes shape between samples`);
    rows += p.shape[0];
  }
  const data = new parts[0].data.constructor(parts.reduce((n, p) => n + p.data.length, 0));
  let at = 0;
  for (const p of parts) { data.set(p.data, at); at += p.data.length; }
  return { ortType: parts[0].ortType, shape: [rows, ...parts[0].shape.slice(1)], data };
}

function pickInputs(session, arrays, inFile) {
  const feeds = {};
  for (const meta of session.inputMetadata) {
    const arr = arrays.get(meta.name);
    if (!arr) throw new NpyError(`${inFile}: no array for model input '${meta.name}' (has: ${[...arrays.keys()].join(', ') || 'nothing'})`);
    if (meta.isTensor && meta.type !== arr.ortType) {
      throw new NpyError(`${inFile}: input '${meta.name}' is ${arr.ortType}, the model wants ${meta.type}`);
    }
    feeds[meta.name] = arr;
  }
  return feeds;
}

async function runWhole(session, feeds) {
  const tensors = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, toTensor(v)]));
  const results = await session.run(tensors);
  return new Map(session.outputNames.map((n) => [n, fromTensor(results[n])]));
}

async function runPerSample(session, feeds, inFile) {
  const names = Object.keys(feeds);
  const batch = feeds[names[0]].shape[0];
  for (const n of names) {
    if (feeds[n].shape.length === 0) throw new NpyError(`${inFile}: input '${n}' is a scalar; --per-sample needs a batch axis`);
    if (feeds[n].shape[0] !== batch) throw new NpyError(`${inFile}: inputs disagree on batch size (${names[0]}: ${batch}, ${n}: ${feeds[n].shape[0]})`);
  }
  if (batch === 0) throw new NpyError(`${inFile}: batch size is 0`);
  const perOutput = new Map(session.outputNames.map((n) => [n, []]));
  for (let row = 0; row < batch; row++) {
    const one = Object.fromEntries(names.map((n) => [n, sliceRow(feeds[n], row)]));
    for (const [n, arr] of await runWhole(session, one)) perOutput.get(n).push(arr);
  }
  return new Map([...perOutput].map(([n, parts]) => [n, concatAxis0(parts, n)]));
}

async function openSession(modelPath, threads) {
  try {
    return await ort.InferenceSession.create(modelPath, sessionOptions(threads));
  } catch (e) {
    throw new NpyError(`${modelPath}: ONNX Runtime cannot load it: ${e.message}`);
  }
}

// True when this CPU's ONNX Runtime computes uint8 255 x int8 127, twice, as 64770.
async function u8s8Exact(probePath) {
  const s = await ort.InferenceSession.create(probePath, sessionOptions(1));
  const r = await s.run({ a: new ort.Tensor('uint8', Uint8Array.from([255, 255]), [1, 2]) });
  await s.release();
  return Number(r.y.data[0]) === 64770;
}

// The exact equivalent of modelPath to take the outputs from, or null for modelPath itself.
async function exactModel(modelPath, dir) {
  if (process.env.TQ_ORT_RAW === '1') return null;
  const py = childProcess.spawnSync('/usr/bin/python3',
    [path.join(__dirname, 'exact_int8.py'), modelPath, dir], { encoding: 'utf8' });
  if (py.status === 3) return null; // no int8 tensors
  if (py.status !== 0) throw new NpyError(`${modelPath}: exact_int8.py failed: ${py.stderr || py.error}`);
  if (await u8s8Exact(path.join(dir, 'probe.onnx'))) return null;
  console.error(`ort_run: this CPU's ONNX Runtime saturates uint8 x int8 sums (no VNNI); ` +
                `${path.basename(modelPath)}'s outputs come from its exact uint8 equivalent`);
  return path.join(dir, 'model.onnx');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const [modelPath, inFile, outFile] = opts.positional;
  const arrays = readNpz(inFile);
  const session = await openSession(modelPath, opts.threads);
  const feeds = pickInputs(session, arrays, inFile);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ort_run-'));
  try {
    const exact = await exactModel(modelPath, dir);
    let outputs;
    if (exact) {
      // the file as given must still run; its values are not the reference
      const one = Object.fromEntries(Object.entries(feeds).map(([k, v]) =>
        [k, v.shape.length && v.shape[0] > 1 && opts.perSample ? sliceRow(v, 0) : v]));
      await runWhole(session, one);
      const es = await openSession(exact, opts.threads);
      outputs = opts.perSample ? await runPerSample(es, feeds, inFile) : await runWhole(es, feeds);
      await es.release();
    } else {
      outputs = opts.perSample ? await runPerSample(session, feeds, inFile) : await runWhole(session, feeds);
    }
    writeNpz(outFile, outputs);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await session.release();
}

main().catch((e) => {
  console.error(`ort_run: ${e.message}`);
  process.exit(e instanceof UsageError || e instanceof NpyError ? 2 : 1);
});
