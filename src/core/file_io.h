// Writing a whole file at once, for the spill and the file destination. Header-only.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include "core/result.h"

namespace elk {

// The text of an errno value ("No space left on device").
inline std::string errno_text(int err) {
  return std::system_category().message(err);
}

// Creates `path` with `mode` and writes `data` to it; `flags` add to O_WRONLY | O_CREAT | O_CLOEXEC (O_EXCL: the
// file must be new; O_TRUNC: one there is replaced). On any failure, the close included, what was written is
// removed, so that no partial file is left to be read as a whole one.
inline Status write_file(const std::filesystem::path& path, std::string_view data, int flags, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | flags, mode);
  if (fd < 0) return fail("cannot create " + path.string() + ": " + errno_text(errno));
  while (!data.empty()) {
    const auto n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      ::unlink(path.c_str());
      return fail("cannot write " + path.string() + ": " + errno_text(err));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return fail("cannot write " + path.string() + ": " + errno_text(err));
  }
  return {};
}

}  // namespace elk
