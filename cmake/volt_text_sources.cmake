# The sources of volt_text (no LibTorch): the main build's library and the fuzzers' (fuzz/).
# Set VOLT_ROOT to the repository root before including.
file(GLOB_RECURSE VOLT_TEXT_SOURCES CONFIGURE_DEPENDS ${VOLT_ROOT}/src/tokenizers/*.cpp)
list(APPEND VOLT_TEXT_SOURCES
  ${VOLT_ROOT}/src/data/corpus.cpp
  ${VOLT_ROOT}/src/data/data_path.cpp
  ${VOLT_ROOT}/src/data/glob.cpp
  ${VOLT_ROOT}/src/data/token_cache.cpp
  ${VOLT_ROOT}/src/data/sampling.cpp
  ${VOLT_ROOT}/src/data/sft_records.cpp
  ${VOLT_ROOT}/src/data/sft_tokenize.cpp
  ${VOLT_ROOT}/src/io/mapped_file.cpp
  ${VOLT_ROOT}/src/io/safetensors_header.cpp
  ${VOLT_ROOT}/src/core/check.cpp
  ${VOLT_ROOT}/src/core/nearest_key.cpp
  ${VOLT_ROOT}/src/core/atomic_file.cpp
  ${VOLT_ROOT}/src/core/sha256.cpp
  ${VOLT_ROOT}/src/io/base64.cpp
  ${VOLT_ROOT}/src/io/files.cpp)
# GGUF (llama.cpp's file format): the container, ggml's number formats, the tokenizer metadata.
list(APPEND VOLT_TEXT_SOURCES
  ${VOLT_ROOT}/src/gguf/ggml_types.cpp
  ${VOLT_ROOT}/src/gguf/gguf_writer.cpp
  ${VOLT_ROOT}/src/gguf/gguf_vocab.cpp)
