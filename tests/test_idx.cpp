// The IDX reader on files this test writes byte by byte (plain and gzip, every element type,
// every malformed case), write_idx round trips, and MNIST / Fashion-MNIST loading from a temp
// dir plus, when the Debian package is installed, the real Fashion-MNIST. Hostile files and
// paths (issue 17): gzip bombs, FIFOs, concurrent writers to one path, errors with their cause.
#define BOOST_TEST_MODULE idx
#include <boost/test/unit_test.hpp>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <tapegrad/tapegrad.h>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "error_text.h"
#include "run_in_child.h"
#include "temp_dir.h"

using namespace tg;
using namespace tg::test;
using namespace tg::datasets;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test case, removed afterwards.

using Bytes = std::string;

void put_be(Bytes& b, std::uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

Bytes header(std::uint8_t type, const std::vector<std::uint32_t>& dims) {
  Bytes b{0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (auto d : dims) put_be(b, d, 4);
  return b;
}

void write_bytes(const fs::path& p, const Bytes& b) { std::ofstream(p, std::ios::binary) << b; }

// gzip-compresses `src` into `dst` with the system's gzip (independent of the reader under test).
void gzip_to(const fs::path& src, const fs::path& dst) {
  const std::string cmd = "gzip -c -n '" + src.string() + "' > '" + dst.string() + "'";
  BOOST_REQUIRE(std::system(cmd.c_str()) == 0);
}

Bytes read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

// Writes `b` as name (plain) and name.gz; returns both paths.
std::vector<fs::path> both(const TempDir& dir, const std::string& name, const Bytes& b) {
  write_bytes(dir / name, b);
  gzip_to(dir / name, dir / (name + ".gz"));
  return {dir / name, dir / (name + ".gz")};
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_element_type_plain_and_gzip) {
  TempDir dir;
  {  // ubyte [2, 3] stays uint8
    Bytes b = header(0x08, {2, 3});
    for (int v : {0, 1, 127, 128, 254, 255}) b.push_back(static_cast<char>(v));
    for (const auto& p : both(dir, "u8", b)) {
      Tensor t = read_idx(p);
      BOOST_TEST(t.dtype() == kUInt8);
      BOOST_TEST(t.shape() == (Shape{2, 3}));
      BOOST_TEST(
          t.to_vector<std::int64_t>() == (std::vector<std::int64_t>{0, 1, 127, 128, 254, 255}),
          boost::test_tools::per_element());
    }
  }
  {  // sbyte [4] -> int64 with sign
    Bytes b = header(0x09, {4});
    for (int v : {-128, -1, 0, 127}) b.push_back(static_cast<char>(v));
    for (const auto& p : both(dir, "i8", b)) {
      Tensor t = read_idx(p);
      BOOST_TEST(t.dtype() == kInt64);
      BOOST_TEST(t.to_vector<std::int64_t>() == (std::vector<std::int64_t>{-128, -1, 0, 127}),
                 boost::test_tools::per_element());
    }
  }
  {  // short [2, 2] big-endian -> int64
    Bytes b = header(0x0B, {2, 2});
    for (int v : {-32768, -2, 258, 32767}) put_be(b, static_cast<std::uint16_t>(v), 2);
    for (const auto& p : both(dir, "i16", b)) {
      Tensor t = read_idx(p);
      BOOST_TEST(t.dtype() == kInt64);
      BOOST_TEST(t.shape() == (Shape{2, 2}));
      BOOST_TEST(t.to_vector<std::int64_t>() == (std::vector<std::int64_t>{-32768, -2, 258, 32767}),
                 boost::test_tools::per_element());
    }
  }
  {  // int [3] -> int64, extremes included
    const std::vector<std::int64_t> vals{-2147483648LL, 16909060, 2147483647LL};
    Bytes b = header(0x0C, {3});
    for (auto v : vals) put_be(b, static_cast<std::uint32_t>(static_cast<std::int32_t>(v)), 4);
    BOOST_TEST(b.substr(12, 4) == (Bytes{1, 2, 3, 4}));  // 16909060 = 0x01020304, big-endian
    for (const auto& p : both(dir, "i32", b))
      BOOST_TEST(read_idx(p).to_vector<std::int64_t>() == vals, boost::test_tools::per_element());
  }
  {  // float [1, 2, 1, 2] keeps float32, rank 4
    const std::vector<float> vals{-1.5f, 3.25e10f, 0.1f, -0.0f};
    Bytes b = header(0x0D, {1, 2, 1, 2});
    for (float v : vals) {
      std::uint32_t bits;
      std::memcpy(&bits, &v, 4);
      put_be(b, bits, 4);
    }
    for (const auto& p : both(dir, "f32", b)) {
      Tensor t = read_idx(p);
      BOOST_TEST(t.dtype() == kFloat32);
      BOOST_TEST(t.shape() == (Shape{1, 2, 1, 2}));
      BOOST_TEST(t.to_vector<float>() == vals, boost::test_tools::per_element());
      BOOST_TEST(std::signbit(t.to_vector<float>()[3]));
    }
  }
  {  // double [2] keeps float64
    const std::vector<double> vals{3.141592653589793, -1e-300};
    Bytes b = header(0x0E, {2});
    for (double v : vals) {
      std::uint64_t bits;
      std::memcpy(&bits, &v, 8);
      put_be(b, bits, 8);
    }
    for (const auto& p : both(dir, "f64", b)) {
      Tensor t = read_idx(p);
      BOOST_TEST(t.dtype() == kFloat64);
      BOOST_TEST(t.to_vector<double>() == vals, boost::test_tools::per_element());
    }
  }
  {  // empty dims are fine: [0, 5]
    for (const auto& p : both(dir, "empty", header(0x08, {0, 5}))) {
      Tensor t = read_idx(p);
      BOOST_TEST(t.shape() == (Shape{0, 5}));
    }
  }
}

BOOST_AUTO_TEST_CASE(write_idx_round_trips) {
  TempDir dir;
  const std::vector<Tensor> tensors{
      from_vector(std::vector<std::uint8_t>{3, 0, 255, 7, 9, 1}, {3, 2}),
      from_vector(std::vector<std::int64_t>{-5, 0, 2147483647, -2147483648LL}, {2, 2}),
      from_vector(std::vector<float>{0.5f, -2.25f, 1e-20f}),
      from_vector(std::vector<double>{1.0 / 3.0, -7.0}, {1, 1, 2})};
  for (bool gz : {false, true})
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      std::string name = "t";
      name += std::to_string(i);
      if (gz) name += ".gz";
      const fs::path p = dir / name;
      write_idx(p, tensors[i], gz);
      const Bytes raw = read_bytes(p);
      BOOST_TEST((gz ? (raw[0] == '\x1f' && raw[1] == '\x8b') : (raw[0] == 0 && raw[1] == 0)));
      BOOST_TEST(equal(read_idx(p), tensors[i]));
    }
  // A non-contiguous view is written in its logical order.
  Tensor m = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  write_idx(dir / "t.idx", m.t());
  BOOST_TEST(read_idx(dir / "t.idx").to_vector<float>() == (std::vector<float>{1, 4, 2, 5, 3, 6}),
             boost::test_tools::per_element());
  BOOST_TEST(contains(
      error_of([&] { write_idx(dir / "big", from_vector(std::vector<std::int64_t>{1LL << 40})); }),
      "does not fit IDX int32"));
  BOOST_TEST(!fs::exists(dir / "big"));
}

BOOST_AUTO_TEST_CASE(malformed_files_give_clear_errors) {
  TempDir dir;
  // Each case: bytes, the phrase its error must contain.
  Bytes good = header(0x08, {2, 3}) + Bytes(6, '\x05');
  Bytes bad_magic = good;
  bad_magic[0] = 0x12;
  Bytes unknown_type = good;
  unknown_type[2] = 0x0A;
  Bytes overflow = header(0x0E, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF});
  // 4 billion x 1000 doubles = 32 TB claimed by a 24-byte file: must fail without allocating.
  Bytes absurd_claim = header(0x0E, {0xFFFFFFFF, 1000}) + Bytes(8, '\0');
  Bytes absurd_rank{0, 0, 0x08, static_cast<char>(200)};
  absurd_rank += Bytes(800, '\x01');
  const std::vector<std::pair<Bytes, std::string>> cases{
      {Bytes{}, "too short"},
      {Bytes{0, 0}, "too short"},
      {bad_magic, "bad magic"},
      {unknown_type, "unknown IDX type code 0xa"},
      {header(0x08, {2, 3}).substr(0, 10), "truncated header"},
      {good.substr(0, good.size() - 1), "truncated data"},
      {header(0x0C, {2}) + Bytes(7, '\0'), "truncated data"},  // 2 ints need 8 bytes
      {good + "xyz", "trailing garbage"},
      {header(0x08, {3, 3}) + Bytes(8, '\0'), "truncated data"},  // sizes do not multiply out
      {header(0x08, {2, 2}) + Bytes(6, '\0'), "trailing garbage"},
      {overflow, "overflows"},
      {absurd_claim, "truncated data"},
      {absurd_rank, "absurd rank 200"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& [bytes, phrase] = cases[i];
    const std::string name = "case" + std::to_string(i);
    const bool gzippable = !bytes.empty();  // an empty .gz would test gzip, not IDX
    for (const auto& p : gzippable ? both(dir, name, bytes) : std::vector<fs::path>{dir / name}) {
      if (!gzippable) write_bytes(p, bytes);
      const std::string err = error_of([&] { read_idx(p); });
      BOOST_TEST_INFO("case " << i << " file " << p);
      // gzip data is capped before inflating (1 GiB): a 34 TB claim is refused up front.
      const bool capped = bytes == absurd_claim && p.extension() == ".gz";
      BOOST_TEST(contains(err, capped ? "above the limit" : phrase), err);
      BOOST_TEST(contains(err, p.string()), err);
    }
  }
  BOOST_TEST(contains(error_of([&] { read_idx(dir / "missing.idx"); }), "cannot open"));
  BOOST_TEST(read_idx(both(dir, "good", good)[1]).numel() == 6);
}

BOOST_AUTO_TEST_CASE(malformed_gzip_streams) {
  TempDir dir;
  // Pseudo-random payload, so the compressed stream is long enough to cut in the data.
  Bytes good = header(0x0D, {64, 64});
  std::uint32_t state = 12345;
  for (int i = 0; i < 64 * 64 * 4; ++i) {
    state = state * 1664525u + 1013904223u;
    good.push_back(static_cast<char>(state >> 24));
  }
  const auto paths = both(dir, "g", good);
  const Bytes gz = read_bytes(paths[1]);

  write_bytes(dir / "cut.gz", gz.substr(0, gz.size() / 2));
  std::string err = error_of([&] { read_idx(dir / "cut.gz"); });
  BOOST_TEST(contains(err, "truncated"), err);
  BOOST_TEST(contains(err, (dir / "cut.gz").string()), err);

  write_bytes(dir / "notrailer.gz", gz.substr(0, gz.size() - 4));  // CRC kept, size lost
  err = error_of([&] { read_idx(dir / "notrailer.gz"); });
  BOOST_TEST(contains(err, "truncated gzip stream"), err);

  write_bytes(dir / "garbage.gz", gz + "garbage");
  err = error_of([&] { read_idx(dir / "garbage.gz"); });
  BOOST_TEST(contains(err, "after the end of the gzip stream"), err);

  Bytes crc = gz;
  crc[crc.size() - 6] ^= 0x55;  // the CRC-32 in the trailer
  write_bytes(dir / "crc.gz", crc);
  err = error_of([&] { read_idx(dir / "crc.gz"); });
  BOOST_TEST(contains(err, "corrupt gzip"), err);

  Bytes body = gz;
  for (std::size_t i = 20; i < 40; ++i) body[i] = static_cast<char>(0xff);  // deflate data
  write_bytes(dir / "body.gz", body);
  err = error_of([&] { read_idx(dir / "body.gz"); });
  BOOST_TEST(contains(err, (dir / "body.gz").string()), err);
  BOOST_TEST(err != "<no error>");

  // Two concatenated gzip members are one valid gzip file.
  write_bytes(dir / "a", good.substr(0, 100));
  write_bytes(dir / "b", good.substr(100));
  gzip_to(dir / "a", dir / "a.gz");
  gzip_to(dir / "b", dir / "b.gz");
  write_bytes(dir / "ab.gz", read_bytes(dir / "a.gz") + read_bytes(dir / "b.gz"));
  BOOST_TEST(equal(read_idx(dir / "ab.gz"), read_idx(paths[0])));
}

namespace {

// Writes a tiny MNIST-shaped split: n images of 28x28 where image i has pixel p = (i + p) % 256,
// labels i % 10.
void write_split(const fs::path& root, const std::string& prefix, std::int64_t n, bool gz) {
  std::vector<std::uint8_t> px(static_cast<std::size_t>(n * 784)), lab(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t p = 0; p < 784; ++p)
      px[i * 784 + p] = static_cast<std::uint8_t>((i + p) % 256);
    lab[i] = static_cast<std::uint8_t>(i % 10);
  }
  const std::string sfx = gz ? ".gz" : "";
  write_idx(root / (prefix + "-images-idx3-ubyte" + sfx), from_vector(px, {n, 28, 28}), gz);
  write_idx(root / (prefix + "-labels-idx1-ubyte" + sfx), from_vector(lab), gz);
}

}  // namespace

BOOST_AUTO_TEST_CASE(mnist_loads_generated_files) {
  TempDir dir;
  write_split(dir.path, "train", 12, /*gz=*/true);
  write_split(dir.path, "t10k", 5, /*gz=*/false);

  MNIST train(dir.path, Split::Train);
  BOOST_TEST(train.size() == 12);
  BOOST_TEST(train.inputs().shape() == (Shape{12, 784}));
  BOOST_TEST(train.inputs().dtype() == kFloat32);
  BOOST_TEST(train.targets().dtype() == kInt64);
  BOOST_TEST(train.targets().to_vector<std::int64_t>() ==
                 (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1}),
             boost::test_tools::per_element());
  BOOST_TEST(train.inputs().at<float>({3, 10}) == 13.0f / 255.0f);
  BOOST_TEST(train.inputs().at<float>({0, 255}) == 1.0f);

  MNIST test(dir.path, Split::Test, {.flatten = false});
  BOOST_TEST(test.inputs().shape() == (Shape{5, 28, 28}));
  BOOST_TEST(test.inputs().at<float>({2, 1, 3}) == (2.0f + 28 + 3) / 255.0f);

  MNIST raw(dir.path, Split::Test, {.scale = false, .limit = 3});
  BOOST_TEST(raw.inputs().dtype() == kUInt8);
  BOOST_TEST(raw.size() == 3);
  BOOST_TEST(raw.inputs().at<int>({1, 5}) == 6);

  MNIST std1(dir.path, Split::Test, {.standardize = true, .mean = 0.5, .stddev = 0.25});
  BOOST_TEST(std1.inputs().at<float>({0, 51}) == static_cast<float>((51.0 / 255 - 0.5) / 0.25));
  MNIST std_default(dir.path, Split::Test, {.standardize = true});
  BOOST_TEST(std_default.inputs().at<float>({0, 0}) == static_cast<float>(-0.1307 / 0.3081));
  MNIST std_raw(dir.path, Split::Test, {.scale = false, .standardize = true});
  BOOST_TEST(
      std_raw.inputs().at<float>({0, 0}) == static_cast<float>(-0.1307 * 255 / (0.3081 * 255)),
      boost::test_tools::tolerance(1e-6f));

  BOOST_TEST(MNIST(dir.path, Split::Train, {.limit = 0}).size() == 0);
  BOOST_TEST(MNIST(dir.path, Split::Train, {.limit = 100}).size() == 12);
  BOOST_TEST(
      contains(error_of([&] { MNIST(dir.path, Split::Train, {.limit = -2}); }), "limit must be"));
  BOOST_TEST(MNIST::classes()[7] == "7");
}

BOOST_AUTO_TEST_CASE(mnist_errors_name_the_file_and_how_to_get_it) {
  TempDir dir;
  std::string err = error_of([&] { MNIST(dir.path, Split::Train); });
  BOOST_TEST(contains(err, (dir / "train-images-idx3-ubyte").string()), err);
  BOOST_TEST(contains(err, "download"), err);
  BOOST_TEST(contains(err, "t10k-labels-idx1-ubyte.gz"), err);

  err = error_of([&] { FashionMNIST(dir / "nowhere", Split::Test); });
  BOOST_TEST(contains(err, "FashionMNIST"), err);
  BOOST_TEST(contains(err, (dir / "nowhere" / "t10k-images-idx3-ubyte").string()), err);
  BOOST_TEST(contains(err, "apt-get install dataset-fashion-mnist"), err);
  BOOST_TEST(contains(err, "does not exist"), err);

  // Counts that disagree, labels out of range, and the wrong kind of file.
  write_split(dir.path, "train", 4, false);
  write_idx(dir / "train-labels-idx1-ubyte", from_vector(std::vector<std::uint8_t>{1, 2, 3}));
  err = error_of([&] { MNIST(dir.path, Split::Train); });
  BOOST_TEST(contains(err, "4 images but"), err);
  write_idx(dir / "train-labels-idx1-ubyte", from_vector(std::vector<std::uint8_t>{1, 2, 13, 0}));
  err = error_of([&] { MNIST(dir.path, Split::Train); });
  BOOST_TEST(contains(err, "label 13 at index 2"), err);
  write_idx(dir / "train-labels-idx1-ubyte", from_vector(std::vector<float>{1, 2, 3, 4}));
  err = error_of([&] { MNIST(dir.path, Split::Train); });
  BOOST_TEST(contains(err, "should hold uint8 labels"), err);

  // The "-idx" -> ".idx" spelling some mirrors use is found too.
  write_split(dir.path, "t10k", 2, false);
  fs::rename(dir / "t10k-images-idx3-ubyte", dir / "t10k-images.idx3-ubyte");
  BOOST_TEST(MNIST(dir.path, Split::Test).size() == 2);
}

BOOST_AUTO_TEST_CASE(real_fashion_mnist_when_installed) {
  if (!fs::exists(FashionMNIST::default_root() / "train-images-idx3-ubyte.gz") &&
      !fs::exists(FashionMNIST::default_root() / "train-images-idx3-ubyte")) {
    BOOST_TEST_MESSAGE("dataset-fashion-mnist not installed; skipping the real-data check");
    return;
  }
  FashionMNIST train(Split::Train);
  FashionMNIST test(Split::Test);
  BOOST_TEST(train.inputs().shape() == (Shape{60000, 784}));
  BOOST_TEST(train.targets().shape() == (Shape{60000}));
  BOOST_TEST(test.inputs().shape() == (Shape{10000, 784}));
  BOOST_TEST(test.targets().shape() == (Shape{10000}));
  std::vector<std::int64_t> counts(10, 0);
  for (auto y : train.targets().to_vector<std::int64_t>()) {
    BOOST_REQUIRE(y >= 0);
    BOOST_REQUIRE(y <= 9);
    ++counts[y];
  }
  for (auto c : counts) BOOST_TEST(c == 6000);  // Fashion-MNIST is balanced
  const MeanStd ms = mean_std(train.inputs());
  BOOST_TEST(ms.mean == 0.2860, boost::test_tools::tolerance(1e-3));
  BOOST_TEST(ms.std == 0.3530, boost::test_tools::tolerance(1e-3));
  const auto px = test.inputs().to_vector<float>();
  BOOST_TEST(*std::min_element(px.begin(), px.end()) == 0.0f);
  BOOST_TEST(*std::max_element(px.begin(), px.end()) == 1.0f);
  BOOST_TEST(FashionMNIST::classes()[9] == "Ankle boot");
}

// ---- issue 17: hostile files and paths ----

namespace {

// A gzip file holding `prefix` and then `zero_mib` MiB of zeros, made from one compressed MiB
// repeated: a full flush resets the compressor, so each compressed MiB stands alone. A 2 GiB
// bomb then takes milliseconds to build and ~2 MB to hold.
Bytes gzip_bomb(const Bytes& prefix, std::uint64_t zero_mib) {
  z_stream zs{};
  BOOST_REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  auto deflate_all = [&](const Bytes& in, int flush) {
    Bytes out;
    std::vector<unsigned char> buf(1 << 16);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    do {
      zs.next_out = buf.data();
      zs.avail_out = static_cast<uInt>(buf.size());
      BOOST_REQUIRE(deflate(&zs, flush) != Z_STREAM_ERROR);
      out.append(reinterpret_cast<const char*>(buf.data()), buf.size() - zs.avail_out);
    } while (zs.avail_out == 0);
    return out;
  };
  const Bytes mib(1 << 20, '\0');
  const Bytes head = deflate_all(prefix, Z_FULL_FLUSH);
  const Bytes block = deflate_all(mib, Z_FULL_FLUSH);
  const Bytes tail = deflate_all(Bytes(), Z_FINISH);
  deflateEnd(&zs);
  uLong crc = crc32(0, reinterpret_cast<const Bytef*>(prefix.data()), prefix.size());
  const uLong crc_mib = crc32(0, reinterpret_cast<const Bytef*>(mib.data()), mib.size());
  Bytes gz{'\x1f', '\x8b', 8, 0, 0, 0, 0, 0, 0, 3};  // gzip header: deflate, no name, mtime 0
  gz += head;
  for (std::uint64_t i = 0; i < zero_mib; ++i) {
    gz += block;
    crc = crc32_combine(crc, crc_mib, 1 << 20);
  }
  gz += tail;
  const std::uint64_t size = prefix.size() + (zero_mib << 20);
  for (int i = 0; i < 4; ++i) gz.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  for (int i = 0; i < 4; ++i) gz.push_back(static_cast<char>((size >> (8 * i)) & 0xff));
  return gz;
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#else
constexpr bool kAsan = false;
#endif

// The process's address-space size now (bytes), from /proc/self/statm.
std::uint64_t address_space_now() {
  std::ifstream f("/proc/self/statm");
  std::uint64_t pages = 0;
  f >> pages;
  return pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

// In a forked child under an address-space limit of (its size now + `extra` bytes): what
// read_idx(path) did: "ok <numel>", "tg::Error <message>", or the other exception.
std::string read_idx_limited(const fs::path& path, std::uint64_t extra) {
  const auto child = tg::testing::run_in_child([&]() -> std::string {
    if (extra > 0) {
      const rlimit lim{address_space_now() + extra, RLIM_INFINITY};
      if (::setrlimit(RLIMIT_AS, &lim) != 0) return "setrlimit failed";
    }
    try {
      const Tensor t = read_idx(path);
      // Check a sample without tensor ops (no TBB in a forked child): all zeros.
      const auto* p = t.data_ptr<std::uint8_t>();
      for (std::int64_t i = 0; i < t.numel(); i += 4093)
        if (p[i] != 0) return "wrong data at " + std::to_string(i);
      return "ok " + std::to_string(t.numel());
    } catch (const Error& e) {
      return std::string("tg::Error ") + e.what();
    } catch (const std::exception& e) {
      return std::string("other exception: ") + typeid(e).name() + ": " + e.what();
    }
  });
  return child.finished ? child.text : "child died: " + child.text;
}

}  // namespace

// A 2 MB .gz that inflates to 2 GiB: refused from its header (above the 1 GiB gzip cap)
// without inflating, so it fails cleanly even under an address-space limit (before the fix:
// std::bad_alloc from the growing buffer).
BOOST_AUTO_TEST_CASE(gzip_bomb_above_the_cap_is_refused) {
  TempDir dir;
  const Bytes bomb = gzip_bomb(header(0x08, {2, 1u << 30}), 2048);
  BOOST_TEST(bomb.size() < 4u << 20);
  write_bytes(dir / "bomb.gz", bomb);
  const std::string got = read_idx_limited(dir / "bomb.gz", kAsan ? 0 : 1536ull << 20);
  BOOST_TEST(contains(got, "tg::Error"), got);
  BOOST_TEST(contains(got, "2147483648 bytes, above the limit of 1073741824"), got);
  BOOST_TEST(contains(got, (dir / "bomb.gz").string()), got);
}

// 64 MiB of zeros behind a header that declares 1000 bytes: only 1001 bytes are inflated and the
// rest is reported as trailing data.
BOOST_AUTO_TEST_CASE(gzip_stream_longer_than_declared_is_refused) {
  TempDir dir;
  write_bytes(dir / "long.gz", gzip_bomb(header(0x08, {1000}), 64));
  const std::string err = error_of([&] { read_idx(dir / "long.gz"); });
  BOOST_TEST(contains(err, "trailing garbage"), err);
  BOOST_TEST(contains(err, "[1000]"), err);
  // The honest version of it loads: 1000 zeros.
  write_bytes(dir / "short.gz", gzip_bomb(header(0x08, {1u << 20}), 1));
  BOOST_TEST(read_idx(dir / "short.gz").numel() == 1 << 20);
}

// A gzip file under the cap that inflates to exactly what it declares loads with memory for the
// tensor only (two passes, no inflated copy): under a limit of 1.25x its size it still loads
// (before the fix the growing inflate buffer alone needed 1.5x, and the tensor came on top; the
// tensor may come from the block cache of earlier tests, the buffer never does).
BOOST_AUTO_TEST_CASE(gzip_under_the_cap_needs_memory_for_the_tensor_only) {
  if (kAsan) {
    BOOST_TEST_MESSAGE("address-space limits do not apply under ASan; skipped");
    return;
  }
  TempDir dir;
  const std::uint64_t mib = 128;
  write_bytes(dir / "big.gz",
              gzip_bomb(header(0x08, {static_cast<std::uint32_t>(mib << 20)}), mib));
  const std::string got = read_idx_limited(dir / "big.gz", (mib << 20) * 5 / 4);
  BOOST_TEST(got == "ok " + std::to_string(mib << 20), got);
}

// A FIFO (or any non-regular file) is refused at once: opening does not wait for a writer.
// Run in a forked child with an alarm, so a regression fails instead of hanging the suite.
BOOST_AUTO_TEST_CASE(read_idx_refuses_a_fifo_without_blocking) {
  TempDir dir;
  BOOST_REQUIRE(::mkfifo((dir / "fifo.idx").c_str(), 0600) == 0);
  const auto child =
      tg::testing::run_in_child([&] { return error_of([&] { read_idx(dir / "fifo.idx"); }); });
  BOOST_TEST(child.finished, child.text);
  BOOST_TEST(contains(child.text, "FIFO"), child.text);
  BOOST_TEST(contains(child.text, "not a regular file"), child.text);
  BOOST_TEST(contains(child.text, (dir / "fifo.idx").string()), child.text);
  const std::string err = error_of([&] { read_idx(dir.path); });
  BOOST_TEST(contains(err, "is a directory"), err);
}

// Three threads write_idx to one path, round after round, while a fourth reads it: every write
// succeeds, and every file read back is one writer's complete content (before the fix all
// writers shared the temporary PATH.tmp.<pid>: torn files and failed writes).
BOOST_AUTO_TEST_CASE(concurrent_write_idx_to_one_path_never_tears) {
  TempDir dir;
  const fs::path path = dir / "shared.idx";
  constexpr int kWriters = 3, kRounds = 60;
  // Writer w writes rows of value w+1, w+1 rows of 32 KiB (distinct sizes and contents).
  auto content = [](int w) { return full({w + 1, 32768}, static_cast<double>(w + 1), kUInt8); };
  std::vector<Tensor> contents;
  for (int w = 0; w < kWriters; ++w) contents.push_back(content(w));
  write_idx(path, contents[0]);
  std::atomic<int> failures{0}, torn{0}, reads{0};
  std::atomic<bool> done{false};
  std::vector<std::string> errors(kWriters);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w)
    writers.emplace_back([&, w] {
      for (int r = 0; r < kRounds; ++r) try {
          write_idx(path, contents[w], r % 2 == 1);  // plain and gzip alternate
        } catch (const Error& e) {
          ++failures;
          errors[w] = e.what();
        }
    });
  // One complete writer's content: shape [v, 32768] with every byte v.
  auto complete = [](const Tensor& t) {
    if (t.dim() != 2 || t.shape()[1] != 32768 || t.shape()[0] < 1 || t.shape()[0] > kWriters)
      return false;
    const auto* p = t.data_ptr<std::uint8_t>();
    const auto v = static_cast<std::uint8_t>(t.shape()[0]);
    return std::all_of(p, p + t.numel(), [v](std::uint8_t x) { return x == v; });
  };
  std::thread reader([&] {
    while (!done) {
      try {
        if (!complete(read_idx(path))) ++torn;
      } catch (const Error&) {
        ++torn;  // a reader must never see a partial file
      }
      ++reads;
    }
  });
  for (auto& t : writers) t.join();
  done = true;
  reader.join();
  BOOST_TEST(failures == 0, "a write failed: " << errors[0] << errors[1] << errors[2]);
  BOOST_TEST(torn == 0, torn << " of " << reads << " reads saw a torn file");
  BOOST_TEST(complete(read_idx(path)));
  BOOST_TEST(dir.entries() == std::vector<std::string>{"shared.idx"},
             boost::test_tools::per_element());  // no temporary left behind
  BOOST_TEST_MESSAGE(reads << " concurrent reads, all complete");
}

// Every write error names the operation, the path and the system's reason.
BOOST_AUTO_TEST_CASE(write_idx_errors_carry_strerror) {
  TempDir dir;
  const Tensor t = full({1024, 1024}, 7.0, kUInt8);
  for (bool gz : {false, true}) {
    BOOST_TEST_CONTEXT("gzip " << gz) {
      std::string err = error_of([&] { write_idx(dir / "no_such_dir" / "x.idx", t, gz); });
      BOOST_TEST(contains(err, "write_idx"), err);
      BOOST_TEST(contains(err, "no_such_dir"), err);
      BOOST_TEST(contains(err, std::strerror(ENOENT)), err);

      // A full disk, stood in for by a file-size limit (write() fails with EFBIG).
      write_idx(dir / "old.idx", from_vector(std::vector<std::uint8_t>{1, 2, 3}));
      rlimit old_limit{};
      BOOST_REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
      auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
      rlimit small = old_limit;
      small.rlim_cur = 4096;
      BOOST_REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
      // Random bytes, so the gzip variant also exceeds the limit.
      Tensor noise = empty({1 << 20}, kUInt8);
      std::uint32_t state = 99;
      for (std::int64_t i = 0; i < noise.numel(); ++i)
        noise.data_ptr<std::uint8_t>()[i] =
            static_cast<std::uint8_t>((state = state * 1664525u + 1013904223u) >> 24);
      err = error_of([&] { write_idx(dir / "old.idx", noise, gz); });
      ::setrlimit(RLIMIT_FSIZE, &old_limit);
      std::signal(SIGXFSZ, old_handler);
      BOOST_TEST(contains(err, "write_idx"), err);
      BOOST_TEST(contains(err, (dir / "old.idx").string()), err);
      BOOST_TEST(contains(err, std::strerror(EFBIG)), err);
      BOOST_TEST(read_idx(dir / "old.idx").numel() == 3);  // the old file is intact
      BOOST_TEST(dir.entries() == std::vector<std::string>{"old.idx"},
                 boost::test_tools::per_element());
    }
  }
}
