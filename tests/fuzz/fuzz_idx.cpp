// libFuzzer target for the IDX reader (datasets::read_idx). The reader takes a path, so each
// input is written to an in-memory file (memfd) and read back through /proc/self/fd: no disk
// traffic. Every input must either load or throw tg::Error; anything else (a crash, a sanitizer
// report, another exception type, an allocation above -malloc_limit_mb) is a finding.
//
// Oracle for plain (non-gzip) inputs that load: the file is exactly header + sizes + data, so
// 4 + 4 * rank + numel * element size must equal the input size.
#include <sys/mman.h>
#include <unistd.h>

#include <tapegrad/datasets/idx.h>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

std::size_t idx_element_size(std::uint8_t code) {
  switch (code) {
    case 0x08:
    case 0x09:
      return 1;
    case 0x0B:
      return 2;
    case 0x0C:
    case 0x0D:
      return 4;
    case 0x0E:
      return 8;
    default:
      return 0;
  }
}

int memfd() {
  static const int fd = ::memfd_create("fuzz_idx", 0);
  if (fd < 0) std::abort();
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int fd = memfd();
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size))
    std::abort();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    const tg::Tensor t = tg::datasets::read_idx(path);
    const bool gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    if (!gzip) {
      const std::size_t expect = 4 + 4 * static_cast<std::size_t>(t.dim()) +
                                 static_cast<std::size_t>(t.numel()) * idx_element_size(data[2]);
      if (expect != size) {
        std::fprintf(stderr, "read_idx accepted %zu bytes but the tensor accounts for %zu\n", size,
                     expect);
        std::abort();
      }
    }
  } catch (const tg::Error&) {
    // A clean refusal is the expected outcome for malformed files.
  }
  return 0;
}
