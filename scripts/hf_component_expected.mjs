// Expected outputs for volt's tests of the Hugging Face tokenizer.json components
// (tests/tokenizers/{normalizers,decoders,wordpiece}_test.cpp), taken from the `tokenizers` crate
// itself: the npm package `tokenizers` is the crate's Node binding (its Rust code, compiled), so
// what it prints is what transformers' fast tokenizers do.
//
//   mkdir -p /tmp/hfref && (cd /tmp/hfref && npm install tokenizers@0.23.2)
//   node scripts/hf_component_expected.mjs normalizers|decoders|wordpiece|unicode [/tmp/hfref]
//
// Each mode prints C++ table rows that the matching test embeds. `unicode` prints, per normalizer,
// the SHA-256 of its output over every code point (see unicode_digests below), and with --dump DIR
// also writes the code points each normalizer changes, one "CP<TAB>OUTPUT CPS" line each, which
// is how the crate's Unicode table versions in src/tokenizers/normalizers.cpp were measured.
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const mode = process.argv[2];
const refDir = process.argv[3] && !process.argv[3].startsWith('--') ? process.argv[3] : '/tmp/hfref';
const require = createRequire(path.join(path.resolve(refDir), 'package.json'));
const tk = require('tokenizers');
const { Tokenizer } = tk;

function tokenizer({ normalizer = null, pre_tokenizer = null, decoder = null, model = null,
                     added_tokens = [], post_processor = null }) {
  model ??= { type: 'WordLevel', vocab: { '[UNK]': 0 }, unk_token: '[UNK]' };
  const j = { version: '1.0', truncation: null, padding: null, added_tokens, normalizer,
              pre_tokenizer, post_processor, decoder, model };
  return Tokenizer.fromString(JSON.stringify(j));
}

// A C++ string literal: printable text as is, marks, controls, format and separator characters
// (other than ' ') as escapes, so that the test source shows what is there.
function cpp(s) {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (cp < 0x20 || cp === 0x7f) out += '\\' + cp.toString(8).padStart(3, '0');
    else if (ch !== ' ' && /[\p{M}\p{C}\p{Z}]/u.test(ch)) {
      out += cp > 0xffff ? '\\U' + cp.toString(16).toUpperCase().padStart(8, '0')
                         : '\\u' + cp.toString(16).toUpperCase().padStart(4, '0');
    } else out += ch;
  }
  // A NUL inside needs the literal's own length: std::string_view's ""sv.
  return out + (s.includes('\0') ? '"sv' : '"');
}
// The test spells the small charsmap once, as kSmallCharsmap, and puts it where this says. Long
// JSON is cut after commas into adjacent raw literals, to fit the test's 100 columns.
function rawJson(o, indent = '     ') {
  const text = JSON.stringify(o).replaceAll(SMALL_CHARSMAP, 'SMALL_CHARSMAP');
  const pieces = [];
  let rest = text;
  while (rest.length > 80) {
    const cut = rest.lastIndexOf(',', 80);
    if (cut <= 0) break;
    pieces.push(rest.slice(0, cut + 1));
    rest = rest.slice(cut + 1);
  }
  pieces.push(rest);
  return pieces.map((p) => 'R"json(' + p + ')json"').join('\n' + indent);
}
const cppList = (xs) => '{' + xs.map(cpp).join(', ') + '}';

// ------------------------------------------------------------------------------ normalizers

// SentencePiece rules compiled into a small precompiled_charsmap: a TSV of
//   FB01->66 69, FF21->41, 1D53E->47, 200D->20, 61 301->E1, 627 653->622, 41->61, E9->65 301,
//   2160->49
// given to `spm_train --normalization_rule_tsv=rules.tsv` (Debian's sentencepiece 0.1.97), and
// the model's normalizer_spec.precompiled_charsmap read back with sentencepiece_model_pb2.
export const SMALL_CHARSMAP =
  'AAQAAAAAAQBBDQAACAAAgMwYAgCBBQAAEQAAgKkFAAAKAACA2UQCAKdgAwCTBQAAFAAAgI0FAAAAAACABgAAgKxwAgCARAIAoH0AAIEFAAAOAACAoQkAAIWQAgACAACAnWwCAJT8AgC+DQAABAAAgBoAAAAdAAAAHAAAAB8AAAC8qAIAIQAAAGG4AwAjAAAAIgAAACUAAAAkAAAAJwAAACYAAAApAAAAKAAAACsAAAAqAAAALQAAACwAAAAvAAAALgAAADEAAAAwAAAAMwAAADIAAAA1AAAANAAAADcAAAA2AAAAOQAAADgAAAA7AAAAOgAAAD0AAAA8AAAAPwAAAD4AAABBAAAAQAAAAEMAAABCAAAARQAAAEQAAABHAAAARgAAAEkAAABIAAAASwAAAEoAAABNAAAATAAAAE8AAABOAAAAUQAAAFAAAABTAAAAUgAAAFUAAABUAAAAVwAAAFYAAABZAAAAWAAAAFsAAABaAAAAXQAAAFwAAABfAAAAXgAAAGEAAABgAAAAYwAAAGIAAABlAAAAZAAAAGcAAABmAAAAaQAAAGgAAABrAAAAagAAAG0AAABsAAAAbwAAAG4AAABxAAAAcAAAAHMAAAByAAAAdQAAAHQAAAB3AAAAdgAAAHkAAAB4AAAAewAAAHoAAAB9AAAAfAAAAH8AAAB+AAAAgQAAAIAAAACDAAAAw7AAAIUAAACEAAAAhwAAAIYAAACJAAAAiAAAAIsAAACKAAAAjQAAAIwAAACPAAAAjgAAAJEAAACQAAAAkwAAAJIAAACVAAAAlAAAAJcAAACWAAAA2NgAAJgAAACbAAAAmgAAAJ0AAACcAAAAnwAAAJ4AAAChAAAAoAAAAOLIAACiAAAApQAAAKQAAACnAAAApgAAAKkAAACoAAAAqwAAAKoAAACtAAAArAAAAK8AAADvMAAA8OgAALAAAACzAAAAsgAAALUAAAC0AAAAtwAAALYAAAC5AAAAuAAAALsAAAC6AAAAvQAAALwAAAC/AAAAvgAAAMEAAADAAAAAwwAAAMIAAADFAAAAxAAAAMcAAADGAAAAyQAAAMgAAADLAAAAygAAAM0AAADMAAAAzwAAAM4AAADRAAAA0AAAANMAAADSAAAA1QAAANQAAADXAAAA1gAAANkAAADYAAAA2wAAANoAAADdAAAA3AAAAN8AAADeAAAA4QAAAOAAAADjAAAA4gAAAOUAAADkAAAA5wAAAOYAAADpAAAA6AAAAOsAAADqAAAA7QAAAOwAAADvAAAA7gAAAPEAAADwAAAA8wAAAPIAAAD1AAAA9AAAAPcAAAD2AAAA+QAAAPgAAAD7AAAA+gAAAP0AAAD8AAAA/wAAAP4AAAAgAEEARwBJAGEAZcyBAGZpAMOhANiiAA==';

const bert = (o) => ({ type: 'BertNormalizer', clean_text: false, handle_chinese_chars: false,
                       strip_accents: false, lowercase: false, ...o });
const NORMALIZER_CASES = [
  [{ type: 'NFC' }, ['e\u0301 A\u030A \u1112\u1161\u11AB', 'a\u0301\u07FD', 'x\u0315\u0301']],
  [{ type: 'NFD' }, ['é Å ḱ ệ 한', 'x\u0301\u0D3B', '\u{11938}']],
  [{ type: 'NFKC' }, ['ﬁ ① Ａ ㎏ ½ x²', '\u{1F16C} \u32FF']],
  [{ type: 'NFKD' }, ['ﬁé ǅ', '\u32FF']],
  [{ type: 'Lowercase' }, ['HELLO World', 'ΟΔΟΣ Σ. İx ǅ ẞ ÀÉ', '\u{10D50}\uA7DC']],
  [{ type: 'Prepend', prepend: '▁' }, ['', 'hello world']],
  [{ type: 'Replace', pattern: { String: ' ' }, content: '▁' }, ['  hello  world ', '']],
  [{ type: 'Replace', pattern: { String: 'a.b' }, content: 'X' }, ['a.b axb a.ba.b']],
  [{ type: 'Replace', pattern: { String: '' }, content: '-' }, ['ab', '']],
  [{ type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
   ['This     is   a\t\n test', 'a\u000Bb\u0085c\u00A0d\u2028e\u200Bf']],
  [{ type: 'Replace', pattern: { Regex: 'a*' }, content: '-' }, ['baaac', '']],
  [{ type: 'Replace', pattern: { Regex: '^a|b$' }, content: '-' }, ['ab\nab']],
  [{ type: 'Replace', pattern: { Regex: 'a.c' }, content: '-' }, ['a\nc a\rc a\u2028c abc']],
  [{ type: 'Replace', pattern: { Regex: '(?<=a)b' }, content: '$1' }, ['abab bb']],
  [{ type: 'Replace', pattern: { Regex: '(l)(e)' }, content: '$1 $2' }, ['le travail']],
  [{ type: 'Replace', pattern: { Regex: '\\d+' }, content: '#' }, ['a1 b22 c٣٤']],
  [{ type: 'Strip', strip_left: true, strip_right: false }, [' \u3000 x \u00A0']],
  [{ type: 'Strip', strip_left: false, strip_right: true }, ['\t x \u2029\n']],
  [{ type: 'Strip', strip_left: true, strip_right: true }, [' \u200B x\u0085 ', '   ']],
  [{ type: 'StripAccents' }, ['का é ำ e\u0301\u0304\u0304o', '\u1CF2x\u{111C9}']],
  [{ type: 'Sequence', normalizers: [{ type: 'NFKD' }, { type: 'StripAccents' }, { type: 'Lowercase' }] },
   ['Cụ thể, ậ… Me llamó', 'ำน\u0E49ำ3ลำ']],
  [{ type: 'Nmt' }, ['a\u0001b\tc\u2581d\u200Be\uFFFDf\u000Bg\u008Fh\n']],
  [{ type: 'ByteLevel' }, ['Hello 我今天', '']],
  [bert({ clean_text: true }),
   ['a\u0000b\uFFFDc\u0085d\u00ADe\tf\n\r\u000Bg\u000Ch\u3000i\u2028j\u200Bk\uE000l\u0378m',
    'new Cf: \u0890\u{13430}\u{110CD} old Cf: \u180E\u2066\u061C']],
  [bert({ handle_chinese_chars: true }), ['a中b文c \u{2B820}\u{2B920}\u3400 한국어 ひらがな']],
  [bert({ strip_accents: true }), ['Héllo à la Ça कि \u1734\u1885\uA9BD']],
  [bert({ lowercase: true, strip_accents: null }), ['ÉCOLE Straße']],
  [bert({ lowercase: false, strip_accents: null }), ['ÉCOLE Straße']],
  [{ type: 'BertNormalizer', clean_text: false, handle_chinese_chars: false, lowercase: true },
   ['ÉCOLE']],
  [{ type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null,
     lowercase: true },
   ['Hello, WORLD!  Héllo\u00A0wörld\t中国人 ΑΣ', "  \u0000 Don't  stop\u200D "]],
  [{ type: 'Precompiled', precompiled_charsmap: SMALL_CHARSMAP },
   ['ﬁ Ａ 𝔾\u200Dx', 'a\u0301 A\u0301 A\u0301\u0301\u0301', '\u0627\u0653 é Ⅰ', 'plain text', '']],
  [{ type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' },
                                     { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
   ['Hello world', ' x ', '']],
];

function normalizers() {
  console.log('// scripts/hf_component_expected.mjs normalizers: {config, {{input, expected}, ...}}');
  for (const [config, inputs] of NORMALIZER_CASES) {
    const n = tokenizer({ normalizer: config }).getNormalizer();
    console.log(`    {${rawJson(config)},\n     {`);
    for (const input of inputs) console.log(`         {${cpp(input)}, ${cpp(n.normalizeString(input))}},`);
    console.log('     }},');
  }
}

// ------------------------------------------------------------------------------ decoders

// GPT-2's bytes_to_unicode, to write byte-level tokens.
const BYTE_CHAR = (() => {
  const bs = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const map = new Map(bs.map((b) => [b, b]));
  let n = 0;
  for (let b = 0; b < 256; b++) if (!map.has(b)) map.set(b, 256 + n++);
  return map;
})();
const byteTok = (bytes) => bytes.map((b) => String.fromCodePoint(BYTE_CHAR.get(b))).join('');
const utf8 = (s) => [...Buffer.from(s, 'utf8')];

const metaspace = (o) => ({ type: 'Metaspace', replacement: '▁', ...o });
const DECODER_CASES = [
  [{ type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
   [['Hello', 'Ġmy', 'Ġfriend', ',', 'Ġhow', 'Ċ'],
    // 我 split over three tokens; a token with chars outside the alphabet keeps its own bytes.
    [byteTok(utf8('我').slice(0, 1)), byteTok(utf8('我').slice(1)), '€x', 'Ġ'],
    // Invalid UTF-8: a truncated sequence, a lone continuation, an overlong, a surrogate.
    [byteTok([0xe2, 0x82]), 'A', byteTok([0x80]), byteTok([0xc0, 0xaf]), byteTok([0xed, 0xa0, 0x80]),
     byteTok([0xf0, 0x80]), byteTok([0xf4, 0x90, 0x80, 0x80]), byteTok([0xf0, 0x9f, 0x98]), 'z'],
    []]],
  [metaspace({ prepend_scheme: 'always', split: true }), [['▁Hey', '▁friend!', '▁▁a'], ['▁a▁c', '▁b'], ['x▁']]],
  [metaspace({ prepend_scheme: 'first' }), [['▁a▁c', '▁b']]],
  [metaspace({ prepend_scheme: 'never', split: false }), [['▁a▁c', '▁b']]],
  [metaspace({ add_prefix_space: true }), [['▁Hey', '▁friend!']]],
  [metaspace({ replacement: '_', add_prefix_space: false, prepend_scheme: 'never' }), [['_a_', '_b']]],
  [{ type: 'ByteFallback' },
   [['Hey', '<0x61>', 'friend!'], ['<0xE5>', '<0x8f>', '<0xab>', 'a', '<0xE5>', '<0x8f>', 'b'],
    ['<0xC3>', '<0xA9>', '<0xC3>'], ['<0x>', '<0x411>', '<0xf>', '<0X41>', '<0x4g>', '<0x+f>', '<0x-1>']]],
  [{ type: 'Fuse' }, [['Hey', ' friend!', ''], []]],
  [{ type: 'Strip', content: ' ', start: 1, stop: 0 }, [['  a', ' b', 'c ']]],
  [{ type: 'Strip', content: 'H', start: 2, stop: 2 }, [['HHaHH', 'HHHHH', 'xHH', 'aH', 'HeyH']]],
  [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, [['▁a', 'b▁▁', '']]],
  [{ type: 'Replace', pattern: { Regex: '(a)' }, content: '$1$1' }, [['abc', 'bab']]],
  [{ type: 'WordPiece', prefix: '##', cleanup: true },
   [['##a', 'do', 'not', 'i', "'", 'm', 'hi', '.', '##b##c', 'x', '?', '!', ',', "n't", "'s", "'ve", "'re"],
    ['un', '##aff', '##able', 'do not', "it ' s", "can 't", 'x .']]],
  [{ type: 'WordPiece', prefix: '##', cleanup: false }, [['##uelo', 'Ara', '##új', '##o', 'No', '##guera', '.']]],
  [{ type: 'WordPiece', prefix: '@@', cleanup: false }, [['a', '@@b', '##c']]],
  [{ type: 'BPEDecoder', suffix: '</w>' }, [['hel', 'lo</w>', 'wor', 'ld</w>'], [' a</w>', 'b</w>  '], []]],
  [{ type: 'CTC', pad_token: '<pad>', word_delimiter_token: '|', cleanup: true },
   [['<pad>', 'h', 'h', 'e', '|', '|', 'l', '<pad>', 'l', 'o', 'o', '<pad>', '.']]],
  [{ type: 'CTC', pad_token: '<pad>', word_delimiter_token: '|', cleanup: false }, [['a', 'a', '|', ' .', 'b']]],
  [{ type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' },
                                  { type: 'ByteFallback' }, { type: 'Fuse' },
                                  { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
   [['▁Hi', '<0xE2>', '<0x82>', '<0xAC>', '▁<0x41>', '▁▁x']]],
];

// Besides the joined text, the token list itself (decode_chain's output, which the next decoder
// of a Sequence sees): a WordPiece decoder with a prefix no token has and no cleanup appended to
// the chain puts a space before every token but the first.
const SHOW_TOKENS = { type: 'WordPiece', prefix: '\u0001', cleanup: false };

function decoders() {
  console.log('// scripts/hf_component_expected.mjs decoders: ' +
              '{config, {{tokens, joined, chain joined by " "}, ...}}');
  for (const [config, lists] of DECODER_CASES) {
    const d = tokenizer({ decoder: config }).getDecoder();
    const chain = tokenizer({ decoder: { type: 'Sequence', decoders: [config, SHOW_TOKENS] } }).getDecoder();
    console.log(`    {${rawJson(config)},\n     {`);
    for (const tokens of lists) {
      console.log(`         {${cppList(tokens)},\n          ${cpp(d.decode(tokens))}, ${cpp(chain.decode(tokens))}},`);
    }
    console.log('     }},');
  }
}

// ------------------------------------------------------------------------------ WordPiece

// A small BERT-style vocabulary (ids in this order).
export const WP_VOCAB = [
  '[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'the', 'un', '##aff', '##able', 'a', '##b', '##c',
  'abc', 'hello', '##lo', 'hel', '##l', 'world', '##s', ',', '.', '!', "'", 't', 'don', '##n',
  'can', 'é', '##é', 'e', '##e', 'ni', '##ño', '##o', '中', '国', 'x', '##x', '##xx', '##xxx',
  'ñ', '##and', '##ú', 'run', '##ning', '##ing', 'i',
];
const WP_MODEL = (o = {}) => ({ type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##',
                                max_input_chars_per_word: 100,
                                vocab: Object.fromEntries(WP_VOCAB.map((t, i) => [t, i])), ...o });
const WP_WORDS = ['unaffable', 'hello', 'hellos', 'helo', 'abc', 'abcc', 'ab', 'running', 'runing',
                  'niño', 'ñandú', 'é', 'éé', 'xxxxxxx', 'zebra', 'unaffablez', 'the', '##aff', ''];

function wordpiece() {
  console.log('// scripts/hf_component_expected.mjs wordpiece');
  console.log(`// The vocabulary (ids in order):\n    ${WP_VOCAB.map(cpp).join(', ')}`);
  console.log('// Model on single words: {model overrides, word, ids}');
  const overrides = [{}, { max_input_chars_per_word: 5 }, { continuing_subword_prefix: '' },
                     { unk_token: '[MASK]' }];
  return (async () => {
    for (const o of overrides) {
      const t = tokenizer({ model: WP_MODEL(o) });
      // An empty input has no words at all; the test checks the model's own answer (no ids).
      for (const w of WP_WORDS.filter((x) => x !== '')) {
        const e = await t.encode(w);
        console.log(`    {${rawJson(o)}, ${cpp(w)}, {${e.getIds().join(', ')}}},`);
      }
    }
    // Behind a ByteLevel pre-tokenizer the model reads each word through GPT-2's byte alphabet.
    const byteLevel = tokenizer({
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##',
               max_input_chars_per_word: 100,
               vocab: { '[UNK]': 0, 'Ġhi': 1, 'h': 2, '##Ã': 3, '##©': 4, 'Ġh': 5, '##i': 6 } } });
    console.log('// Byte-level words: {text, words, ids}');
    for (const text of ['hi hé', ' hi']) {
      const words = byteLevel.getPreTokenizer().preTokenizeString(text).map(([w]) => w);
      console.log(`    {${cpp(text)}, ${cppList(words)}, {${(await byteLevel.encode(text)).getIds().join(', ')}}},`);
    }
    // The BERT pipeline: BertNormalizer + BertPreTokenizer + WordPiece + WordPiece decoder, and
    // the [CLS] $A [SEP] template of bert-base-uncased's tokenizer.json.
    const special = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((content, id) => ({
      id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
    const pipeline = {
      added_tokens: special,
      normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true,
                    strip_accents: null, lowercase: true },
      pre_tokenizer: { type: 'BertPreTokenizer' },
      post_processor: { type: 'TemplateProcessing',
                        single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
                                 { SpecialToken: { id: '[SEP]', type_id: 0 } }],
                        pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
                               { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } },
                               { SpecialToken: { id: '[SEP]', type_id: 1 } }],
                        special_tokens: { '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] },
                                          '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] } } },
      decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
      model: WP_MODEL(),
    };
    const t = tokenizer(pipeline);
    console.log('// BERT pipeline tokenizer.json (the test builds the same one):');
    console.log('//   ' + JSON.stringify({ ...pipeline, model: '...' }));
    console.log('// {text, normalized, words, ids, ids with [CLS]/[SEP], decoded, decoded skipping special}');
    const texts = ['Hello, WORLD! Unaffable.', "Don't stop running, i can't!", 'Niño ÑANDÚ é中国x',
                   'hello[SEP]world [MASK]', '  ', 'Héllo\u00A0wörld\tzebra'];
    for (const text of texts) {
      const normalized = t.getNormalizer().normalizeString(text);
      const words = t.getPreTokenizer().preTokenizeString(normalized).map(([w]) => w);
      const plain = (await t.encode(text, null, { addSpecialTokens: false })).getIds();
      const withSpecial = (await t.encode(text, null, { addSpecialTokens: true })).getIds();
      const decoded = await t.decode(withSpecial, false);
      const decodedSkip = await t.decode(withSpecial, true);
      console.log(`    {${cpp(text)}, ${cpp(normalized)},\n     ${cppList(words)},\n` +
                  `     {${plain.join(', ')}}, {${withSpecial.join(', ')}},\n` +
                  `     ${cpp(decoded)}, ${cpp(decodedSkip)}},`);
    }
  })();
}

// ------------------------------------------------------------------------------ unicode

// Every code point from U+0001 to U+10FFFF (no surrogates, no separator) in chunks of 4096, each
// followed by the separator; the digest is the SHA-256 of the normalized chunks, concatenated.
// The separator is '|' where a normalizer keeps it and U+E000 (private use, kept by all but
// BertNormalizer's clean_text) elsewhere; NFKC would turn U+FF5C into '|'.
export const UNICODE_CASES = [
  ['NFC', { type: 'NFC' }], ['NFD', { type: 'NFD' }], ['NFKC', { type: 'NFKC' }],
  ['NFKD', { type: 'NFKD' }], ['Lowercase', { type: 'Lowercase' }],
  ['StripAccents', { type: 'StripAccents' }],
  ['BertClean', bert({ clean_text: true })], ['BertChinese', bert({ handle_chinese_chars: true })],
  ['BertAccents', bert({ strip_accents: true })],
];

function unicodeDigests() {
  const dumpIdx = process.argv.indexOf('--dump');
  const dumpDir = dumpIdx > 0 ? process.argv[dumpIdx + 1] : null;
  console.log('// scripts/hf_component_expected.mjs unicode: {name, config, sha256}');
  for (const [name, config] of UNICODE_CASES) {
    const sep = name.startsWith('Bert') ? '|' : '\uE000';
    const n = tokenizer({ normalizer: config }).getNormalizer();
    const hash = createHash('sha256');
    const changed = [];
    const cps = [];
    for (let c = 1; c <= 0x10ffff; c++) {
      if ((c >= 0xd800 && c <= 0xdfff) || c === sep.codePointAt(0)) continue;
      cps.push(c);
    }
    for (let i = 0; i < cps.length; i += 4096) {
      const chunk = cps.slice(i, i + 4096);
      const out = n.normalizeString(chunk.map((c) => String.fromCodePoint(c) + sep).join(''));
      hash.update(out, 'utf8');
      if (dumpDir) {
        const parts = out.split(sep);
        chunk.forEach((c, k) => {
          if (parts[k] !== String.fromCodePoint(c)) {
            const hex = [...parts[k]].map((x) => x.codePointAt(0).toString(16).toUpperCase());
            changed.push(`${c.toString(16).toUpperCase()}\t${hex.join(' ')}`);
          }
        });
      }
    }
    if (dumpDir) fs.writeFileSync(path.join(dumpDir, `${name}.txt`), changed.join('\n') + '\n');
    console.log(`    {"${name}",\n     ${rawJson(config)},\n     "${hash.digest('hex')}"},`);
  }
}

if (mode === 'normalizers') normalizers();
else if (mode === 'decoders') decoders();
else if (mode === 'wordpiece') await wordpiece();
else if (mode === 'unicode') unicodeDigests();
else {
  console.error('usage: node scripts/hf_component_expected.mjs normalizers|decoders|wordpiece|unicode ' +
                '[REFDIR] [--dump DIR]');
  process.exit(2);
}
