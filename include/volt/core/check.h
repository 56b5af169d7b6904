// Errors: every check names the offending file, key or value, prefixed with the operation,
// e.g. "[safetensors] model.safetensors: tensor 'wte.weight' wants 589824 bytes, has 512".
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace volt {

/// The one exception type volt throws for bad input or a failed precondition. The CLI prints
/// what() as one line on stderr and exits with exit_code() (2: bad input or usage).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, int exit_code = 2)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

namespace detail {
template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

/// Builds a message from its parts: volt::str("[config] ", file, ": key '", key, "'").
template <typename... Args>
std::string str(Args&&... args) {
  return detail::concat(std::forward<Args>(args)...);
}

/// An errno value in words for messages: "no such file" for the common case, else the C library's.
std::string errno_message(int err);

}  // namespace volt

/// VOLT_CHECK(cond, parts...): throws volt::Error with the concatenated parts when cond is false.
#define VOLT_CHECK(cond, ...)                                  \
  do {                                                         \
    if (!(cond)) throw ::volt::Error(::volt::str(__VA_ARGS__)); \
  } while (0)

/// VOLT_FAIL(parts...): throws volt::Error unconditionally.
#define VOLT_FAIL(...) throw ::volt::Error(::volt::str(__VA_ARGS__))
