// The reference for `volt data prepare` on the Python standard library: nanoGPT's prepare.py
// recipe (tokenize every document with GPT-2's BPE, append <|endoftext|>, write the ids as one
// uint16 array) in node with gpt-tokenizer, the fastest GPT-2 BPE we can run here (no PyPI, so
// no tiktoken for Python). Single-threaded, as node is.
// Usage: node prepare_reference.mjs NODE_MODULES ROOT_DIR OUT_FILE REPEATS
import fs from 'fs';
import path from 'path';
import { pathToFileURL } from 'url';

const [nm, root, out, repeatsArg] = process.argv.slice(2);
const repeats = Number(repeatsArg || 5);
const load = (p) => import(pathToFileURL(path.join(nm, p)).href);
const gpt = await load('gpt-tokenizer/esm/encoding/r50k_base.js').catch(() => load('gpt-tokenizer/dist/encoding/r50k_base.js'));

function pyFiles(dir) {
  return fs.readdirSync(dir, { recursive: true })
    .filter((f) => f.endsWith('.py'))
    .map((f) => path.join(dir, f))
    .filter((f) => fs.statSync(f).isFile())
    .sort();
}

function prepare() {
  const t0 = process.hrtime.bigint();
  const ids = [];
  let bytes = 0;
  for (const f of pyFiles(root)) {
    const text = fs.readFileSync(f, 'utf8');
    bytes += Buffer.byteLength(text);
    if (text.trim() === '') continue;
    for (const id of gpt.encode(text, { disallowedSpecial: new Set() })) ids.push(id);
    ids.push(50256);
  }
  fs.writeFileSync(out, Buffer.from(Uint16Array.from(ids).buffer));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return { s, bytes, tokens: ids.length };
}

const runs = [];
for (let i = 0; i < repeats; ++i) runs.push(prepare());
const times = runs.map((r) => r.s).sort((a, b) => a - b);
const m = times[Math.floor(times.length / 2)];
const { bytes, tokens } = runs[0];
console.log(`gpt-tokenizer prepare: ${(bytes / 1e6 / m).toFixed(1)} MB/s, ${tokens} tokens, median ${m.toFixed(2)} s of ${repeats}`);
