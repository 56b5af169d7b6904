// Reads a SentencePiece .model file: a serialized sentencepiece.ModelProto (proto2), decoded by
// hand so that volt needs no protobuf library. Field numbers are sentencepiece_model.proto's.
// Every read is bounds-checked: a truncated or corrupt file is an error naming the byte offset,
// never a crash. Fields we do not read are skipped by wire type, as protobuf itself skips them.
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "volt/core/check.h"
#include "volt/tokenizers/sentencepiece.h"

namespace volt::spm {

namespace {

enum WireType : int {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5
};

// A cursor over one message. `base` is the message's offset in the file, so that errors in
// nested messages still name an absolute byte offset.
class Reader {
 public:
  Reader(std::string_view bytes, size_t base, const std::string& file)
      : bytes_(bytes), base_(base), file_(file) {}

  bool done() const { return pos_ >= bytes_.size(); }
  size_t offset() const { return base_ + pos_; }

  uint64_t varint() {
    const size_t start = pos_;
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      VOLT_CHECK(pos_ < bytes_.size(), "[sentencepiece] ", file_, ": truncated varint at byte ",
                 base_ + start);
      const auto b = static_cast<unsigned char>(bytes_[pos_++]);
      value |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return value;
    }
    VOLT_FAIL("[sentencepiece] ", file_, ": varint longer than 10 bytes at byte ", base_ + start);
  }

  /// A field key: {field number, wire type}.
  std::pair<uint32_t, int> key() {
    const size_t at = offset();
    field_at_ = at;
    const uint64_t k = varint();
    const uint64_t field = k >> 3;
    VOLT_CHECK(field >= 1 && field <= 0x1FFFFFFF, "[sentencepiece] ", file_,
               ": invalid field number ", field, " at byte ", at);
    return {static_cast<uint32_t>(field), static_cast<int>(k & 7)};
  }

  std::string_view bytes(uint32_t field) {
    const size_t at = field_at_;
    const uint64_t n = varint();
    VOLT_CHECK(n <= bytes_.size() - pos_, "[sentencepiece] ", file_, ": field ", field, " at byte ",
               at, " claims ", n, " bytes but only ", bytes_.size() - pos_,
               " remain (truncated file?)");
    const std::string_view out = bytes_.substr(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return out;
  }

  float fixed32(uint32_t field) {
    VOLT_CHECK(bytes_.size() - pos_ >= 4, "[sentencepiece] ", file_, ": field ", field, " at byte ",
               field_at_, " (4 bytes) is truncated");
    uint32_t u = 0;
    for (int i = 3; i >= 0; --i) u = (u << 8) | static_cast<unsigned char>(bytes_[pos_ + i]);
    pos_ += 4;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }

  /// Skips a field we do not read (or one whose wire type is not the one we expect, which
  /// protobuf also treats as an unknown field).
  void skip(uint32_t field, int wire, int depth = 0) {
    const size_t at = field_at_;
    switch (wire) {
      case kVarint:
        varint();
        return;
      case kFixed64:
        VOLT_CHECK(bytes_.size() - pos_ >= 8, "[sentencepiece] ", file_, ": field ", field,
                   " at byte ", at, " (8 bytes) is truncated");
        pos_ += 8;
        return;
      case kLengthDelimited:
        bytes(field);
        return;
      case kFixed32:
        fixed32(field);
        return;
      case kStartGroup: {
        // Deprecated proto2 groups: skip fields up to the matching end-group key.
        VOLT_CHECK(depth < 64, "[sentencepiece] ", file_, ": groups nested too deeply at byte ",
                   at);
        for (;;) {
          VOLT_CHECK(!done(), "[sentencepiece] ", file_, ": group ", field, " opened at byte ", at,
                     " is never closed");
          const auto [f, w] = key();
          if (w == kEndGroup) {
            VOLT_CHECK(f == field, "[sentencepiece] ", file_, ": group ", field, " opened at byte ",
                       at, " is closed as group ", f);
            return;
          }
          skip(f, w, depth + 1);
        }
      }
      case kEndGroup:
        VOLT_FAIL("[sentencepiece] ", file_, ": unexpected end of group ", field, " at byte ", at);
      default:
        VOLT_FAIL("[sentencepiece] ", file_, ": invalid wire type ", wire, " for field ", field,
                  " at byte ", at, " (not a SentencePiece model?)");
    }
  }

  Reader sub(std::string_view body) const {
    return Reader(body, static_cast<size_t>(body.data() - file_begin()), file_);
  }

 private:
  const char* file_begin() const { return bytes_.data() - base_; }

  std::string_view bytes_;
  size_t base_;
  size_t pos_ = 0;
  size_t field_at_ = 0;  // where the last key began: errors name the field's start
  const std::string& file_;
};

// proto2 int32 fields are varints of the sign-extended 64-bit value.
int32_t as_int32(uint64_t v) { return static_cast<int32_t>(static_cast<int64_t>(v)); }

void parse_piece(Reader r, Piece& p) {
  while (!r.done()) {
    const auto [field, wire] = r.key();
    if (field == 1 && wire == kLengthDelimited) {
      p.text = std::string(r.bytes(field));
    } else if (field == 2 && wire == kFixed32) {
      p.score = r.fixed32(field);
    } else if (field == 3 && wire == kVarint) {
      // proto2 keeps an enum value it does not know out of the field: the type stays as it was.
      const int32_t t = as_int32(r.varint());
      if (t >= 1 && t <= 6) p.type = static_cast<PieceType>(t);
    } else {
      r.skip(field, wire);
    }
  }
}

void parse_trainer_spec(Reader r, TrainerSpec& t) {
  while (!r.done()) {
    const auto [field, wire] = r.key();
    if (wire == kVarint &&
        (field == 3 || field == 24 || field == 26 || field == 35 || (field >= 40 && field <= 43))) {
      const uint64_t v = r.varint();
      switch (field) {
        case 3:
          if (v >= 1 && v <= 4) t.model_type = static_cast<ModelType>(v);
          break;
        case 24:
          t.treat_whitespace_as_suffix = v != 0;
          break;
        case 26:
          t.allow_whitespace_only_pieces = v != 0;
          break;
        case 35:
          t.byte_fallback = v != 0;
          break;
        case 40:
          t.unk_id = as_int32(v);
          break;
        case 41:
          t.bos_id = as_int32(v);
          break;
        case 42:
          t.eos_id = as_int32(v);
          break;
        case 43:
          t.pad_id = as_int32(v);
          break;
      }
    } else if (wire == kLengthDelimited && field >= 44 && field <= 48) {
      std::string s(r.bytes(field));
      switch (field) {
        case 44:
          t.unk_surface = std::move(s);
          break;
        case 45:
          t.unk_piece = std::move(s);
          break;
        case 46:
          t.bos_piece = std::move(s);
          break;
        case 47:
          t.eos_piece = std::move(s);
          break;
        case 48:
          t.pad_piece = std::move(s);
          break;
      }
    } else {
      r.skip(field, wire);
    }
  }
}

void parse_normalizer_spec(Reader r, NormalizerSpec& n) {
  while (!r.done()) {
    const auto [field, wire] = r.key();
    if (field == 1 && wire == kLengthDelimited) {
      n.name = std::string(r.bytes(field));
    } else if (field == 2 && wire == kLengthDelimited) {
      n.precompiled_charsmap = std::string(r.bytes(field));
    } else if (field >= 3 && field <= 5 && wire == kVarint) {
      const bool v = r.varint() != 0;
      (field == 3   ? n.add_dummy_prefix
       : field == 4 ? n.remove_extra_whitespaces
                    : n.escape_whitespaces) = v;
    } else {
      r.skip(field, wire);
    }
  }
}

}  // namespace

ModelProto parse_model_proto(std::string_view bytes, const std::string& file) {
  ModelProto m;
  Reader r(bytes, 0, file);
  while (!r.done()) {
    const auto [field, wire] = r.key();
    if (wire != kLengthDelimited || field < 1 || field > 5 || field == 4) {
      r.skip(field, wire);  // self_test_data (4) and extensions are not needed to encode
      continue;
    }
    const std::string_view body = r.bytes(field);
    // A sub-message seen twice is merged, as protobuf merges it.
    switch (field) {
      case 1:
        m.pieces.emplace_back();
        parse_piece(r.sub(body), m.pieces.back());
        break;
      case 2:
        parse_trainer_spec(r.sub(body), m.trainer_spec);
        break;
      case 3:
        parse_normalizer_spec(r.sub(body), m.normalizer_spec);
        break;
      case 5:
        m.has_denormalizer_spec = true;
        parse_normalizer_spec(r.sub(body), m.denormalizer_spec);
        break;
    }
  }
  return m;
}

// ------------------------------------------------------------------------ precompiled charsmap

// Blob layout (normalizer.cc, EncodePrecompiledCharsMap): a little-endian uint32 trie size, the
// Darts-clone double array (uint32 units), then the NUL-terminated replacement strings.
PrecompiledCharsMap::PrecompiledCharsMap(std::string_view blob, const std::string& file) {
  VOLT_CHECK(blob.size() > 4, "[sentencepiece] ", file, ": precompiled_charsmap is only ",
             blob.size(), " bytes");
  uint32_t trie_size = 0;
  for (int i = 3; i >= 0; --i) trie_size = (trie_size << 8) | static_cast<unsigned char>(blob[i]);
  VOLT_CHECK(trie_size <= blob.size() - 4 && trie_size % 4 == 0, "[sentencepiece] ", file,
             ": precompiled_charsmap trie size ", trie_size, " does not fit its ", blob.size(),
             "-byte blob");
  read(blob, trie_size / 4);
}

PrecompiledCharsMap PrecompiledCharsMap::from_checked(std::string_view blob, size_t trie_units) {
  PrecompiledCharsMap m;
  m.read(blob, trie_units);
  return m;
}

void PrecompiledCharsMap::read(std::string_view blob, size_t trie_units) {
  units_.resize(trie_units);
  for (size_t i = 0; i < units_.size(); ++i) {
    const auto* p = reinterpret_cast<const unsigned char*>(blob.data() + 4 + 4 * i);
    units_[i] = static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
                static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
  }
  normalized_ = std::string(blob.substr(4 + 4 * trie_units));
  normalized_.push_back('\0');  // a last replacement missing its terminator stops here
}

template <typename Hit>
void PrecompiledCharsMap::prefix_search(std::string_view s, Hit hit) const {
  const auto offset = [](uint32_t u) -> size_t { return (u >> 10) << ((u & (1u << 9)) >> 6); };
  const auto label = [](uint32_t u) { return u & ((1u << 31) | 0xFFu); };
  if (units_.empty()) return;
  size_t node = offset(units_[0]);
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0) return;  // keys are NUL-terminated: none continues past a NUL
    node ^= c;
    if (node >= units_.size()) return;
    const uint32_t unit = units_[node];
    if (label(unit) != c) return;
    node ^= offset(unit);
    if ((unit >> 8) & 1u) {
      if (node >= units_.size()) return;
      if (!hit(i + 1, units_[node] & 0x7FFFFFFFu)) return;
    }
  }
}

std::pair<size_t, std::string_view> PrecompiledCharsMap::longest_match(std::string_view s) const {
  size_t best_len = 0;
  uint32_t best_value = 0;
  prefix_search(s, [&](size_t len, uint32_t value) {
    best_len = len;
    best_value = value;
    return true;
  });
  if (best_len == 0 || best_value >= normalized_.size()) return {0, {}};
  return {best_len, std::string_view(normalized_.c_str() + best_value)};
}

std::optional<std::string_view> PrecompiledCharsMap::first_match(std::string_view s) const {
  std::optional<std::string_view> out;
  prefix_search(s, [&](size_t, uint32_t value) {
    if (value < normalized_.size()) out = std::string_view(normalized_.c_str() + value);
    return false;
  });
  return out;
}

}  // namespace volt::spm
