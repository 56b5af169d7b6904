#!/usr/bin/env node
// Writes volt's tokenizer goldens (tests/goldens/tokenizers/<tokenizer>/<corpus>.json) from the
// reference implementations, and records where the references disagree with each other.
//
//   node goldens.mjs --data DATA_DIR --deps DEPS_DIR --spm SPM_SCRATCH.json --rust RUST_SCRATCH_DIR
//                    --out GOLDENS_DIR [--only TOKENIZER]
//
// DEPS_DIR holds node_modules with the exact versions of package.json (make-goldens.sh installs
// them); SPM_SCRATCH.json is spm_goldens.py's output (the SentencePiece ids for Llama 2);
// RUST_SCRATCH_DIR holds rust_goldens.py's <tokenizer>.json (the Rust `tokenizers` crate's ids).
// Run make-goldens.sh rather than this file directly.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const STDLIB = "/usr/lib/python3.11";
const CHUNK = 4096;
const IDS_LIMIT = 64 * 1024; // texts under this many bytes carry their full id list
const OFFSETS_CORPUS = "unicode_torture"; // the text whose goldens carry the crate's offsets

// ---------------------------------------------------------------------------------------------
// Arguments, packages

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith("--") || i + 1 >= argv.length) throw new Error(`bad argument ${argv[i]}`);
    args[argv[i].slice(2)] = argv[i + 1];
  }
  for (const k of ["data", "deps", "spm", "rust", "out"]) if (!args[k]) throw new Error(`--${k} is required`);
  return args;
}
const args = parseArgs(process.argv.slice(2));
const pinned = JSON.parse(readFileSync(join(HERE, "package.json"), "utf8")).dependencies;
const modules = join(args.deps, "node_modules");
const require = createRequire(pathToFileURL(join(args.deps, "package.json")));

function version(pkg) {
  const v = JSON.parse(readFileSync(join(modules, pkg, "package.json"), "utf8")).version;
  if (v !== pinned[pkg]) throw new Error(`${pkg} ${v} is installed but package.json pins ${pinned[pkg]}`);
  return `${pkg}@${v}`;
}
const importEsm = async (spec) => import(pathToFileURL(require.resolve(spec)).href);

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Lossy = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
const bytesOf = (s) => Buffer.from(s, "utf8");
const sha256 = (data) => createHash("sha256").update(data).digest("hex");
const idsString = (ids) => ids.join(" ");
const readJson = (p) => JSON.parse(readFileSync(p, "utf8"));

// ---------------------------------------------------------------------------------------------
// The references. Each: { name, encode(text) -> number[], decode(ids) -> string }.
// The first of each tokenizer's list is the primary: its ids are the golden; the others must agree.

// GPT-2's byte <-> unicode table (bytes_to_unicode), to turn tokenizer.json tokens into bytes.
function byteDecoder() {
  const bs = [];
  for (let b = 33; b <= 126; ++b) bs.push(b);
  for (let b = 161; b <= 172; ++b) bs.push(b);
  for (let b = 174; b <= 255; ++b) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; ++b) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      ++n;
    }
  }
  const dec = new Map();
  bs.forEach((b, i) => dec.set(String.fromCodePoint(cs[i]), b));
  return dec;
}

// The Rust `tokenizers` crate (what transformers runs), from rust_goldens.py's scratch file: the
// primary reference of every tokenizer.json golden. Its decode, needed only to place a
// disagreement in the text, borrows `fallback`'s (a JS reference over the same file).
function rustReference(name, fallback) {
  const scratch = readJson(join(args.rust, `${name}.json`));
  return {
    name: scratch.reference,
    precomputed: scratch.results,
    encode: () => {
      throw new Error("the Rust crate's ids come from rust_goldens.py");
    },
    decode: fallback.decode,
  };
}

function hfReference(tokenizerJson, configJson) {
  const { Tokenizer } = require("@huggingface/tokenizers");
  const tok = new Tokenizer(readJson(tokenizerJson), configJson ? readJson(configJson) : {});
  return {
    name: version("@huggingface/tokenizers"),
    encode: (text) => tok.encode(text, { add_special_tokens: false }).ids,
    decode: (ids) => tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }),
  };
}

// @lenml/tokenizers: a second JavaScript port (a fork of transformers.js's tokenizers).
function lenmlReference(tokenizerJson, configJson) {
  const { TokenizerLoader } = require("@lenml/tokenizers");
  const tok = TokenizerLoader.fromPreTrained({
    tokenizerJSON: readJson(tokenizerJson),
    tokenizerConfig: configJson ? readJson(configJson) : {},
  });
  return {
    name: version("@lenml/tokenizers"),
    encode: (text) => tok.encode(text, { add_special_tokens: false }),
    decode: (ids) => tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }),
  };
}

// tiktoken's own o200k_base ranks and pattern (GPT-4o's encoding, which gpt-oss's o200k_harmony
// extends with special tokens only), with the special tokens of gpt-oss's tokenizer.json.
function tiktokenO200kHarmony(tokenizerJson) {
  const { Tiktoken } = require("tiktoken/lite");
  const o200k = require("tiktoken/encoders/o200k_base.json");
  const special = {};
  for (const t of readJson(tokenizerJson).added_tokens) special[t.content] = t.id;
  const enc = new Tiktoken(o200k.bpe_ranks, special, o200k.pat_str);
  return {
    name: `${version("tiktoken")}:o200k_base`,
    encode: (text) => Array.from(enc.encode(text, "all")),
    decode: (ids) => utf8Lossy.decode(enc.decode(Uint32Array.from(ids))),
  };
}

// tiktoken (OpenAI's Rust core compiled to WASM) over the ranks of a byte-level tokenizer.json:
// the token's bytes ranked by its id, with the pre-tokenizer's Split regex. This is how Meta's
// reference Llama 3 tokenizer works (tiktoken + these ranks + this pattern).
function tiktokenFromTokenizerJson(tokenizerJson, label) {
  const { Tiktoken } = require("tiktoken/lite");
  const j = readJson(tokenizerJson);
  const dec = byteDecoder();
  const lines = [];
  for (const [token, id] of Object.entries(j.model.vocab)) {
    const bytes = Buffer.from(Array.from(token, (ch) => {
      const b = dec.get(ch);
      if (b === undefined) throw new Error(`${tokenizerJson}: token ${JSON.stringify(token)} is not byte-level`);
      return b;
    }));
    lines.push(`${bytes.toString("base64")} ${id}`);
  }
  const special = {};
  for (const t of j.added_tokens) special[t.content] = t.id;
  const split = j.pre_tokenizer.pretokenizers.find((p) => p.type === "Split");
  const enc = new Tiktoken(lines.join("\n"), special, split.pattern.Regex);
  return {
    name: `${version("tiktoken")}:${label}`,
    encode: (text) => Array.from(enc.encode(text, "all")),
    decode: (ids) => utf8Lossy.decode(enc.decode(Uint32Array.from(ids))),
  };
}

// The references of a tokenizer.json: the Rust crate first, then the JavaScript ports.
function tokenizerJsonReferences(data, name, { config = true, extra = [] } = {}) {
  const dir = join(data, "tokenizers", name);
  const json = join(dir, "tokenizer.json");
  const cfg = config ? join(dir, "tokenizer_config.json") : null;
  const hf = hfReference(json, cfg);
  return [rustReference(name, hf), hf, lenmlReference(json, cfg), ...extra];
}

async function gpt2References(data) {
  const { get_encoding } = require("tiktoken");
  const tk = get_encoding("r50k_base");
  const gptTok = require("gpt-tokenizer/cjs/encoding/r50k_base");
  const { getEncoding } = require("js-tiktoken");
  const jt = getEncoding("r50k_base");
  const hf = hfReference(join(data, "tokenizers/gpt2/tokenizer.json"), null);
  return [
    rustReference("gpt2", hf),
    {
      name: `${version("tiktoken")}:r50k_base`,
      encode: (text) => Array.from(tk.encode(text, "all")),
      decode: (ids) => utf8Lossy.decode(tk.decode(Uint32Array.from(ids))),
    },
    {
      name: version("gpt-tokenizer"),
      encode: (text) => gptTok.encode(text, { allowedSpecial: gptTok.ALL_SPECIAL_TOKENS }),
      decode: (ids) => gptTok.decode(ids),
    },
    {
      name: version("js-tiktoken"),
      encode: (text) => jt.encode(text, "all"),
      decode: (ids) => jt.decode(ids),
    },
    hf,
    lenmlReference(join(data, "tokenizers/gpt2/tokenizer.json"), null),
  ];
}

async function llama3References(data) {
  const llama3 = (await importEsm("llama3-tokenizer-js")).default;
  return tokenizerJsonReferences(data, "llama3", {
    extra: [
      tiktokenFromTokenizerJson(join(data, "tokenizers/llama3/tokenizer.json"), "llama3-ranks"),
      {
        name: version("llama3-tokenizer-js"),
        encode: (text) => llama3.encode(text, { bos: false, eos: false }),
        decode: (ids) => llama3.decode(ids),
      },
    ],
  });
}

async function mistralReferences(data) {
  const mistral = (await importEsm("mistral-tokenizer-js")).default;
  return tokenizerJsonReferences(data, "mistral", {
    extra: [
      {
        name: version("mistral-tokenizer-js"),
        encode: (text) => mistral.encode(text, /*add_bos_token=*/ false, /*add_preceding_space=*/ true),
        decode: (ids) => mistral.decode(ids, false, true),
      },
    ],
  });
}

async function llama2References(spmScratch) {
  const llama = (await importEsm("llama-tokenizer-js")).default;
  const llamaJs = {
    name: version("llama-tokenizer-js"),
    encode: (text) => llama.encode(text, /*add_bos_token=*/ false, /*add_preceding_space=*/ true),
    decode: (ids) => llama.decode(ids, false, true),
  };
  // SentencePiece ran in Python (spm_goldens.py); its decode, needed only to place a
  // disagreement in the text, borrows llama-tokenizer-js's (same 32,000 pieces).
  const scratch = readJson(spmScratch);
  const sentencepiece = {
    name: scratch.reference,
    precomputed: scratch.results,
    encode: () => {
      throw new Error("sentencepiece ids come from spm_goldens.py");
    },
    decode: llamaJs.decode,
  };
  return [sentencepiece, llamaJs];
}

const TOKENIZERS = [
  { name: "gpt2", path: "tokenizers/gpt2/tokenizer.json", parse_special: true, refs: gpt2References },
  { name: "llama3", path: "tokenizers/llama3/tokenizer.json", parse_special: true, refs: llama3References },
  { name: "mistral", path: "tokenizers/mistral/tokenizer.json", parse_special: true, refs: mistralReferences },
  { name: "qwen3", path: "tokenizers/qwen3/tokenizer.json", parse_special: true, refs: (d) => tokenizerJsonReferences(d, "qwen3") },
  { name: "gemma3", path: "tokenizers/gemma3/tokenizer.json", parse_special: true, refs: (d) => tokenizerJsonReferences(d, "gemma3") },
  {
    name: "llama3_1",
    path: "tokenizers/llama3_1/tokenizer.json",
    parse_special: true,
    refs: (d) => tokenizerJsonReferences(d, "llama3_1", {
      extra: [tiktokenFromTokenizerJson(join(d, "tokenizers/llama3_1/tokenizer.json"), "llama3_1-ranks")],
    }),
  },
  { name: "deepseek_v3", path: "tokenizers/deepseek_v3/tokenizer.json", parse_special: true, refs: (d) => tokenizerJsonReferences(d, "deepseek_v3") },
  {
    name: "gptoss",
    path: "tokenizers/gptoss/tokenizer.json",
    parse_special: true,
    refs: (d) => tokenizerJsonReferences(d, "gptoss", { extra: [tiktokenO200kHarmony(join(d, "tokenizers/gptoss/tokenizer.json"))] }),
  },
  // SentencePiece never matches "<s>"/"<unk>" written in the text: they are ordinary text.
  { name: "llama2", path: "tokenizers/llama2/tokenizer.model", parse_special: false, refs: () => llama2References(args.spm) },
];

// ---------------------------------------------------------------------------------------------
// llama.cpp test vectors, read as tests/test-tokenizer-0.cpp reads them.

function readTestvectors(stem) {
  const raw = utf8.decode(readFileSync(stem + ".inp"));
  const sep = "\n__ggml_vocab_test__\n";
  const inputs = [];
  let pos = 0;
  while (pos < raw.length) {
    const next = raw.indexOf(sep, pos);
    if (next < 0) {
      inputs.push(raw.slice(pos));
      break;
    }
    inputs.push(raw.slice(pos, next));
    pos = next + sep.length;
  }
  const lines = readFileSync(stem + ".out", "utf8").split("\n");
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  const expected = lines.map((l) => l.split(" ").filter((t) => t !== "").map(Number));
  if (inputs.length !== expected.length) throw new Error(`${stem}: ${inputs.length} inputs, ${expected.length} outputs`);
  return { inputs, expected };
}

function checkTestvectors(stem, refs, mustAgree) {
  const { inputs, expected } = readTestvectors(stem);
  for (const ref of refs) {
    let bad = 0;
    inputs.forEach((text, i) => {
      let got;
      try {
        got = ref.encode(text);
      } catch (e) {
        got = `error: ${e.message}`;
      }
      if (typeof got === "string" || idsString(got) !== idsString(expected[i])) {
        ++bad;
        console.log(`  ${ref.name} case ${i} ${JSON.stringify(text)}: expected [${expected[i]}] got [${got}]`);
      }
    });
    console.log(`[testvectors] ${stem.split("/").pop()}: ${inputs.length - bad}/${inputs.length} agree with ${ref.name}`);
    if (bad && mustAgree.includes(ref)) throw new Error(`${ref.name} disagrees with llama.cpp's ${stem}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Goldens

function textPath(spec) {
  if (spec.startsWith("stdlib:")) return join(STDLIB, spec.slice("stdlib:".length));
  if (spec.startsWith("golden:")) return join(args.out, spec.slice("golden:".length));
  return join(args.data, spec);
}

function firstDiff(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; ++i) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

// Where the references part: the first differing id, the ids around it, and the text there.
function disagreement(ref, ids, expected, raw, primary) {
  const i = firstDiff(expected, ids);
  let offset = null;
  try {
    offset = bytesOf(primary.decode(expected.slice(0, i))).length;
  } catch (e) {
    offset = null;
  }
  const d = {
    reference: ref.name,
    tokens: ids.length,
    ids_sha256: sha256(idsString(ids)),
    first_diff: i,
    expected: expected.slice(Math.max(0, i - 3), i + 8),
    actual: ids.slice(Math.max(0, i - 3), i + 8),
  };
  if (offset !== null && offset <= raw.length) {
    d.byte_offset = offset;
    d.text_near = utf8Lossy.decode(raw.subarray(Math.max(0, offset - 40), offset + 40));
  }
  return d;
}

// A stable, diff-friendly JSON layout: one key per line, id lists on one line.
function serialize(g) {
  const lines = [];
  for (const [k, v] of Object.entries(g)) {
    if (k === "chunk_sha256" || k === "disagreements") {
      const items = v.map((x) => "    " + JSON.stringify(x));
      lines.push(`  ${JSON.stringify(k)}: [\n${items.join(",\n")}\n  ]`);
    } else {
      lines.push(`  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
    }
  }
  return "{\n" + lines.join(",\n") + "\n}\n";
}

function makeGolden(tok, refs, corpus, summary) {
  const raw = readFileSync(textPath(corpus.text));
  const text = utf8.decode(raw); // throws on invalid UTF-8
  const textSha = sha256(raw);
  const [primary, ...others] = refs;
  // A reference that ran in another process (SentencePiece, the Rust crate) left its ids in a
  // scratch file; they must be for this very text.
  const precomputed = (ref) => {
    const r = ref.precomputed[corpus.name];
    if (!r || r.text_sha256 !== textSha) throw new Error(`${ref.name}: no result for this ${corpus.name}`);
    return r;
  };
  let ids;
  let roundTrip;
  let offsets;
  if (primary.precomputed) {
    ({ ids, round_trip: roundTrip, offsets } = precomputed(primary));
  } else {
    ids = primary.encode(text);
    roundTrip = primary.decode(ids) === text;
  }
  const idsStr = idsString(ids);
  const agreeing = [primary.name];
  const disagreements = [];
  for (const ref of others) {
    let got;
    try {
      got = ref.precomputed ? precomputed(ref).ids : ref.encode(text);
    } catch (e) {
      disagreements.push({ reference: ref.name, error: String(e.message).slice(0, 300) });
      continue;
    }
    if (idsString(got) === idsStr) agreeing.push(ref.name);
    else disagreements.push(disagreement(ref, got, ids, raw, primary));
  }
  const chunks = [];
  for (let i = 0; i < ids.length; i += CHUNK) chunks.push(sha256(idsString(ids.slice(i, i + CHUNK))));
  const g = {
    tokenizer: tok.name,
    tokenizer_path: tok.path,
    text: corpus.text,
    text_bytes: raw.length,
    text_sha256: textSha,
    parse_special: tok.parse_special,
    references: agreeing,
  };
  if (disagreements.length) g.disagreements = disagreements;
  Object.assign(g, {
    tokens: ids.length,
    ids_sha256: sha256(idsStr),
    chunk: CHUNK,
    chunk_sha256: chunks,
    round_trip: roundTrip,
  });
  if (raw.length < IDS_LIMIT) g.ids = ids;
  // The Rust crate's offsets (UTF-8 bytes) on the torture text: what volt's must agree with.
  if (corpus.name === OFFSETS_CORPUS && offsets) g.reference_offsets = offsets;
  const dir = join(args.out, tok.name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${corpus.name}.json`), serialize(g));
  const note = disagreements.length ? `; DISAGREE: ${disagreements.map((d) => d.reference + (d.error ? " (error)" : ` @${d.first_diff}`)).join(", ")}` : "";
  console.log(`[${tok.name}] ${corpus.name}: ${ids.length} ids, round trip ${roundTrip}, agree: ${agreeing.join(", ")}${note}`);
  summary.push({ tokenizer: tok.name, corpus: corpus.name, disagreements: disagreements.length });
}

// --show TOKENIZER/CORPUS --from A --to B: the primary reference's ids A..B of a golden, with
// their byte offsets and text, to see exactly where a hashed golden (no "ids") differs.
async function show(corpora) {
  const [tokName, corpusName] = args.show.split("/");
  const tok = TOKENIZERS.find((t) => t.name === tokName);
  const corpus = corpora.find((c) => c.name === corpusName);
  if (!tok || !corpus) throw new Error(`--show ${args.show}: no such tokenizer/corpus`);
  const [primary] = await tok.refs(args.data);
  const text = utf8.decode(readFileSync(textPath(corpus.text)));
  const ids = primary.precomputed ? primary.precomputed[corpus.name].ids : primary.encode(text);
  const from = Math.max(0, Number(args.from ?? 0));
  const to = Math.min(ids.length, Number(args.to ?? from + 64));
  let offset = bytesOf(primary.decode(ids.slice(0, from))).length;
  console.log(`${primary.name}: ${tok.name} on ${corpus.text}: ${ids.length} ids; ids ${from}..${to}:`);
  for (let i = from; i < to; ++i) {
    console.log(`  [${i}] byte ~${offset}: ${ids[i]} ${JSON.stringify(primary.decode([ids[i]]))}`);
    offset = bytesOf(primary.decode(ids.slice(0, i + 1))).length;
  }
}

async function main() {
  const corpora = readJson(join(HERE, "corpora.json")).texts;
  if (!existsSync(args.out)) throw new Error(`${args.out} does not exist`);
  if (args.show) return show(corpora);
  const summary = [];
  for (const tok of TOKENIZERS) {
    if (args.only && args.only !== tok.name) continue;
    const refs = await tok.refs(args.data);
    if (tok.name === "gpt2") {
      // (rust_goldens.py checks the Rust crate against these vectors itself.)
      const live = refs.filter((r) => !r.precomputed);
      checkTestvectors(join(args.data, "tokenizers/testvectors/ggml-vocab-gpt-2.gguf"), live, [live[0]]);
    } else if (tok.name === "llama2") {
      checkTestvectors(join(args.data, "tokenizers/testvectors/ggml-vocab-llama-spm.gguf"), refs.slice(1), []);
    }
    for (const corpus of corpora) {
      const t0 = Date.now();
      makeGolden(tok, refs, corpus, summary);
      if (Date.now() - t0 > 20000) console.log(`  (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    }
  }
  const bad = summary.filter((s) => s.disagreements);
  console.log(`${summary.length} goldens written; ${bad.length} with disagreeing references` +
    (bad.length ? `: ${bad.map((s) => `${s.tokenizer}/${s.corpus}`).join(", ")}` : ""));
}

main().catch((e) => {
  console.error(`goldens.mjs: ${e.stack || e}`);
  process.exit(1);
});
