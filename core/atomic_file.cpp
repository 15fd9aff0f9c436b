#include "tapegrad/core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "tapegrad/core/error.h"

namespace tg {
namespace fs = std::filesystem;

namespace {
std::string errno_text() { return std::strerror(errno); }
}  // namespace

namespace detail {
void write_file_atomic_with(const fs::path& path,
                            const std::function<void(const WriteChunk&)>& body, const char* op) {
  TG_CHECK(!path.empty(), op, ": the path is empty");
  TG_CHECK(!fs::is_directory(path), op, ": '", path.string(), "' is a directory");
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  // Hidden, unique name beside the target (built stepwise: GCC 12 warns falsely on "." + str).
  std::string tmpl = path.filename().string();
  tmpl.insert(0, 1, '.');
  tmpl.append(".tmp.XXXXXX");
  tmpl = (dir / tmpl).string();
  const int fd = ::mkstemp(tmpl.data());
  TG_CHECK(fd >= 0, op, ": cannot create a temporary file in '", dir.string(), "': ", errno_text());
  const fs::path tmp = tmpl;
  try {
    // mkstemp makes the file private (0600); give it the target's mode, or an ordinary 0644.
    struct stat st {};
    const mode_t mode = ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
    ::fchmod(fd, mode);
    body([&](const char* data, std::size_t n) {
      while (n > 0) {
        const ssize_t w = ::write(fd, data, n);
        if (w < 0 && errno == EINTR) continue;
        TG_CHECK(w > 0, op, ": writing '", tmp.string(), "' failed: ", errno_text());
        data += w;
        n -= static_cast<std::size_t>(w);
      }
    });
    TG_CHECK(::fsync(fd) == 0, op, ": flushing '", tmp.string(), "' failed: ", errno_text());
    const int closed = ::close(fd);
    TG_CHECK(closed == 0, op, ": closing '", tmp.string(), "' failed: ", errno_text());
  } catch (...) {
    ::close(fd);  // may already be closed; harmless
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw Error(
        detail::concat(op, ": cannot rename the temporary file to '", path.string(), "': ", why));
  }
  // Make the rename itself durable.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}
}  // namespace detail

void write_file_atomic(const fs::path& path, std::string_view bytes) {
  detail::write_file_atomic_with(
      path, [&](const detail::WriteChunk& write) { write(bytes.data(), bytes.size()); },
      "write_file_atomic");
}

}  // namespace tg
