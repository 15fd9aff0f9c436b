#include "tapegrad/nn/serialize.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <functional>
#include <limits>
#include <new>
#include <nlohmann/json.hpp>
#include <vector>

#include "tapegrad/core/detail/file_io.h"
#include "tapegrad/core/error.h"

namespace tg {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian data; this build assumes a little-endian host");

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;  // the Python reader's limit
constexpr int kMaxHeaderDepth = 64;                     // nesting levels of the header's JSON
constexpr std::size_t kMaxQuoted = 80;                  // bytes of a bad value quoted in errors

// A JSON value for an error message: at most kMaxQuoted bytes of it (the header is untrusted and
// may hold megabytes).
std::string excerpt(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > kMaxQuoted)
    s = s.substr(0, kMaxQuoted) + "... (" + std::to_string(s.size()) + " bytes)";
  return s;
}

const char* dtype_code(Dtype d) {
  switch (d) {
    case Dtype::Float32:
      return "F32";
    case Dtype::Float64:
      return "F64";
    case Dtype::Int64:
      return "I64";
    case Dtype::UInt8:
      return "U8";
    case Dtype::Bool:
      return "BOOL";
  }
  throw Error("save: unknown dtype");
}

bool parse_dtype(const std::string& code, Dtype& out) {
  if (code == "F32")
    out = kFloat32;
  else if (code == "F64")
    out = kFloat64;
  else if (code == "I64")
    out = kInt64;
  else if (code == "U8")
    out = kUInt8;
  else if (code == "BOOL")
    out = kBool;
  else
    return false;
  return true;
}

// ---- writing ----

struct Entry {
  std::string name;
  Tensor data;  // contiguous
};

// Largest elements first so every tensor starts aligned to its element size (as the Python
// writer orders them), then by name.
std::vector<Entry> ordered_entries(const StateDict& tensors) {
  std::vector<Entry> entries;
  for (const auto& [name, t] : tensors) {
    TG_CHECK(t.defined(), "save: tensor '", name, "' is undefined");
    TG_CHECK(name != "__metadata__", "save: '__metadata__' is reserved and cannot name a tensor");
    entries.push_back({name, t.detach().contiguous()});
  }
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return element_size(a.data.dtype()) > element_size(b.data.dtype());
  });
  return entries;
}

std::string make_header(const std::vector<Entry>& entries, const Metadata& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& e : entries) {
    const std::uint64_t n = e.data.nbytes();
    header[e.name] = {{"dtype", dtype_code(e.data.dtype())},
                      {"shape", e.data.shape()},
                      {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {  // names and metadata must be valid UTF-8
    throw Error(detail::concat("save: cannot encode the header: ", e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data section 8-byte aligned
  return text;
}

template <typename Sink>
void write_safetensors(const StateDict& tensors, const Metadata& metadata, Sink&& sink) {
  const auto entries = ordered_entries(tensors);
  const std::string header = make_header(entries, metadata);
  const std::uint64_t n = header.size();
  char len[8];
  std::memcpy(len, &n, 8);
  sink(len, 8);
  sink(header.data(), header.size());
  for (const auto& e : entries)
    if (e.data.nbytes() > 0) sink(static_cast<const char*>(e.data.raw_data()), e.data.nbytes());
}

// ---- reading ----

// Random access to the bytes of a file or a string.
struct Source {
  std::string where;  // for error messages: "load: 'path'" or "from_safetensors"
  std::uint64_t size = 0;
  std::function<void(std::uint64_t offset, char* dst, std::uint64_t n)> read;
};

struct TensorInfo {
  std::string name;
  Dtype dtype;
  Shape shape;
  std::uint64_t begin, end;
};

std::uint64_t checked_index(const Source& src, const std::string& name, const json& v,
                            const char* field) {
  TG_CHECK(v.is_number_unsigned(), src.where, ": tensor '", name, "': ", field,
           " must hold non-negative integers, got ", excerpt(v));
  return v.get<std::uint64_t>();
}

TensorInfo parse_info(const Source& src, const std::string& name, const json& v) {
  const std::string& w = src.where;
  TG_CHECK(v.is_object(), w, ": tensor '", name, "': expected an object, got ", excerpt(v));
  for (const auto& [key, unused] : v.items())
    TG_CHECK(key == "dtype" || key == "shape" || key == "data_offsets", w, ": tensor '", name,
             "': unknown field '", key, "'");
  TG_CHECK(v.contains("dtype") && v.contains("shape") && v.contains("data_offsets"), w,
           ": tensor '", name, "': needs the fields dtype, shape and data_offsets");
  TensorInfo info{name, kFloat32, {}, 0, 0};
  TG_CHECK(v["dtype"].is_string(), w, ": tensor '", name, "': dtype must be a string");
  const auto code = v["dtype"].get<std::string>();
  TG_CHECK(parse_dtype(code, info.dtype), w, ": tensor '", name, "': unsupported dtype '", code,
           "' (tapegrad reads F32, F64, I64, U8 and BOOL)");
  TG_CHECK(v["shape"].is_array(), w, ": tensor '", name, "': shape must be an array");
  std::uint64_t numel = 1;
  bool overflow = false;
  for (const auto& d : v["shape"]) {
    const std::uint64_t n = checked_index(src, name, d, "shape");
    TG_CHECK(n <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()), w,
             ": tensor '", name, "': dimension ", n, " is too large");
    info.shape.push_back(static_cast<std::int64_t>(n));
    if (n != 0 && numel > std::numeric_limits<std::uint64_t>::max() / n) overflow = true;
    numel *= n;
  }
  const auto& off = v["data_offsets"];
  TG_CHECK(off.is_array() && off.size() == 2, w, ": tensor '", name,
           "': data_offsets must be [begin, end]");
  info.begin = checked_index(src, name, off[0], "data_offsets");
  info.end = checked_index(src, name, off[1], "data_offsets");
  TG_CHECK(info.begin <= info.end, w, ": tensor '", name, "': data_offsets [", info.begin, ", ",
           info.end, "] end before they begin");
  const std::uint64_t esize = element_size(info.dtype);
  const bool fits = !overflow && numel <= std::numeric_limits<std::uint64_t>::max() / esize;
  TG_CHECK(fits && info.end - info.begin == numel * esize, w, ": tensor '", name, "': ", code,
           " x ", shape_str(info.shape), " needs ", fits ? numel * esize : 0,
           " bytes but data_offsets [", info.begin, ", ", info.end, "] span ",
           info.end - info.begin);
  return info;
}

StateDict read_safetensors(const Source& src, Metadata* metadata) {
  const std::string& w = src.where;
  TG_CHECK(src.size >= 8, w, ": only ", src.size,
           " bytes; a safetensors file starts with an 8-byte header length");
  std::uint64_t n = 0;
  src.read(0, reinterpret_cast<char*>(&n), 8);
  TG_CHECK(n <= kMaxHeaderBytes, w, ": header length ", n, " exceeds the limit of ",
           kMaxHeaderBytes, " bytes (not a safetensors file?)");
  TG_CHECK(n <= src.size - 8, w, ": header length ", n, " runs past the end of the ", src.size,
           "-byte file (truncated?)");
  TG_CHECK(n >= 2, w, ": header length ", n, " is too small for a JSON object");
  std::string text(n, '\0');
  src.read(8, text.data(), n);
  TG_CHECK(text[0] == '{', w, ": the header must be a JSON object starting with '{'");
  // Nesting is capped while parsing: the JSON library's dump() and copy recurse once per level,
  // so a hostile header nested 100k deep would overflow the stack on the first error message.
  const json::parser_callback_t cap_depth = [&](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= kMaxHeaderDepth)
      throw Error(detail::concat(w, ": the header nests deeper than ", kMaxHeaderDepth,
                                 " levels (a safetensors header needs 3)"));
    return true;
  };
  json header;
  try {
    header = json::parse(text, cap_depth);
  } catch (const json::exception& e) {
    throw Error(detail::concat(w, ": the header is not valid JSON: ", e.what()));
  }
  TG_CHECK(header.is_object(), w, ": the header must be a JSON object");

  std::vector<TensorInfo> infos;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      TG_CHECK(value.is_object(), w, ": __metadata__ must be an object of strings");
      for (const auto& [k, v] : value.items()) {
        TG_CHECK(v.is_string(), w, ": __metadata__ value for '", k, "' must be a string, got ",
                 excerpt(v));
        if (metadata) (*metadata)[k] = v.get<std::string>();
      }
      continue;
    }
    infos.push_back(parse_info(src, key, value));
  }

  // The tensors must tile the data section exactly: no gaps, no overlaps, nothing after.
  const std::uint64_t data_size = src.size - 8 - n;
  std::sort(infos.begin(), infos.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  std::uint64_t expected = 0;
  const TensorInfo* prev = nullptr;
  for (const auto& info : infos) {
    TG_CHECK(info.end <= data_size, w, ": tensor '", info.name, "': data_offsets [", info.begin,
             ", ", info.end, "] run past the ", data_size, "-byte data section (truncated?)");
    TG_CHECK(info.begin >= expected, w, ": tensor '", info.name, "' [", info.begin, ", ", info.end,
             ") overlaps tensor '", prev ? prev->name : "", "' (ends at ", expected, ")");
    TG_CHECK(info.begin == expected, w, ": gap in the data section: bytes [", expected, ", ",
             info.begin, ") belong to no tensor (before '", info.name, "')");
    expected = info.end;
    prev = &info;
  }
  TG_CHECK(expected == data_size, w, ": ", data_size - expected,
           " trailing bytes after the last tensor (the data section is ", data_size,
           " bytes, tensors cover ", expected, ")");

  StateDict out;
  for (const auto& info : infos) {
    // An empty tensor still gets strides from its other sizes: they must fit too.
    check_shape(w + ": tensor '" + info.name + "'", info.shape);
    Tensor t = empty(info.shape, info.dtype);
    if (info.end > info.begin)
      src.read(8 + n + info.begin, static_cast<char*>(t.raw_data()), info.end - info.begin);
    if (info.dtype == kBool) {  // a bool byte other than 0 or 1 is not a bool: refuse it
      const auto* b = static_cast<const unsigned char*>(t.raw_data());
      for (std::uint64_t i = 0; i < info.end - info.begin; ++i)
        TG_CHECK(b[i] <= 1, w, ": tensor '", info.name, "': BOOL element ", i, " has byte value ",
                 static_cast<int>(b[i]), " (must be 0 or 1)");
    }
    out.emplace(info.name, t);
  }
  return out;
}

}  // namespace

std::string to_safetensors(const StateDict& tensors, const Metadata& metadata) {
  std::string out;
  write_safetensors(tensors, metadata,
                    [&](const char* data, std::size_t n) { out.append(data, n); });
  return out;
}

StateDict from_safetensors(const std::string& bytes, Metadata* metadata) {
  Source src{"from_safetensors", bytes.size(),
             [&](std::uint64_t offset, char* dst, std::uint64_t n) {
               std::memcpy(dst, bytes.data() + offset, n);
             }};
  try {
    return read_safetensors(src, metadata);
  } catch (const std::bad_alloc&) {
    throw Error("from_safetensors: out of memory");
  }
}

void save(const StateDict& tensors, const fs::path& path, const Metadata& metadata) {
  // Validate (and order) before touching the file system.
  try {
    ordered_entries(tensors);
  } catch (const std::bad_alloc&) {
    throw Error(detail::concat("save: '", path.string(), "': out of memory"));
  }
  detail::write_file_atomic_with(  // converts std::filesystem and allocation failures too
      path, [&](const detail::WriteChunk& write) { write_safetensors(tensors, metadata, write); },
      "save");
}

void save(const nn::Module& module, const fs::path& path, const Metadata& metadata) {
  save(module.state_dict(), path, metadata);
}

StateDict load(const fs::path& path, Metadata* metadata) {
  const std::string where = "load: '" + path.string() + "'";
  try {
    detail::InputFile in(path, where);  // refuses directories, FIFOs and devices without blocking
    Source src{where, in.size(), [&](std::uint64_t offset, char* dst, std::uint64_t n) {
                 in.read_at(offset, dst, static_cast<std::size_t>(n));
               }};
    return read_safetensors(src, metadata);
  } catch (const std::bad_alloc&) {
    throw Error(where + ": out of memory while reading the file");
  }
}

nn::LoadResult load(nn::Module& module, const fs::path& path, bool strict) {
  return module.load_state_dict(load(path), strict);
}

}  // namespace tg
