// Misuse table, part 2: nn, optim, datasets and checkpoints (bad state dicts, optimizer
// options, loaders, malformed IDX and safetensors files, failing saves, hostile files and paths:
// deeply nested headers, FIFOs, devices, over-long names). Runner: misuse_table.h.
#define BOOST_TEST_MODULE misuse_io
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "misuse_table.h"

using namespace tg;
using namespace tg::misuse;
namespace fs = std::filesystem;

namespace {

// A scratch directory for file cases, removed at exit.
struct Scratch {
  fs::path dir = fs::temp_directory_path() / ("tg_misuse_" + std::to_string(::getpid()));
  Scratch() { fs::create_directories(dir); }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  fs::path write(const std::string& name, const std::string& bytes) const {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return dir / name;
  }
};
const Scratch& scratch() {
  static Scratch s;
  return s;
}

std::string be32(std::uint32_t v) {
  return {char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}
std::string idx_header(char code, std::vector<std::uint32_t> dims) {
  std::string b{0, 0, code, static_cast<char>(dims.size())};
  for (auto d : dims) b += be32(d);
  return b;
}
std::string safetensors(const std::string& header, const std::string& data) {
  std::string len(8, '\0');
  for (std::size_t i = 0; i < 8; ++i) len[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return len + header + data;
}

// A two-layer module for state-dict rows: fc.weight [3, 4], fc.bias [3].
struct Net : nn::Module {
  nn::Linear fc{4, 3};
  Net() { register_modules({{"fc", fc}}); }
  Tensor forward(const Tensor& x) override { return fc(x); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(nn_misuse) {
  run_table({
      {"Linear: negative in_features", [] { nn::Linear(-1, 3); }, {"Linear", "in_features=-1"}},
      {"Linear: input of the wrong width",
       [] {
         nn::Linear(4, 3)(ones({2, 5}));
       },
       {"Linear", "in_features=4", "[2, 5]"}},
      {"Dropout: negative p", [] { nn::Dropout(-0.1); }, {"Dropout", "-0.1"}},
      {"BatchNorm1d: zero features", [] { nn::BatchNorm1d(0); }, {"BatchNorm1d", "0"}},
      {"BatchNorm1d: wrong channel count",
       [] {
         nn::BatchNorm1d(3)(ones({4, 5}));
       },
       {"BatchNorm1d", "[4, 5]"}},
      {"register_parameter: dotted name",
       [] {
         nn::Module m;
         m.register_parameter("a.b", ones({1}));
       },
       {"register_parameter", "'a.b'"}},
      {"register_parameter: duplicate name",
       [] {
         nn::Module m;
         m.register_parameter("w", ones({1}));
         m.register_parameter("w", ones({1}));
       },
       {"register_parameter", "'w' is already registered"}},
      {"register_parameter: int64 that requires grad",
       [] {
         nn::Module m;
         m.register_parameter("w", arange(3));
       },
       {"register_parameter", "'w'", "int64"}},
      {"load_state_dict: missing key",
       [] {
         Net n;
         auto sd = n.state_dict();
         sd.erase("fc.bias");
         n.load_state_dict(sd);
       },
       {"load_state_dict", "missing keys", "fc.bias"}},
      {"load_state_dict: unexpected key",
       [] {
         Net n;
         auto sd = n.state_dict();
         sd["fc.extra"] = ones({1});
         n.load_state_dict(sd);
       },
       {"load_state_dict", "unexpected keys", "fc.extra"}},
      {"load_state_dict: mis-shaped tensor",
       [] {
         Net n;
         auto sd = n.state_dict();
         sd["fc.weight"] = ones({4, 3});
         n.load_state_dict(sd);
       },
       {"load_state_dict", "fc.weight", "[3, 4]", "[4, 3]"}},
      {"load_state_dict: wrong dtype",
       [] {
         Net n;
         auto sd = n.state_dict();
         sd["fc.bias"] = zeros({3}, kInt64);
         n.load_state_dict(sd);
       },
       {"load_state_dict", "fc.bias", "float32", "int64"}},
      {"Module::to: integer dtype", [] { Net().to(kInt64); }, {"Module::to", "int64"}},
      {"xavier_uniform_: 1-D tensor", [] { nn::init::xavier_uniform_(ones({3})); }, {"[3]"}},
      {"uniform_: bounds reversed",
       [] { nn::init::uniform_(ones({3}), 2.0, 1.0); },
       {"uniform_", "2", "1"}},
      {"Module: forward not implemented",
       [] { nn::Module().forward(ones({1})); },
       {"forward(const Tensor&) is not implemented"}},
  });
}

BOOST_AUTO_TEST_CASE(optim_misuse) {
  run_table({
      {"SGD: no parameters",
       [] { optim::SGD(std::vector<Tensor>{}, {.lr = 0.1}); },
       {"optimizer", "empty"}},
      {"Adam: negative learning rate",
       [] { optim::Adam({leaf({2})}, {.lr = -0.1}); },
       {"Adam", "learning rate -0.1"}},
      {"Adam: beta1 = 1",
       [] {
         optim::Adam({leaf({2})}, {.betas = {1.0, 0.999}});
       },
       {"Adam", "beta1 1"}},
      {"SGD: nesterov without momentum",
       [] { optim::SGD({leaf({2})}, {.lr = 0.1, .nesterov = true}); },
       {"SGD", "Nesterov", "momentum 0"}},
      {"optimizer: int64 parameter",
       [] { optim::SGD({arange(3)}, {.lr = 0.1}); },
       {"optimizer", "int64"}},
      {"optimizer: non-leaf parameter",
       [] { optim::SGD({leaf({2}) * 2.0}, {.lr = 0.1}); },
       {"optimizer", "[2]", "not a leaf"}},
      {"optimizer: the same parameter twice",
       [] {
         Tensor p = leaf({2});
         optim::SGD({p, p}, {.lr = 0.1});
       },
       {"optimizer", "[2]", "more than once"}},
      {"optimizer: set_lr negative",
       [] { optim::SGD({leaf({2})}, {.lr = 0.1}).set_lr(-1.0); },
       {"set_lr", "-1"}},
      {"optimizer: load_state_dict with missing keys",
       [] { optim::Adam({leaf({2})}).load_state_dict({}); },
       {"Optimizer::load_state_dict", "param_groups.0.lr"}},
      {"optimizer: load_state_dict with a mis-typed option",
       [] {
         optim::Adam opt({leaf({2})});
         auto sd = opt.state_dict();
         sd["param_groups.0.lr"] = ones({2});
         opt.load_state_dict(sd);
       },
       {"param_groups.0.lr", "float64", "float32", "[2]"}},
      {"clip_grad_norm_: negative max_norm",
       [] { optim::clip_grad_norm_(std::vector<Tensor>{leaf({2})}, -1.0); },
       {"clip_grad_norm_", "-1"}},
      {"StepLR: zero step_size",
       [] {
         optim::SGD opt({leaf({2})}, {.lr = 0.1});
         optim::StepLR(opt, {.step_size = 0});
       },
       {"StepLR", "step_size", "0"}},
  });
}

BOOST_AUTO_TEST_CASE(datasets_misuse) {
  const auto& s = scratch();
  run_table({
      {"DataLoader: batch size 0",
       [] {
         data::DataLoader(ones({4, 2}), ones({4}), {.batch_size = 0});
       },
       {"DataLoader", "batch_size", "0"}},
      {"DataLoader: negative batch size",
       [] {
         data::DataLoader(ones({4, 2}), ones({4}), {.batch_size = -5});
       },
       {"DataLoader", "-5"}},
      {"DataLoader: sample counts differ",
       [] {
         data::DataLoader(ones({4, 2}), ones({3}));
       },
       {"DataLoader", "[4, 2]", "[3]"}},
      {"TensorDataset: 0-dim targets",
       [] {
         data::TensorDataset(ones({4, 2}), scalar_tensor(1));
       },
       {"TensorDataset", "[4, 2]", "[]"}},
      {"gather_rows: row out of range",
       [] {
         std::vector<std::int64_t> rows{0, 7};
         data::gather_rows(ones({3, 2}), rows);
       },
       {"gather_rows", "row 7", "3 rows"}},
      {"read_idx: missing file",
       [&] { datasets::read_idx(s.dir / "nope.idx"); },
       {"read_idx", "nope.idx", "cannot open"}},
      {"read_idx: bad magic",
       [&] { datasets::read_idx(s.write("magic.idx", "\x01\x02\x08\x01")); },
       {"read_idx", "magic.idx", "bad magic"}},
      {"read_idx: unknown type code",
       [&] { datasets::read_idx(s.write("code.idx", idx_header(0x07, {1}) + "x")); },
       {"read_idx", "code.idx", "type code 0x7"}},
      {"read_idx: truncated data",
       [&] {
         datasets::read_idx(s.write("trunc.idx", idx_header(0x08, {2, 3}) + "abcd"));
       },
       {"read_idx", "trunc.idx", "truncated", "[2, 3]", "6", "4"}},
      {"read_idx: trailing bytes",
       [&] { datasets::read_idx(s.write("trail.idx", idx_header(0x08, {2}) + "abc")); },
       {"read_idx", "trail.idx", "trailing", "2", "3"}},
      {"read_idx: sizes overflow",
       [&] {
         datasets::read_idx(s.write("huge.idx", idx_header(0x0E, {0xffffffff, 0xffffffff, 9})));
       },
       {"read_idx", "huge.idx", "[4294967295, 4294967295, 9]"}},
      {"write_idx: int64 value beyond int32",
       [&] { datasets::write_idx(s.dir / "big.idx", idx({1ll << 40})); },
       {"write_idx", "1099511627776"}},
      {"MNIST: missing directory",
       [&] { datasets::MNIST(s.dir / "no_mnist", datasets::Split::Train); },
       {"MNIST", "no_mnist"}},
  });
}

BOOST_AUTO_TEST_CASE(checkpoint_misuse) {
  const auto& s = scratch();
  const std::string f32x2 = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  run_table({
      {"from_safetensors: 3 bytes",
       [] { from_safetensors("abc"); },
       {"from_safetensors", "only 3 bytes"}},
      {"from_safetensors: header length past the end",
       [] { from_safetensors(safetensors("{}", "").replace(0, 1, "\x40")); },
       {"from_safetensors", "header length 64", "runs past the end"}},
      {"from_safetensors: header length above the limit",
       [] { from_safetensors(std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}"); },
       {"from_safetensors", "header length 9223372036854775807", "exceeds the limit"}},
      {"from_safetensors: invalid JSON",
       [] { from_safetensors(safetensors("{\"w\":", "")); },
       {"from_safetensors", "not valid JSON"}},
      {"from_safetensors: unsupported dtype",
       [] {
         from_safetensors(
             safetensors(R"({"w":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}})", "ab"));
       },
       {"from_safetensors", "'w'", "unsupported dtype 'BF16'"}},
      {"from_safetensors: offsets disagree with dtype x shape",
       [] {
         from_safetensors(safetensors(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8]}})",
                                      "12345678"));
       },
       {"from_safetensors", "'w'", "[2, 2]", "16 bytes", "[0, 8]"}},
      {"from_safetensors: negative dimension",
       [] {
         from_safetensors(
             safetensors(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "1234"));
       },
       {"from_safetensors", "'w'", "shape", "-1"}},
      {"from_safetensors: data shorter than the offsets",
       [=] { from_safetensors(safetensors(f32x2, "1234")); },
       {"from_safetensors", "'w'", "[0, 8]", "4-byte data section"}},
      {"from_safetensors: trailing bytes",
       [=] { from_safetensors(safetensors(f32x2, "123456789")); },
       {"from_safetensors", "1 trailing bytes"}},
      {"from_safetensors: overlapping tensors",
       [] {
         from_safetensors(safetensors(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                                      R"("b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})",
                                      "123456"));
       },
       {"from_safetensors", "'b'", "overlaps", "'a'"}},
      {"from_safetensors: non-string metadata",
       [] { from_safetensors(safetensors(R"({"__metadata__":{"k":1}})", "")); },
       {"from_safetensors", "__metadata__", "'k'", "1"}},
      {"load: missing file",
       [&] { load(s.dir / "absent.safetensors"); },
       {"load", "absent.safetensors", "cannot open"}},
      {"save: directory does not exist",
       [&] {
         save(StateDict{{"w", ones({2})}}, s.dir / "no/x.st");
       },
       {"save", "no", "cannot create a temporary file"}},
      {"save: path is a directory",
       [&] {
         save(StateDict{{"w", ones({2})}}, s.dir);
       },
       {"save", "is a directory"}},
      {"save: undefined tensor",
       [&] {
         save(StateDict{{"w", Tensor()}}, s.dir / "u.st");
       },
       {"save", "'w'", "undefined"}},
      {"load(module): mis-shaped file",
       [&] {
         save(StateDict{{"fc.weight", ones({4, 3})}, {"fc.bias", ones({3})}}, s.dir / "m.st");
         Net n;
         load(n, s.dir / "m.st");
       },
       {"load_state_dict", "fc.weight", "[3, 4]", "[4, 3]"}},
      {"load: a directory", [&] { load(s.dir); }, {"load", "is a directory"}},
      {"save: a 300-byte file name",
       [&] {
         save(StateDict{{"w", ones({2})}}, s.dir / std::string(300, 'n'));
       },
       {"save", std::string(300, 'n'), std::strerror(ENAMETOOLONG)}},
      {"write_idx: directory does not exist",
       [&] { datasets::write_idx(s.dir / "no_dir" / "x.idx", idx({1})); },
       {"write_idx", "no_dir", std::strerror(ENOENT)}},
      {"read_idx: a directory", [&] { datasets::read_idx(s.dir); }, {"read_idx", "is a directory"}},
      {"load_checkpoint: a plain state-dict file",
       [&] {
         save(StateDict{{"w", ones({2})}}, s.dir / "plain.st");
         Net n;
         optim::SGD opt(n.parameters(), {.lr = 0.1});
         optim::load_checkpoint(s.dir / "plain.st", n, opt);
       },
       {"load_checkpoint", "plain.st"}},
  });
}

namespace {

// `{"a":[[[...]]]}`-style text: `depth` opening brackets, then as many closing ones.
std::string nested(std::size_t depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

// Runs a table row's call in a forked child (crash or hang = a failed check, not a dead suite)
// and checks its tg::Error message.
void expect_error_isolated(const std::string& name, const std::function<void()>& call,
                           const std::vector<std::string>& expect) {
  BOOST_TEST_CONTEXT("case '" << name << "'") {
    std::string msg;
    const std::string bad = outcome_isolated(call, msg);
    BOOST_TEST(bad.empty(), "expected tg::Error, got " << bad);
    for (const auto& part : expect) BOOST_TEST(contains(msg, part), msg << " lacks " << part);
    BOOST_TEST(msg.size() < 1000u, "message of " << msg.size() << " bytes");
  }
}

}  // namespace

// Issue 17: a header nested 100k deep crashed the loader (the error path's dump() recursed once
// per level). Nesting is capped at 64 while parsing, wherever it occurs.
BOOST_AUTO_TEST_CASE(deeply_nested_headers_are_refused) {
  const auto& s = scratch();
  const std::size_t deep = 100'000;
  const std::vector<std::pair<std::string, std::string>> headers{
      {"a tensor's value", R"({"a":)" + nested(deep) + "}"},
      {"__metadata__", R"({"__metadata__":{"k":)" + nested(deep) + "}}"},
      {"inside shape",
       R"({"w":{"dtype":"F32","shape":[)" + nested(deep) + R"(],"data_offsets":[0,4]}})"},
      {"an unused key",
       R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":)" + nested(deep) + "}}"},
      {"objects", "{" +
                      [&] {
                        std::string t;
                        for (std::size_t i = 0; i < deep; ++i) t += R"("k":{)";
                        return t + std::string(deep, '}');
                      }() +
                      "}"},
  };
  for (const auto& [where, header] : headers) {
    const std::string bytes = safetensors(header, "1234");
    expect_error_isolated("from_safetensors: nested 100k deep in " + where,
                          [=] { from_safetensors(bytes); },
                          {"from_safetensors", "nests deeper than 64 levels"});
    const fs::path file = s.write("nested.st", bytes);
    expect_error_isolated("load: nested 100k deep in " + where, [=] { load(file); },
                          {"load", "nested.st", "nests deeper than 64 levels"});
  }
  // 63 levels under the root parse (and are refused for what they are); 64 do not.
  expect_error_isolated("from_safetensors: 63 levels",
                        [] { from_safetensors(safetensors(R"({"a":)" + nested(63) + "}", "")); },
                        {"from_safetensors", "'a'", "expected an object, got [[[["});
  expect_error_isolated("from_safetensors: 64 levels",
                        [] { from_safetensors(safetensors(R"({"a":)" + nested(64) + "}", "")); },
                        {"from_safetensors", "nests deeper than 64 levels"});
  // A huge bad value is quoted only in part.
  expect_error_isolated(
      "from_safetensors: a 1 MB bad value",
      [] {
        from_safetensors(
            safetensors(R"({"__metadata__":{"k":[")" + std::string(1 << 20, 'v') + R"("]}})", ""));
      },
      {"from_safetensors", "'k'", "must be a string", "vvvv...", "1048580 bytes"});
}

// Issue 17: load(fifo) and read_idx(fifo) waited forever for a writer. Anything but a regular
// file is refused after opening without blocking. Each call runs in a forked child with an
// alarm, so a regression fails instead of hanging the suite.
BOOST_AUTO_TEST_CASE(fifos_and_devices_are_refused_without_blocking) {
  const auto& s = scratch();
  const fs::path fifo = s.dir / "pipe.st";
  fs::remove(fifo);
  BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  expect_error_isolated("load: a FIFO", [=] { load(fifo); },
                        {"load", "pipe.st", "a FIFO, not a regular file"});
  expect_error_isolated("read_idx: a FIFO", [=] { datasets::read_idx(fifo); },
                        {"read_idx", "pipe.st", "a FIFO, not a regular file"});
  expect_error_isolated("save: onto a FIFO",
                        [=] {
                          save(StateDict{{"w", ones({2})}}, fifo);
                        },
                        {"save", "pipe.st", "a FIFO, not a regular file"});
  BOOST_TEST(fs::is_fifo(fifo));
  // A character device is read from (not written): /dev/zero would feed zeros forever.
  expect_error_isolated("load: /dev/zero", [] { load("/dev/zero"); },
                        {"load", "/dev/zero", "a character device"});
  expect_error_isolated("read_idx: /dev/zero", [] { datasets::read_idx("/dev/zero"); },
                        {"read_idx", "/dev/zero", "a character device"});
}
