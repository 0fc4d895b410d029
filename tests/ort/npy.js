// npy.js — read and write numpy .npy (format v1, reads v1-v3) and .npz archives, so the
// ONNX Runtime reference scripts exchange tensors with numpy and tinyq.  The zip layer is
// fflate; only the small .npy header is handled here.
'use strict';

const fs = require('fs');
const path = require('path');
const fflate = require('fflate');

// numpy descr (little-endian or byte-order-free) <-> typed array and ORT tensor type.
const DTYPES = {
  '<f4': { ort: 'float32', Array: Float32Array },
  '<f2': { ort: 'float16', Array: Uint16Array }, // raw IEEE half bits, as ORT-node takes them
  '<f8': { ort: 'float64', Array: Float64Array },
  '<i8': { ort: 'int64', Array: BigInt64Array },
  '<i4': { ort: 'int32', Array: Int32Array },
  '<u8': { ort: 'uint64', Array: BigUint64Array },
  '<u4': { ort: 'uint32', Array: Uint32Array },
  '<i2': { ort: 'int16', Array: Int16Array },
  '<u2': { ort: 'uint16', Array: Uint16Array },
  '|u1': { ort: 'uint8', Array: Uint8Array },
  '|i1': { ort: 'int8', Array: Int8Array },
  '|b1': { ort: 'bool', Array: Uint8Array },
};
const DESCR_BY_ORT = Object.fromEntries(Object.entries(DTYPES).map(([d, t]) => [t.ort, d]));
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

class NpyError extends Error {}

// Byte order: one-byte types ignore it ('|', '<', '=' all seen); wider ones must be
// little-endian ('<', or '=' native, which is little-endian on every host we support).
function lookupDescr(descr) {
  const order = descr[0];
  const kindSize = descr.slice(1);
  if (kindSize.endsWith('1')) return DTYPES['|' + kindSize];
  return order === '<' || order === '=' ? DTYPES['<' + kindSize] : undefined;
}

function elementCount(shape) {
  return shape.reduce((n, d) => n * d, 1);
}

// Parse one .npy file held in `bytes` (Uint8Array).  `where` names it in errors.
// Returns { descr, ortType, shape, data } with `data` a typed array that owns its memory.
function parseNpy(bytes, where) {
  if (bytes.length < 10 || !MAGIC.every((b, i) => bytes[i] === b)) {
    throw new NpyError(`${where}: not a .npy file (bad magic)`);
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen, headerStart;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyError(`${where}: truncated .npy header`);
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new NpyError(`${where}: unsupported .npy format version ${major}`);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) throw new NpyError(`${where}: truncated .npy header`);
  const header = Buffer.from(bytes.subarray(headerStart, dataStart)).toString('latin1');

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeMatch = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeMatch) throw new NpyError(`${where}: malformed .npy header: ${header.trim()}`);
  if (fortran[1] === 'True') throw new NpyError(`${where}: Fortran-ordered arrays are not supported`);
  const dtype = lookupDescr(descr[1]);
  if (!dtype) throw new NpyError(`${where}: unsupported dtype '${descr[1]}' (big-endian or not a numeric type)`);
  const shape = shapeMatch[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
    const n = Number(s.replace(/L$/, ''));
    if (!Number.isSafeInteger(n) || n < 0) throw new NpyError(`${where}: bad dimension '${s}' in shape`);
    return n;
  });

  const count = elementCount(shape);
  const byteLen = count * dtype.Array.BYTES_PER_ELEMENT;
  if (!Number.isSafeInteger(byteLen) || dataStart + byteLen > bytes.length) {
    throw new NpyError(`${where}: shape (${shape}) needs ${byteLen} data bytes, file has ${bytes.length - dataStart}`);
  }
  // slice() copies into a fresh, aligned ArrayBuffer (typed arrays need aligned offsets).
  const data = new dtype.Array(bytes.slice(dataStart, dataStart + byteLen).buffer);
  return { descr: DESCR_BY_ORT[dtype.ort], ortType: dtype.ort, shape, data };
}

// Serialise { ortType, shape, data } as .npy v1 (header padded to 64 bytes, as numpy does).
function formatNpy(arr) {
  const descr = DESCR_BY_ORT[arr.ortType];
  if (!descr) throw new NpyError(`cannot write tensor type '${arr.ortType}' to .npy`);
  const shapeStr = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const prefix = new Uint8Array(10);
  prefix.set(MAGIC, 0);
  prefix[6] = 1;
  prefix[7] = 0;
  new DataView(prefix.buffer).setUint16(8, header.length, true);
  const body = new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
  const out = new Uint8Array(10 + header.length + body.length);
  out.set(prefix, 0);
  out.set(Buffer.from(header, 'latin1'), 10);
  out.set(body, 10 + header.length);
  return out;
}

// Read an .npz into a Map name -> array (insertion order = archive order).
function readNpz(file) {
  let raw;
  try {
    raw = fs.readFileSync(file);
  } catch (e) {
    throw new NpyError(`${file}: cannot read: ${e.message}`);
  }
  let entries;
  try {
    entries = fflate.unzipSync(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
  } catch (e) {
    throw new NpyError(`${file}: not a readable .npz (zip) archive: ${e.message}`);
  }
  const out = new Map();
  for (const [name, bytes] of Object.entries(entries)) {
    if (!name.endsWith('.npy')) continue; // numpy only stores .npy members
    const key = name.slice(0, -4);
    out.set(key, parseNpy(bytes, `${file}:${name}`));
  }
  return out;
}

// Write a Map/object name -> array as an .npz (stored, uncompressed), atomically.
function writeNpz(file, arrays) {
  const members = {};
  for (const [name, arr] of arrays instanceof Map ? arrays : Object.entries(arrays)) {
    members[`${name}.npy`] = [formatNpy(arr), { level: 0 }];
  }
  const zipped = fflate.zipSync(members);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, zipped);
    fs.renameSync(tmp, file);
  } catch (e) {
    try { fs.unlinkSync(tmp); } catch (_) { /* nothing to clean */ }
    throw new NpyError(`${file}: cannot write: ${e.message}`);
  }
}

module.exports = { NpyError, DTYPES, elementCount, parseNpy, formatNpy, readNpz, writeNpz };
