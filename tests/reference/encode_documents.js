// Encodes each line of a JSONL file ({"text": ...}) with gpt-3-encoder's reference Encoder.js
// and prints one JSON array of ids per line.
// usage: node encode_documents.js ENCODER_DIR DOCS.jsonl > IDS.jsonl
//
// The reference grows its output with Array.concat once per piece, which is quadratic in a
// document's length (a 100 KB nlp-corpus document takes seconds). So each document is encoded
// in chunks of about 4 KB, cut only before a space that follows a non-space character and
// precedes an ASCII letter. Such a position is always a piece boundary of the GPT-2 pattern (no
// piece ends in a space unless it is all whitespace, and `\s+(?!\S)` cannot reach past a
// non-space), and pieces are encoded independently, so the concatenated ids are exactly those
// of one call on the whole document.
'use strict';
const fs = require('fs');
const path = require('path');
const [encoderDir, docsFile] = process.argv.slice(2);
const { encode } = require(path.resolve(encoderDir, 'Encoder.js'));

const CHUNK = 4096;
function safeCut(text, from) {
  for (let i = from; i + 1 < text.length; i++) {
    if (text[i] === ' ' && /\S/.test(text[i - 1]) && /[A-Za-z]/.test(text[i + 1])) return i;
  }
  return text.length;
}
function encodeDocument(text) {
  let ids = [];
  let start = 0;
  while (start < text.length) {
    const end = text.length - start <= CHUNK ? text.length : safeCut(text, start + CHUNK);
    ids = ids.concat(encode(text.slice(start, end)));
    start = end;
  }
  return ids;
}

const lines = fs.readFileSync(docsFile, 'utf-8').split('\n').filter((l) => l.length > 0);
const out = [];
const started = process.hrtime.bigint();
let bytes = 0;
for (const line of lines) {
  const text = JSON.parse(line).text;
  bytes += Buffer.byteLength(text, 'utf-8');
  out.push(JSON.stringify(encodeDocument(text)));
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
process.stdout.write(out.join('\n') + '\n');
process.stderr.write(JSON.stringify({ documents: lines.length, bytes, seconds }) + '\n');
