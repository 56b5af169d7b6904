// Small file helpers shared by every layer: whole-file reads and writes, JSON files, and atomic
// replacement (write to a temporary name, fsync, rename) so readers never see half a file.
#pragma once

#include <nlohmann/json.hpp>

#include "volt/core/atomic_file.h"

#include <string>

namespace volt::io {

// Atomic writes live in core (core/atomic_file.h); io code and its callers use them by these names.
using volt::AtomicFile;
using volt::fsync_dir;
using volt::write_file_atomic;

/// The whole file as bytes; a missing or unreadable file is a volt::Error naming it.
std::string read_file(const std::string& path);

/// Parses a JSON file; bad JSON is a volt::Error with the file and the parser's position.
nlohmann::json read_json(const std::string& path);
/// Writes pretty-printed JSON (2-space indent, trailing newline) atomically.
void write_json(const std::string& path, const nlohmann::json& value);

}  // namespace volt::io
