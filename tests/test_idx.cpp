// The IDX reader on files this test writes byte by byte (plain and gzip, every element type,
// every malformed case), write_idx round trips, and MNIST / Fashion-MNIST loading from a temp
// dir plus, when the Debian package is installed, the real Fashion-MNIST.
#define BOOST_TEST_MODULE idx
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include "temp_dir.h"

using namespace tg;
using namespace tg::datasets;
namespace fs = std::filesystem;

namespace {

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}
bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

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
      BOOST_TEST(contains(err, phrase), err);
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
