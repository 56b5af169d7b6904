#include "volt/core/check.h"

#include <cerrno>
#include <cstring>

namespace volt {

std::string errno_message(int err) {
  return err == ENOENT ? std::string("no such file") : std::string(std::strerror(err));
}

}  // namespace volt
