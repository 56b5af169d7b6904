// Encoding speed of the reference tokenizers on one text, one thread (node is single-threaded):
// median of R runs after one warm-up run, the same protocol as `volt tokenizer bench`.
// Usage: node bench_references.mjs NODE_MODULES_DIR DATA_DIR FILE [REPEATS]
import fs from 'fs';
import path from 'path';
import { pathToFileURL } from 'url';
import { createRequire } from 'module';

const [nm, dataDir, file, repeatsArg] = process.argv.slice(2);
const repeats = Number(repeatsArg || 5);
const text = fs.readFileSync(file, 'utf8');
const mb = Buffer.byteLength(text, 'utf8') / 1e6;
const load = (p) => import(pathToFileURL(path.join(nm, p)).href);

function bench(name, encode) {
  let n = encode(text).length;  // warm-up
  const times = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    n = encode(text).length;
    times.push((performance.now() - t0) / 1e3);
  }
  times.sort((a, b) => a - b);
  const med = times[Math.floor(times.length / 2)];
  console.log(`${name.padEnd(40)} ${(mb / med).toFixed(1).padStart(6)} MB/s ${(n / med / 1e6).toFixed(2).padStart(6)} M tokens/s  (${n} tokens)`);
}

const gptTok = await load('gpt-tokenizer/esm/encoding/r50k_base.js').catch(() => load('gpt-tokenizer/dist/encoding/r50k_base.js'));
bench('gpt-tokenizer (gpt2)', (t) => gptTok.encode(t, { disallowedSpecial: new Set() }));

const jsTik = await load('js-tiktoken/dist/index.js');
const r50k = jsTik.getEncoding('r50k_base');
bench('js-tiktoken (r50k_base)', (t) => r50k.encode(t, [], []));

// The WASM build loads through its CommonJS entry (node cannot import .wasm as ESM).
const wasm = createRequire(import.meta.url)(path.resolve(nm, 'tiktoken/tiktoken.cjs'));
{
  const enc = wasm.get_encoding('r50k_base');
  bench('tiktoken WASM (r50k_base)', (t) => enc.encode_ordinary(t));
}

const hf = await load('@huggingface/tokenizers/dist/tokenizers.mjs');
for (const name of ['gpt2', 'llama3']) {
  const json = JSON.parse(fs.readFileSync(path.join(dataDir, 'tokenizers', name, 'tokenizer.json'), 'utf8'));
  const cfgPath = path.join(dataDir, 'tokenizers', name, 'tokenizer_config.json');
  const cfg = fs.existsSync(cfgPath) ? JSON.parse(fs.readFileSync(cfgPath, 'utf8')) : {};
  const tok = new hf.Tokenizer(json, cfg);
  bench(`@huggingface/tokenizers (${name})`, (t) => tok.encode(t, { add_special_tokens: false }).ids);
}
