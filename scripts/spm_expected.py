#!/usr/bin/python3
"""Expected outputs for tests/tokenizers/sentencepiece_test.cpp, from Google's sentencepiece itself
(Debian's python3-sentencepiece 0.1.97, with python3-protobuf for sentencepiece_model_pb2).

  apt-get install sentencepiece python3-sentencepiece python3-protobuf
  /usr/bin/python3 scripts/spm_expected.py [--data /work/shared/data] [--write]

Prints the C++ block the test embeds between its "BEGIN GENERATED" and "END GENERATED" lines;
--write replaces that block in the test file. The block holds:
  * Llama 2 (tokenizers/llama2/tokenizer.model): sp.encode() and sp.decode() of tricky strings,
    decodes of hand-picked id lists, and the id count and FNV-1a hash of Tiny Shakespeare's ids;
  * the same strings with volt's parse_special=true rule (the text of CONTROL and UNKNOWN pieces
    is split out first and each stretch between them encoded as a whole text, as Hugging Face's
    legacy Llama tokenizer and llama.cpp do), written out here so the rule is explicit;
  * two tiny models trained here and embedded byte for byte: a unigram model with a custom
    normalization rule table (a precompiled charsmap), a denormalizer, user-defined, control and
    UNUSED pieces; and a BPE model with UNUSED pieces (which sentencepiece resegments),
    user-defined symbols (one spanning a space) and remove_extra_whitespaces.
Run it with Debian's python3 (the one python3-sentencepiece is built for).
"""
import argparse
import io
import os
import random
import re
import subprocess
import sys

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

HERE = os.path.dirname(os.path.abspath(__file__))
TEST = os.path.join(HERE, "..", "tests", "tokenizers", "sentencepiece_test.cpp")

LLAMA_STRINGS = [
    "", " ", "  ", "   ", "\t", "\n", "\n\n", " \n ", "Hello", "Hello world", " Hello world",
    "Hello world ", "  Hello   world  ", "Hello\tworld", "Hello\nworld", "line1\r\nline2",
    "The quick brown fox jumps over the lazy dog.", "I'm sure you don't", "1234567890",
    "3.14159 and 1,000,000 and $100.00", "2023-12-31T23:59:59Z", "café naïve résumé",
    "Ångström ß ǅ", "日本語のテキスト", "中文测试", "한국어", "Привет, мир!", "مرحبا بالعالم",
    "😀", "👍🏽 🇺🇸", "a😀b", "<s>", "</s>", "<unk>", "<s>Hello</s>", " <s> Hello </s> ",
    "<0x41>", "\u2581", "\u2581\u2581hello \u2581", "zero\u200bwidth", "no\u00a0break",
    "nul\x00byte", "ﬁ Ⅻ ①", "Pneumonoultramicroscopicsilicovolcanoconiosis",
    "def foo(x):\n    return x**2\n", "    indented", "trailing spaces   ", "<|endoftext|>",
    "ideographic\u3000space", "\ufeffbom", "aaaaaaaaaaaaaaaaaaaaaaaa", "!!!???...",
    "http://example.com/path?q=1&r=2", "\U0010fffd\U00010000", "\ufffd",
]

# Id lists whose decode shows sentencepiece's rules: the dummy-prefix space dropped once, control
# pieces invisible, <unk> as " ⁇ ", byte pieces reassembled, a broken UTF-8 byte as U+FFFD.
LLAMA_DECODES = [
    [], [1], [1, 22172, 2], [22172, 3186], [29871, 22172], [259, 22172], [29871, 29871, 22172],
    [0], [0, 0], [13], [29871, 13], [243, 162, 155, 131], [243, 162], [162, 155, 131],
    [29871, 243, 162, 155, 131, 921], [243, 29871, 162], [1, 29871, 22172], [2, 259],
    [3186, 1, 3186], [29871],
]

TINY_CORPUS_WORDS = ("the cat sat on a mat with the hat and the bat ABout the ﬁsh café naïve "
                     "日本 Ⅰ catalog scatter").split()

# Custom normalization rules (source code points <TAB> target code points): "AB" -> "X",
# ideographic space -> space, "Ⅰ" -> "I", "ﬁ" -> "fi", "cat" -> "dog".
NORM_TSV = "41 42\t58\n3000\t20\n2160\t49\nFB01\t66 69\n63 61 74\t64 6F 67\n"
DENORM_TSV = "78\t58 21\n"  # decoded "x" -> "X!"

TIES_STRINGS = ["aba", "abab", "ababab", "ab<u>ba", "bab a", "a<u>", " b", "baba b  a", "c"]

TINY_STRINGS = [
    "", "the cat", "  the   dog  ", "ABout the ﬁsh", "Ⅰ\u3000am", "catalog scatter",
    "a <sep> b", "<cls>", "x marks", "xyz 😀", "the hat and the bat", "naïve café 日本",
    "mat with a hat", "thethethe", "ab  ab", "abba ab ab",
]


def cpp_str(s):
    """A C++ string_view literal showing printable text as is and everything else escaped."""
    out, hex_pending = ['"'], False
    for ch in s:
        cp = ord(ch)
        if hex_pending and re.match(r"[0-9A-Fa-f]", ch):
            out.append('" "')
        hex_pending = False
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif cp < 0x20 or cp == 0x7F or (0x80 <= cp < 0xA0) or cp in (
                0xA0, 0x200B, 0x3000, 0xFEFF, 0x2581, 0xFFFD) or cp >= 0x10000 and not (
                    0x1F000 <= cp < 0x20000):
            out.append("".join(f"\\x{b:02x}" for b in ch.encode("utf-8")))
            hex_pending = True
        else:
            out.append(ch)
    out.append('"sv')
    return "".join(out)


def cpp_bytes(data, indent="    "):
    """Bytes as concatenated C++ literals, 3-digit octal escapes for all but plain ASCII."""
    lines, cur = [], ""
    for b in data:
        c = chr(b)
        piece = ("\\" + c if c in '"\\' else c) if 0x20 <= b < 0x7F and c != "?" else f"\\{b:03o}"
        if len(cur) + len(piece) > 92:
            lines.append(indent + '"' + cur + '"')
            cur = ""
        cur += piece
    lines.append(indent + '"' + cur + '"sv')
    return "\n".join(lines)


def ids_list(ids):
    return [str(i) for i in ids]


def braced(items, indent, width=100):
    """{a, b, c} packed into lines of at most `width` columns, continuation lines at `indent`."""
    lines, cur = [], "{"
    for k, item in enumerate(items):
        piece = item + (", " if k + 1 < len(items) else "")
        if len(cur) + len(piece.rstrip()) + indent > width - 2 and cur not in ("{", ""):
            lines.append(cur.rstrip())
            cur = " "
        cur += piece
    lines.append(cur + "}")
    return ("\n" + " " * indent).join(lines)


def case(*fields, indent=6, width=100):
    """One table row: {field, field, ...}, on one line when it fits, else a field per line."""
    flat = [f if isinstance(f, str) else "{" + ", ".join(f) + "}" for f in fields]
    one = " " * indent + "{" + ", ".join(flat) + "},"
    if len(one) <= width:
        return one
    parts = [f if isinstance(f, str) else braced(f, indent + 1, width) for f in fields]
    return " " * indent + "{" + (",\n" + " " * (indent + 1)).join(parts) + "},"


def parse_special_encode(sp, text):
    """volt's parse_special=true: CONTROL and UNKNOWN piece texts split out (longest first),
    each stretch between them encoded by sentencepiece as a whole text."""
    specials = sorted(((sp.id_to_piece(i), i) for i in range(sp.vocab_size())
                       if sp.is_control(i) or sp.is_unknown(i)), key=lambda p: -len(p[0]))
    out, start, i = [], 0, 0
    while i < len(text):
        for piece, pid in specials:
            if text.startswith(piece, i):
                out += sp.encode(text[start:i]) + [pid]
                i += len(piece)
                start = i
                break
        else:
            i += 1
    return out + sp.encode(text[start:])


def fnv1a(ids):
    h = 0xCBF29CE484222325
    for i in ids:
        for b in int(i).to_bytes(8, "little", signed=True):
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def train(**kwargs):
    random.seed(3)
    lines = [" ".join(random.choice(TINY_CORPUS_WORDS) for _ in range(random.randint(1, 12)))
             for _ in range(3000)]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model,
                                   num_threads=1, minloglevel=2, hard_vocab_limit=False, **kwargs)
    m = pb.ModelProto()
    m.ParseFromString(model.getvalue())
    # Only what encoding reads, so that the embedded bytes stay small.
    keep = pb.TrainerSpec()
    for f in ("model_type", "vocab_size", "byte_fallback", "unk_id", "bos_id", "eos_id", "pad_id",
              "treat_whitespace_as_suffix"):
        setattr(keep, f, getattr(m.trainer_spec, f))
    m.trainer_spec.CopyFrom(keep)
    m.normalizer_spec.normalization_rule_tsv = ""
    m.denormalizer_spec.normalization_rule_tsv = ""
    return m


def tiny_models():
    rules = "/tmp/spm_expected_rules"
    os.makedirs(rules, exist_ok=True)
    with open(os.path.join(rules, "norm.tsv"), "w") as f:
        f.write(NORM_TSV)
    with open(os.path.join(rules, "denorm.tsv"), "w") as f:
        f.write(DENORM_TSV)
    uni = train(model_type="unigram", vocab_size=40,
                normalization_rule_tsv=os.path.join(rules, "norm.tsv"),
                denormalization_rule_tsv=os.path.join(rules, "denorm.tsv"),
                user_defined_symbols=["<sep>"], control_symbols=["<cls>"])
    # UNUSED pieces are skipped by the unigram search.
    for p in uni.pieces:
        if p.piece in ("▁a", "ou"):
            p.type = pb.ModelProto.SentencePiece.UNUSED
    bpe = train(model_type="bpe", vocab_size=60, normalization_rule_name="identity",
                user_defined_symbols=["<sep>", "b▁a"], control_symbols=["<cls>"])
    # UNUSED BPE pieces still merge, then are split back into the pair that formed them.
    for p in bpe.pieces:
        if p.piece in ("▁the", "at", "▁ca"):
            p.type = pb.ModelProto.SentencePiece.UNUSED
    return [("Unigram", uni), ("Bpe", bpe), ("Ties", ties_model())]


def ties_model():
    """A hand-made unigram model whose segmentations tie exactly ("▁ab"+"a" = "▁a"+"ba" = ...),
    with a user-defined symbol (scored length * max_score - 0.1) and an UNUSED piece."""
    m = pb.ModelProto()
    T = pb.ModelProto.SentencePiece
    for text, score, kind in [("<unk>", 0, T.UNKNOWN), ("<s>", 0, T.CONTROL),
                              ("</s>", 0, T.CONTROL),
                              ("▁", -1, T.NORMAL), ("a", -1, T.NORMAL), ("b", -1, T.NORMAL),
                              ("ab", -2, T.NORMAL), ("ba", -2, T.NORMAL), ("▁a", -2, T.NORMAL),
                              ("▁ab", -3, T.NORMAL), ("bab", -3.5, T.NORMAL),
                              ("<u>", 0, T.USER_DEFINED), ("abab", 0, T.UNUSED)]:
        p = m.pieces.add()
        p.piece, p.score, p.type = text, score, kind
    m.trainer_spec.model_type = pb.TrainerSpec.UNIGRAM
    m.normalizer_spec.name = "identity"
    m.normalizer_spec.add_dummy_prefix = True
    m.normalizer_spec.remove_extra_whitespaces = False
    return m


def processor(m):
    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(m.SerializeToString())
    return sp


def generate(data):
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "python3-sentencepiece"],
                             capture_output=True, text=True).stdout.strip() or spm.__version__
    llama = os.path.join(data, "tokenizers/llama2/tokenizer.model")
    sp = spm.SentencePieceProcessor(model_file=llama)
    out = [f"// BEGIN GENERATED by scripts/spm_expected.py from sentencepiece {version}; "
           "do not edit.",
           "", "const std::vector<SpmCase>& llama2_cases() {",
           "  static const std::vector<SpmCase> cases = {"]
    for s in LLAMA_STRINGS:
        ids = sp.encode(s)
        out.append(case(cpp_str(s), ids_list(ids), cpp_str(sp.decode(ids))))
    out += ["  };", "  return cases;", "}", "",
            "// parse_special=true (see the script for the rule).",
            "const std::vector<SpmCase>& llama2_special_cases() {",
            "  static const std::vector<SpmCase> cases = {"]
    for s in LLAMA_STRINGS:
        if "<" in s:
            ids = parse_special_encode(sp, s)
            out.append(case(cpp_str(s), ids_list(ids), cpp_str(sp.decode(ids))))
    out += ["  };", "  return cases;", "}", "",
            "const std::vector<SpmDecodeCase>& llama2_decode_cases() {",
            "  static const std::vector<SpmDecodeCase> cases = {"]
    for ids in LLAMA_DECODES:
        out.append(case(ids_list(ids), cpp_str(sp.decode(ids))))
    out += ["  };", "  return cases;", "}", ""]
    with open(os.path.join(data, "corpora/tinyshakespeare/input.txt"), encoding="utf-8") as f:
        shakespeare = f.read()
    ids = sp.encode(shakespeare)
    out += [f"constexpr size_t kShakespeareIdCount = {len(ids)};",
            f"constexpr uint64_t kShakespeareIdHash = 0x{fnv1a(ids):016x}ull;  "
            "// FNV-1a over int64 LE", ""]
    for name, m in tiny_models():
        tiny = processor(m)
        data_bytes = m.SerializeToString()
        out.append(f"// {len(data_bytes)} bytes.")
        out.append(f"constexpr std::string_view kTiny{name}Model =")
        out.append(cpp_bytes(data_bytes) + ";")
        out += ["", f"const std::vector<SpmPiecesCase>& tiny_{name.lower()}_cases() {{",
                "  static const std::vector<SpmPiecesCase> cases = {"]
        for s in TIES_STRINGS if name == "Ties" else TINY_STRINGS:
            ids = tiny.encode(s)
            pieces = [cpp_str(p) for p in tiny.encode_as_pieces(s)]
            out.append(case(cpp_str(s), ids_list(ids), pieces, cpp_str(tiny.decode(ids))))
        out += ["  };", "  return cases;", "}", ""]
    out.append("// END GENERATED")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("VOLT_DATA_DIR", "/work/shared/data"))
    ap.add_argument("--write", action="store_true", help="replace the block in the test file")
    args = ap.parse_args()
    block = generate(args.data)
    if not args.write:
        sys.stdout.write(block)
        return
    src = open(TEST, encoding="utf-8").read()
    begin = src.index("// BEGIN GENERATED")
    end = src.index("// END GENERATED\n") + len("// END GENERATED\n")
    with open(TEST, "w", encoding="utf-8") as f:
        f.write(src[:begin] + block + src[end:])


if __name__ == "__main__":
    main()
