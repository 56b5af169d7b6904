// Reference outputs for tests/tokenizers/bpe_trainer_test.cpp, from Hugging Face's own code:
//   - `tokenizers` (npm): the Rust crate's Node binding. Its Tokenizer.train(files) runs the
//     crate's BpeTrainer with its defaults (vocab_size 30000, min_frequency 0, no special tokens,
//     alphabet = the characters seen; the binding exposes no trainer options). Merges do not
//     depend on those differences (see the test's comment), so its merge list is the reference.
//   - `@huggingface/tokenizers` (npm): tokenizers.js, the pure-JS pipeline transformers.js uses.
// Both also load volt's trained tokenizer.json and encode with it.
//
// Setup (once):  npm install --prefix /tmp/hfref tokenizers@0.23.2 @huggingface/tokenizers@0.2.0
// Run:
//   volt tokenizer train --input $DATA/corpora/tinyshakespeare/input.txt --vocab-size 2000 \
//       --min-frequency 2 --special-tokens '<|endoftext|>' --out /tmp/volt-bpe2000.json
//   HFREF=/tmp/hfref node scripts/bpe_trainer_reference.mjs \
//       $DATA/corpora/tinyshakespeare/input.txt /tmp/volt-bpe2000.json
// The printed figures are pasted into the test.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [corpus, voltJson] = process.argv.slice(2);
if (!corpus || !voltJson) {
  console.error('usage: node bpe_trainer_reference.mjs CORPUS.txt VOLT_TOKENIZER.json');
  process.exit(2);
}
const require = createRequire(join(process.env.HFREF ?? '/tmp/hfref', 'package.json'));
const hf = require('tokenizers');
// require.resolve picks the package's CommonJS build: its exports arrive as `default`.
const jsModule = await import(pathToFileURL(require.resolve('@huggingface/tokenizers')).href);
const JsTokenizer = jsModule.Tokenizer ?? jsModule.default.Tokenizer;

const sha256 = (s) => createHash('sha256').update(s).digest('hex');
// The merge list as one string: "a b\n" per merge, in rank order (the test hashes the same way).
const mergeLines = (merges) =>
  merges.map((m) => (Array.isArray(m) ? m.join(' ') : m) + '\n').join('');

// Trains a byte-level BPE with the crate's default trainer and returns its tokenizer.json.
function hfTrain(file) {
  const tok = new hf.Tokenizer(hf.BPE.empty());
  tok.setPreTokenizer(hf.byteLevelPreTokenizer(false, true));
  tok.train([file]);
  const out = join(mkdtempSync(join(tmpdir(), 'bpe-ref-')), 'tokenizer.json');
  tok.save(out, false);
  return JSON.parse(readFileSync(out, 'utf8'));
}

// 1. The hand-checked corpus of the test (one word: the merges are derived there by hand).
const tiny = join(mkdtempSync(join(tmpdir(), 'bpe-ref-')), 'tiny.txt');
writeFileSync(tiny, 'aaabdaaabac');
console.log('tiny merges:', JSON.stringify(hfTrain(tiny).model.merges));

// 2. The full merge list on the corpus.
const ref = hfTrain(corpus);
const merges = ref.model.merges;
console.log('corpus merges:', merges.length, 'alphabet:', Object.keys(ref.model.vocab).length - merges.length);
console.log('merges sha256:', sha256(mergeLines(merges)));
console.log('first 50 merges:', JSON.stringify(merges.slice(0, 50)));
console.log('last 5 merges:', JSON.stringify(merges.slice(-5)));

// 3. volt's trained tokenizer.json in both Hugging Face implementations.
const voltText = readFileSync(voltJson, 'utf8');
const rustTok = hf.Tokenizer.fromString(voltText);
const jsTok = new JsTokenizer(JSON.parse(voltText), {});
const sample =
  "First Citizen:\nBefore we proceed any further, hear me speak.\n\n  O Romeo, Romeo! wherefore " +
  "art thou Romeo?<|endoftext|>naïve café — 東京 🤖 1234567 it's   spaced\tout\n";
const rustIds = (await rustTok.encode(sample)).getIds();
const jsIds = jsTok.encode(sample).ids;
console.log('sample ids (tokenizers/Rust):', JSON.stringify(rustIds));
console.log('sample ids equal in tokenizers.js:', JSON.stringify(rustIds) === JSON.stringify(jsIds));
const text = readFileSync(corpus, 'utf8');
const allIds = (await rustTok.encode(text)).getIds();
console.log('corpus ids:', allIds.length, 'sha256:', sha256(allIds.join(' ')));
console.log('corpus ids equal in tokenizers.js:', sha256(jsTok.encode(text).ids.join(' ')) === sha256(allIds.join(' ')));
