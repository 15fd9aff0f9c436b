// Inputs the fuzzers (tests/fuzz) found to crash, kept as regression tests: each file in
// tests/fuzz/regressions/ must load cleanly or be refused with a tg::Error, never crash or trip a
// sanitizer. Run under ASan + UBSan by .ci/sanitize.sh, where the original bugs were reported.
// Every seed corpus file is replayed too, so the checked-in corpora stay loadable/refusable.
// Each check runs in a forked child, so a crash fails that check (with the sanitizer report
// above it) instead of aborting the whole suite.
#define BOOST_TEST_MODULE fuzz_regressions
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#include "run_in_child.h"

using namespace tg;
namespace fs = std::filesystem;

namespace {

const fs::path kFuzzDir = fs::path(__FILE__).parent_path() / "fuzz";

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// "" when `f` ran or threw a tg::Error whose message holds `where`, else what went wrong.
template <typename F>
std::string clean(F&& f, const std::string& where) {
  try {
    f();
  } catch (const Error& e) {
    const std::string msg = e.what();
    return msg.find(where) != std::string::npos ? "" : "message lacks '" + where + "': " + msg;
  }
  return "";
}

// Runs `check` (which returns "" when all is well, else what is wrong) in a forked child and
// returns its verdict, or how the child died.
std::string isolated(const std::function<std::string()>& check) {
  return tg::testing::run_in_child([&]() -> std::string {
           try {
             return check();
           } catch (const std::exception& e) {
             return std::string("unexpected exception: ") + e.what();
           }
         })
      .text;
}

// Loads `file` with the reader its extension names; "" when it loaded or was refused cleanly.
std::string replay(const fs::path& file) {
  if (file.extension() == ".idx" || file.extension() == ".gz")
    return clean([&] { datasets::read_idx(file); }, "read_idx");
  const std::string from_file = clean([&] { load(file); }, "load");
  if (!from_file.empty()) return from_file;
  return clean([&] { from_safetensors(read_bytes(file)); }, "from_safetensors");
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_regression_and_seed_input_is_handled_cleanly) {
  int n = 0;
  for (const char* dir : {"regressions", "corpus_idx", "corpus_safetensors"})
    for (const auto& e : fs::directory_iterator(kFuzzDir / dir)) {
      BOOST_TEST_CONTEXT("input " << dir << "/" << e.path().filename().string()) {
        const std::string verdict = isolated([&] { return replay(e.path()); });
        BOOST_TEST(verdict.empty(), verdict);
      }
      ++n;
    }
  BOOST_TEST(n >= 20);
}

// fuzz_idx: sizes [0, 2^32-1, 2^32-1] hold no element, yet the contiguous strides of the
// non-zero dims overflow int64 (signed overflow in contiguous_strides, core/shape.cpp). Loading
// must either give the empty tensor or refuse the shape, with no undefined behaviour.
BOOST_AUTO_TEST_CASE(idx_zero_dim_with_huge_dims) {
  const std::string verdict = isolated([] {
    try {
      const Tensor t = datasets::read_idx(kFuzzDir / "regressions/idx_stride_overflow.idx");
      if (t.numel() != 0 || t.shape() != Shape{0, 4294967295, 4294967295})
        return "wrong tensor of shape " + shape_str(t.shape());
    } catch (const Error& e) {
      if (std::string(e.what()).find("read_idx") == std::string::npos)
        return "message names no reader: " + std::string(e.what());
    }
    return std::string();
  });
  BOOST_TEST(verdict.empty(), verdict);
}

// fuzz_safetensors: the same overflow through a checkpoint header, shape [0, 2^40, 2^40].
BOOST_AUTO_TEST_CASE(safetensors_zero_dim_with_huge_dims) {
  const std::string verdict = isolated([] {
    try {
      const StateDict sd = load(kFuzzDir / "regressions/safetensors_stride_overflow.st");
      if (sd.at("w").numel() != 0) return std::string("tensor 'w' is not empty");
    } catch (const Error& e) {
      if (std::string(e.what()).find("load") == std::string::npos)
        return "message names no reader: " + std::string(e.what());
    }
    return std::string();
  });
  BOOST_TEST(verdict.empty(), verdict);
}

// fuzz_safetensors: an empty tensor ([0, 3]) loads, and comparing it (tg::equal, core/tensor.cpp)
// must not pass the null data pointer of an empty storage to memcmp.
BOOST_AUTO_TEST_CASE(empty_tensor_round_trip_and_equal) {
  const std::string verdict = isolated([] {
    const StateDict sd = load(kFuzzDir / "regressions/safetensors_empty_tensor.st");
    const Tensor e = sd.at("e");
    if (e.shape() != Shape{0, 3}) return "wrong shape " + shape_str(e.shape());
    if (!equal(e, e) || !equal(e, zeros({0, 3}))) return std::string("equal() is false");
    if (equal(e, zeros({0, 4}))) return std::string("equal() ignores the shape");
    const StateDict again = from_safetensors(to_safetensors(sd));
    if (!equal(again.at("e"), e)) return std::string("round trip changed the tensor");
    return std::string();
  });
  BOOST_TEST(verdict.empty(), verdict);
}

// Issue 17: a header nested 100k deep was a SIGSEGV (the error path's JSON dump() recursed once
// per level). Now nesting is capped at 64 while parsing.
BOOST_AUTO_TEST_CASE(safetensors_nested_100k_deep) {
  const std::string verdict = isolated([] {
    const fs::path file = kFuzzDir / "regressions/safetensors_nested_100k.st";
    for (const auto& msg :
         {clean([&] { load(file); }, "nests deeper than 64 levels"),
          clean([&] { from_safetensors(read_bytes(file)); }, "nests deeper than 64 levels")})
      if (!msg.empty()) return msg;
    try {
      load(file);
    } catch (const Error&) {
      return std::string();
    }
    return std::string("loaded");
  });
  BOOST_TEST(verdict.empty(), verdict);
}

// Issue 17's gzip seeds are refused for their reason: a header above the 1 GiB gzip cap, and a
// stream longer than its header declares.
BOOST_AUTO_TEST_CASE(idx_gzip_cap_and_trailing_seeds) {
  const std::string verdict = isolated([] {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"corpus_idx/gzip_above_cap.idx.gz", "above the limit of 1073741824"},
        {"corpus_idx/gzip_longer_than_declared.idx.gz", "trailing garbage"}};
    for (const auto& [name, phrase] : cases) {
      try {
        datasets::read_idx(kFuzzDir / name);
        return name + " loaded";
      } catch (const Error& e) {
        if (std::string(e.what()).find(phrase) == std::string::npos)
          return name + ": message lacks '" + phrase + "': " + e.what();
      }
    }
    return std::string();
  });
  BOOST_TEST(verdict.empty(), verdict);
}
