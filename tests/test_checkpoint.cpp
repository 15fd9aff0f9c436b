// Serialization: the safetensors byte layout (checked against the spec by hand-built files),
// round trips, atomic saves, refusal of malformed files, and training checkpoints that resume
// bit for bit.
#define BOOST_TEST_MODULE checkpoint
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <tapegrad/tapegrad.h>
#include <cstring>
#include <filesystem>
#include <fstream>
#include "error_text.h"
#include "temp_dir.h"

using namespace tg;
using namespace tg::test;
namespace fs = std::filesystem;
namespace tt = boost::test_tools;

namespace {

// A fresh directory per test, removed after.

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out << bytes;
}
std::string le64(std::uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}
template <typename T>
std::string raw(std::initializer_list<T> values) {
  std::string s;
  for (T v : values) s.append(reinterpret_cast<const char*>(&v), sizeof(T));
  return s;
}
// A file from a header text and data bytes, laid out as the spec says.
std::string file_of(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}
std::string load_error(const std::string& bytes) {
  return error_of([&] { from_safetensors(bytes); });
}
}  // namespace

// ---- the format ----

BOOST_AUTO_TEST_CASE(writer_produces_the_exact_spec_layout) {
  StateDict sd;
  sd["b"] = tensor({0.5}, kFloat64);
  sd["a"] = from_vector(std::vector<std::uint8_t>{1, 2});
  const std::string bytes = to_safetensors(sd, {{"k", "v"}});
  // 8-byte tensors first (alignment), then by name; JSON padded with spaces to 8 bytes.
  std::string header =
      R"({"__metadata__":{"k":"v"},"a":{"data_offsets":[8,10],"dtype":"U8","shape":[2]},)"
      R"("b":{"data_offsets":[0,8],"dtype":"F64","shape":[1]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  const std::string want = file_of(header, raw<double>({0.5}) + raw<std::uint8_t>({1, 2}));
  BOOST_TEST(bytes == want);
  BOOST_TEST((8 + header.size()) % 8 == 0u);
}

BOOST_AUTO_TEST_CASE(reader_accepts_a_hand_built_file) {
  // As the Python writer would lay it out: int64 and float64 first, then float32, then uint8.
  const std::string header = R"({"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},)"
                             R"("w":{"dtype":"F32","shape":[2,2],"data_offsets":[16,32]},)"
                             R"("s":{"dtype":"F64","shape":[],"data_offsets":[32,40]},)"
                             R"("e":{"dtype":"F32","shape":[0,3],"data_offsets":[40,40]},)"
                             R"("m":{"dtype":"U8","shape":[3],"data_offsets":[40,43]},)"
                             R"("__metadata__":{"format":"pt"}}   )";
  const std::string data = raw<std::int64_t>({-7, 1LL << 40}) +
                           raw<float>({1.5f, -2.f, 3.f, 4.25f}) + raw<double>({0.1}) +
                           raw<std::uint8_t>({0, 128, 255});
  Metadata meta;
  const StateDict sd = from_safetensors(file_of(header, data), &meta);
  BOOST_TEST(sd.size() == 5u);
  BOOST_TEST(meta.at("format") == "pt");
  BOOST_TEST(sd.at("ids").dtype() == kInt64);
  BOOST_TEST(sd.at("ids").to_vector<std::int64_t>() == (std::vector<std::int64_t>{-7, 1LL << 40}),
             tt::per_element());
  BOOST_TEST(sd.at("w").shape() == (Shape{2, 2}), tt::per_element());
  BOOST_TEST(sd.at("w").at({1, 1}) == 4.25);
  BOOST_TEST(sd.at("s").dim() == 0);
  BOOST_TEST(sd.at("s").item() == 0.1);
  BOOST_TEST(sd.at("e").numel() == 0);
  BOOST_TEST(sd.at("m").to_vector<std::uint8_t>() == (std::vector<std::uint8_t>{0, 128, 255}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(every_dtype_and_shape_round_trips_exactly) {
  manual_seed(4);
  StateDict sd;
  sd["f32"] = randn({3, 4});
  sd["f64"] = randn({2, 2, 2}, kFloat64);
  sd["i64"] = randint(-1000, 1000, {5});
  sd["u8"] = randint(0, 256, {7}).to(kUInt8);
  sd["scalar"] = scalar_tensor(-3.5, kFloat64);
  sd["empty"] = zeros({0});
  sd["strided"] = randn({4, 3}).t();  // non-contiguous: written in logical order
  sd["special"] = tensor({INFINITY, -INFINITY, NAN, -0.0f, 1e-45f});
  Metadata meta_in{{"epoch", "3"}, {"note", "unicode: \xc3\xa9\xe2\x82\xac"}};
  Metadata meta_out;
  const StateDict back = from_safetensors(to_safetensors(sd, meta_in), &meta_out);
  BOOST_TEST(back.size() == sd.size());
  for (const auto& [k, t] : sd) {
    const Tensor& b = back.at(k);
    BOOST_TEST(b.shape() == t.shape(), tt::per_element());
    BOOST_TEST(b.dtype() == t.dtype());
    // Bitwise, NaN included.
    const Tensor c = t.contiguous();
    const bool same = c.nbytes() == 0 || std::memcmp(b.raw_data(), c.raw_data(), c.nbytes()) == 0;
    BOOST_TEST(same, "tensor " << k);
  }
  BOOST_TEST(meta_out == meta_in);
}

BOOST_AUTO_TEST_CASE(malformed_files_are_refused_with_clear_errors) {
  const std::string ok_header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string ok_data = raw<float>({1.f, 2.f});
  const std::string good = file_of(ok_header, ok_data);
  BOOST_TEST(from_safetensors(good).at("x").at({1}) == 2.0);

  BOOST_TEST(contains(load_error(""), "only 0 bytes"));
  BOOST_TEST(contains(load_error(good.substr(0, 5)), "8-byte header length"));
  BOOST_TEST(contains(load_error(le64(1ull << 40) + "{}"), "exceeds the limit"));
  BOOST_TEST(contains(load_error(le64(500) + ok_header), "runs past the end"));
  // Truncated: the data section is shorter than the offsets say.
  BOOST_TEST(contains(load_error(good.substr(0, good.size() - 3)), "run past the 5-byte data"));
  // Trailing bytes.
  BOOST_TEST(contains(load_error(good + "junk"), "4 trailing bytes"));
  // JSON problems.
  BOOST_TEST(contains(load_error(file_of(R"({"x":{"dtype":"F32",)", "")), "not valid JSON"));
  BOOST_TEST(contains(load_error(file_of("[1, 2]", "")), "must be a JSON object"));
  BOOST_TEST(contains(load_error(file_of(R"({"x":[1]})", "")), "expected an object"));
  BOOST_TEST(contains(load_error(file_of(R"({"x":{"dtype":"F32","shape":[2]}})", ok_data)),
                      "needs the fields"));
  BOOST_TEST(
      contains(load_error(file_of(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"y":1}})",
                                  ok_data)),
               "unknown field 'y'"));
  BOOST_TEST(contains(
      load_error(file_of(R"({"x":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})", ok_data)),
      "unsupported dtype 'F16'"));
  BOOST_TEST(contains(
      load_error(file_of(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", ok_data)),
      "non-negative integers"));
  BOOST_TEST(contains(
      load_error(file_of(R"({"x":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", ok_data)),
      "non-negative integers"));
  BOOST_TEST(contains(
      load_error(file_of(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", ok_data)),
      "end before they begin"));
  BOOST_TEST(contains(load_error(file_of(R"({"__metadata__":{"a":1}})", "")), "must be a string"));
  // Wrong size for dtype x shape.
  BOOST_TEST(contains(
      load_error(file_of(R"({"x":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", ok_data)),
      "F64 x [2] needs 16 bytes but data_offsets [0, 8] span 8"));
  // Shapes whose byte count overflows.
  BOOST_TEST(
      contains(load_error(file_of(
                   R"({"x":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
                   ok_data)),
               "span 8"));
  // Overlapping, gapped and out-of-bounds offsets.
  const std::string two = raw<float>({1.f, 2.f, 3.f});
  BOOST_TEST(
      contains(load_error(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                  two)),
               "overlaps tensor 'a'"));
  BOOST_TEST(
      contains(load_error(file_of(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                  R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                                  two)),
               "gap in the data section: bytes [4, 8)"));
  BOOST_TEST(contains(
      load_error(file_of(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", two)),
      "run past the 12-byte data section"));
  BOOST_TEST(
      contains(load_error(file_of(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                  two.substr(0, 8))),
               "gap in the data section: bytes [0, 4)"));
}

BOOST_AUTO_TEST_CASE(file_errors_name_the_path) {
  TempDir dir;
  const auto missing = dir.path / "nope.safetensors";
  BOOST_TEST(contains(error_of([&] { load(missing); }), "nope.safetensors"));
  BOOST_TEST(contains(error_of([&] { load(missing); }), "cannot open"));
  write_bytes(dir.path / "bad.safetensors", "not a safetensors file at all");
  const auto msg = error_of([&] { load(dir.path / "bad.safetensors"); });
  BOOST_TEST(contains(msg, "bad.safetensors"));
  BOOST_TEST(contains(msg, "exceeds the limit"));
}

// ---- atomic saves ----

BOOST_AUTO_TEST_CASE(saves_are_atomic_and_leave_no_temporaries) {
  TempDir dir;
  const auto path = dir.path / "m.safetensors";
  StateDict v1{{"w", full({3}, 1.0)}};
  save(v1, path);
  BOOST_TEST(dir.entries() == std::vector<std::string>{"m.safetensors"}, tt::per_element());
  // Overwrite.
  StateDict v2{{"w", full({3}, 2.0)}};
  save(v2, path);
  BOOST_TEST(load(path).at("w").at({0}) == 2.0);
  BOOST_TEST(dir.entries().size() == 1u);
  // A save that fails before writing leaves the old file intact and no temporary.
  StateDict bad{{"w", full({3}, 3.0)}, {"u", Tensor()}};
  BOOST_TEST(contains(error_of([&] { save(bad, path); }), "'u' is undefined"));
  StateDict bad_name{{"\xff\xfe", zeros({1})}};
  BOOST_TEST(contains(error_of([&] { save(bad_name, path); }), "cannot encode the header"));
  StateDict reserved{{"__metadata__", zeros({1})}};
  BOOST_TEST(contains(error_of([&] { save(reserved, path); }), "reserved"));
  BOOST_TEST(load(path).at("w").at({0}) == 2.0);
  BOOST_TEST(dir.entries().size() == 1u);
  // Unwritable places are reported.
  BOOST_TEST(contains(error_of([&] { save(v1, dir.path / "no_such_dir" / "m.safetensors"); }),
                      "cannot create a temporary file"));
  BOOST_TEST(contains(error_of([&] { save(v1, dir.path); }), "is a directory"));
  BOOST_TEST(dir.entries().size() == 1u);
  // write_file_atomic: same guarantees for any bytes.
  write_file_atomic(dir.path / "raw.bin", "hello");
  BOOST_TEST(read_bytes(dir.path / "raw.bin") == "hello");
  BOOST_TEST(dir.entries().size() == 2u);
}

// ---- modules ----

namespace {
struct Mlp : nn::Module {
  nn::Linear fc1{3, 16};
  nn::BatchNorm1d bn{16};
  nn::Dropout drop{0.2};
  nn::Linear fc2{16, 2};
  Mlp() { register_modules({{"fc1", fc1}, {"bn", bn}, {"drop", drop}, {"fc2", fc2}}); }
  Tensor forward(const Tensor& x) override { return fc2(drop(relu(bn(fc1(x))))); }
};
}  // namespace

BOOST_AUTO_TEST_CASE(module_round_trip_reproduces_outputs_exactly) {
  TempDir dir;
  manual_seed(21);
  Mlp a;
  // Train a little so running statistics are not their defaults.
  for (int i = 0; i < 3; ++i) a.forward(randn({8, 3}));
  a.eval();
  const auto path = dir.path / "mlp.safetensors";
  save(a, path, {{"arch", "mlp"}});
  Metadata meta;
  const auto sd = load(path, &meta);
  BOOST_TEST(meta.at("arch") == "mlp");
  BOOST_TEST(sd.count("bn.running_mean") == 1u);
  BOOST_TEST(sd.at("bn.num_batches_tracked").item<std::int64_t>() == 3);

  manual_seed(99);
  Mlp b;
  b.eval();
  auto x = randn({5, 3});
  BOOST_TEST(!equal(a.forward(x), b.forward(x)));
  load(b, path);
  BOOST_TEST(equal(a.forward(x), b.forward(x)));
  BOOST_TEST(equal(b.bn.running_var, a.bn.running_var));

  // A file for another architecture is refused by the strict load, naming the keys.
  nn::Sequential other{nn::Linear(3, 4)};
  const auto msg = error_of([&] { load(other, path); });
  BOOST_TEST(contains(msg, "missing keys: 0.bias, 0.weight"));
  BOOST_TEST(contains(msg, "unexpected keys: bn.bias"));
}

// ---- training checkpoints ----

namespace {
// A tiny classification run drawing its minibatches (and dropout masks) from the global RNG.
struct Run {
  Mlp net;
  optim::Adam opt{net.parameters(), {.lr = 0.01}};
  optim::StepLR sched{opt, {.step_size = 4, .gamma = 0.5}};
  Tensor X, Y;
  Run() {
    Generator data_gen(7);  // fixed data, independent of the global RNG
    std::vector<float> xs;
    std::vector<std::int64_t> ys;
    for (int i = 0; i < 64; ++i) {
      float a = float(data_gen.normal()), b = float(data_gen.normal()),
            c = float(data_gen.normal());
      xs.insert(xs.end(), {a, b, c});
      ys.push_back(a * b + c > 0 ? 1 : 0);
    }
    X = from_vector(xs, {64, 3});
    Y = from_vector(ys, {64});
  }
  double train_step(std::int64_t step) {
    const std::int64_t start = randint(0, 48, {1}).item<std::int64_t>();
    auto loss =
        nn::functional::cross_entropy(net.forward(X.narrow(0, start, 16)), Y.narrow(0, start, 16));
    opt.zero_grad();
    loss.backward();
    opt.step();
    if ((step + 1) % 100 == 0) sched.step();  // an "epoch" every 100 steps
    return loss.item();
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(resumed_training_matches_straight_training_bit_for_bit) {
  TempDir dir;
  const int total = 2000, half = 1000;
  std::vector<double> straight, resumed;
  {
    manual_seed(1234);
    Run r;
    for (int s = 0; s < total; ++s) straight.push_back(r.train_step(s));
  }
  {
    manual_seed(1234);
    auto r = std::make_unique<Run>();
    for (int s = 0; s < half; ++s) resumed.push_back(r->train_step(s));
    optim::save_checkpoint(dir.path / "run.ckpt", r->net, r->opt, half, &r->sched,
                           {{"user", "note"}});
    r.reset();
    manual_seed(999);  // a different RNG and fresh weights: the checkpoint must restore all
    Run fresh;
    Metadata extra;
    const auto step =
        optim::load_checkpoint(dir.path / "run.ckpt", fresh.net, fresh.opt, &fresh.sched, &extra);
    BOOST_TEST(step == half);
    BOOST_TEST(extra == (Metadata{{"user", "note"}}));
    BOOST_TEST(fresh.opt.lr() == 0.01 * 0.25,
               tt::tolerance(1e-15));  // 10 epochs: decays at 4 and 8
    for (std::int64_t s = step; s < total; ++s) resumed.push_back(fresh.train_step(s));
  }
  BOOST_TEST_REQUIRE(straight.size() == resumed.size());
  int mismatches = 0;
  for (std::size_t i = 0; i < straight.size(); ++i) mismatches += straight[i] != resumed[i];
  BOOST_TEST(mismatches == 0);
  BOOST_TEST(straight.back() < straight.front() * 0.7);  // it did learn something
}

BOOST_AUTO_TEST_CASE(checkpoint_loads_are_all_or_nothing) {
  TempDir dir;
  manual_seed(3);
  Run a;
  a.train_step(0);
  optim::save_checkpoint(dir.path / "a.ckpt", a.net, a.opt, 1, &a.sched);
  optim::save_checkpoint(dir.path / "nosched.ckpt", a.net, a.opt, 1);

  Run b;
  const auto w = b.net.fc1.weight.clone();
  // Scheduler presence must match.
  BOOST_TEST(contains(error_of([&] { optim::load_checkpoint(dir.path / "a.ckpt", b.net, b.opt); }),
                      "pass the scheduler"));
  BOOST_TEST(contains(
      error_of([&] { optim::load_checkpoint(dir.path / "nosched.ckpt", b.net, b.opt, &b.sched); }),
      "holds no scheduler state"));
  // An optimizer of another kind fails after the model part was loaded: the model is rolled back.
  optim::SGD sgd(b.net.parameters(), {.lr = 0.1});
  BOOST_TEST(
      contains(error_of([&] { optim::load_checkpoint(dir.path / "nosched.ckpt", b.net, sgd); }),
               "unexpected keys"));
  BOOST_TEST(equal(b.net.fc1.weight, w));
  // Plain safetensors files are not checkpoints.
  save(a.net, dir.path / "plain.safetensors");
  BOOST_TEST(contains(
      error_of([&] { optim::load_checkpoint(dir.path / "plain.safetensors", b.net, b.opt); }),
      "not a tapegrad training checkpoint"));
  BOOST_TEST(contains(error_of([&] {
                        optim::save_checkpoint(dir.path / "x.ckpt", a.net, a.opt, 1, nullptr,
                                               {{"tapegrad.step", "5"}});
                      }),
                      "reserved prefix"));
}
