// The fuzz targets: each takes arbitrary bytes and drives one parser of untrusted input. A
// volt::Error is the right answer to bad bytes; anything else escaping (another exception, a
// crash, a sanitizer report) is a bug. The same functions replay fuzz/regressions/ in the unit
// tests (tests/fuzz_regressions_test.cpp), so every crash found stays fixed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace volt::fuzz {

/// A safetensors file: the header's length, JSON, dtypes, shapes and offsets.
void safetensors_header(const uint8_t* data, size_t size);
/// A tokenizer.json: the whole pipeline built from it, then an encode and decode of fixed text.
void tokenizer_json(const uint8_t* data, size_t size);
/// A YAML recipe: parsed, overridden, read back as typed values, dumped.
void yaml_config(const uint8_t* data, size_t size);
/// A Hugging Face config.json: read into a ModelConfig, validated, counted, written back.
void hf_config(const uint8_t* data, size_t size);
/// A chat template (Jinja), optionally followed by a NUL byte and a messages JSON array: parsed,
/// rendered, and rendered with assistant spans, under small sandbox limits.
void chat_template(const uint8_t* data, size_t size);

struct Target {
  const char* name;
  void (*run)(const uint8_t*, size_t);
};
const std::vector<Target>& targets();

}  // namespace volt::fuzz
