#include "tapegrad/core/detail/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "tapegrad/core/error.h"

namespace tg {
namespace fs = std::filesystem;

namespace {

std::string errno_text() { return std::strerror(errno); }

// Built stepwise: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
std::string quoted(const fs::path& p) {
  std::string s(1, '\'');
  s += p.native();
  s += '\'';
  return s;
}

constexpr int kMaxSymlinkHops = 40;  // as the kernel's own limit (ELOOP)

// Follows `path` through symbolic links to the file a write should replace. `exists` tells
// whether that file exists; `st` is its status then.
fs::path resolve_target(const fs::path& path, const char* op, bool& exists, struct stat& st) {
  fs::path p = path;
  for (int hop = 0;; ++hop) {
    if (::lstat(p.c_str(), &st) != 0) {
      TG_CHECK(errno == ENOENT, op, ": cannot inspect ", quoted(p), " (lstat): ", errno_text());
      exists = false;
      return p;
    }
    if (!S_ISLNK(st.st_mode)) {
      exists = true;
      return p;
    }
    TG_CHECK(hop < kMaxSymlinkHops, op, ": ", quoted(path), ": more than ", kMaxSymlinkHops,
             " levels of symbolic links");
    std::string link(static_cast<std::size_t>(PATH_MAX), '\0');
    const ssize_t n = ::readlink(p.c_str(), link.data(), link.size());
    TG_CHECK(n >= 0, op, ": cannot read the symbolic link ", quoted(p), ": ", errno_text());
    link.resize(static_cast<std::size_t>(n));
    const fs::path next = link;
    p = next.is_absolute() ? next : p.parent_path() / next;
  }
}

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

void write_atomic(const fs::path& path, const std::function<void(const detail::WriteChunk&)>& body,
                  const char* op) {
  TG_CHECK(!path.empty(), op, ": the path is empty");
  bool exists = false;
  struct stat st {};
  const fs::path target = resolve_target(path, op, exists, st);
  const std::string via = target == path ? "" : " (the target of the link " + quoted(path) + ")";
  if (exists) {
    TG_CHECK(!S_ISDIR(st.st_mode), op, ": ", quoted(target), via, " is a directory");
    TG_CHECK(S_ISREG(st.st_mode), op, ": ", quoted(target), via, " is ",
             detail::file_type_name(st.st_mode), ", not a regular file; refusing to replace it");
  }
  TG_CHECK(target.has_filename(), op, ": ", quoted(target), " names no file");
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const long limit = ::pathconf(dir.c_str(), _PC_NAME_MAX);
  const std::string tmpname =
      detail::temp_name_for(target.filename().string(), limit > 0 ? std::size_t(limit) : NAME_MAX);
  std::string tmpl = (dir / tmpname).string();
  const int fd = ::mkstemp(tmpl.data());
  TG_CHECK(fd >= 0, op, ": cannot create a temporary file in ", quoted(dir), " for ",
           quoted(target), via, ": ", errno_text());
  const fs::path tmp = tmpl;
  try {
    // mkstemp makes the file private (0600); give it the target's mode, or an ordinary 0644.
    ::fchmod(fd, exists ? (st.st_mode & 07777) : 0644);
    body([&](const char* data, std::size_t n) {
      while (n > 0) {
        const ssize_t w = ::write(fd, data, n);
        if (w < 0 && errno == EINTR) continue;
        TG_CHECK(w > 0, op, ": writing ", quoted(target), via, " failed (temporary ", quoted(tmp),
                 "): ", w == 0 ? "no progress" : errno_text());
        data += w;
        n -= static_cast<std::size_t>(w);
      }
    });
    TG_CHECK(::fsync(fd) == 0, op, ": flushing ", quoted(target), " to disk failed (temporary ",
             quoted(tmp), "): ", errno_text());
    const int closed = ::close(fd);
    TG_CHECK(closed == 0, op, ": closing the temporary ", quoted(tmp), " failed: ", errno_text());
  } catch (...) {
    ::close(fd);  // may already be closed; harmless
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw Error(detail::concat(op, ": cannot rename the temporary file to ", quoted(target), via,
                               ": ", why));
  }
  // Make the rename itself durable.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace

namespace detail {

std::string temp_name_for(const std::string& name, std::size_t name_max) {
  static constexpr std::string_view kSuffix = ".tmp.XXXXXX";
  std::string out(1, '.');
  if (1 + name.size() + kSuffix.size() <= name_max) return out.append(name).append(kSuffix);
  // ".<head>~<16 hex digits>.tmp.XXXXXX": a prefix of the name (cut at a UTF-8 character
  // boundary) and a hash of the whole name, so two long names sharing the prefix still differ.
  static constexpr std::size_t kHash = 17;
  const std::size_t room =
      name_max > 1 + kHash + kSuffix.size() + 1 ? name_max - 1 - kHash - kSuffix.size() : 1;
  std::size_t keep = std::min(room, name.size());
  while (keep > 0 && (static_cast<unsigned char>(name[keep]) & 0xC0) == 0x80) --keep;
  char hash[kHash + 1];
  std::snprintf(hash, sizeof hash, "~%016llx", static_cast<unsigned long long>(fnv1a(name)));
  return out.append(name, 0, keep).append(hash).append(kSuffix);
}

const char* file_type_name(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "a special file";
}

void write_file_atomic_with(const fs::path& path,
                            const std::function<void(const WriteChunk&)>& body, const char* op) {
  // std::filesystem and allocations must not escape as anything but tg::Error.
  try {
    write_atomic(path, body, op);
  } catch (const fs::filesystem_error& e) {
    throw Error(concat(op, ": ", quoted(path), ": ", e.code().message()));
  } catch (const std::bad_alloc&) {
    throw Error(concat(op, ": ", quoted(path), ": out of memory"));
  }
}

InputFile::InputFile(const fs::path& path, std::string where) : where_(std::move(where)) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  TG_CHECK(fd_ >= 0, where_, ": cannot open the file: ", errno_text());
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const std::string why = errno_text();
    ::close(fd_);
    throw Error(concat(where_, ": cannot inspect the file (fstat): ", why));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw Error(concat(where_, ": is ", file_type_name(st.st_mode),
                       ", not a regular file; refusing to read it"));
  }
  // A regular file never blocks; clear the flag anyway so reads behave ordinarily.
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
  size_ = static_cast<std::uint64_t>(st.st_size);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t InputFile::read(void* dst, std::size_t n) {
  auto* p = static_cast<char*>(dst);
  std::size_t done = 0;
  while (done < n) {
    const ssize_t r = ::read(fd_, p + done, n - done);
    if (r < 0 && errno == EINTR) continue;
    TG_CHECK(r >= 0, where_, ": read failed: ", errno_text());
    if (r == 0) break;
    done += static_cast<std::size_t>(r);
  }
  return done;
}

void InputFile::read_at(std::uint64_t offset, void* dst, std::size_t n) {
  auto* p = static_cast<char*>(dst);
  std::size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd_, p + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    TG_CHECK(r >= 0, where_, ": read of ", n, " bytes at offset ", offset,
             " failed: ", errno_text());
    TG_CHECK(r > 0, where_, ": read of ", n, " bytes at offset ", offset,
             " hit the end of the file (did it shrink while being read?)");
    done += static_cast<std::size_t>(r);
  }
}

void InputFile::rewind() {
  TG_CHECK(::lseek(fd_, 0, SEEK_SET) == 0, where_, ": cannot seek to the start: ", errno_text());
}

}  // namespace detail

void write_file_atomic(const fs::path& path, std::string_view bytes) {
  detail::write_file_atomic_with(
      path, [&](const detail::WriteChunk& write) { write(bytes.data(), bytes.size()); },
      "write_file_atomic");
}

}  // namespace tg
