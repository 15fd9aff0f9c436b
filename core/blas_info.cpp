#include "tapegrad/core/blas_info.h"
#include "tapegrad/core/detail/blas_select.h"

#include <cblas.h>
#include <cpuid.h>
#include <dlfcn.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <sstream>
#include <vector>

#include "tapegrad/core/threading.h"

namespace tg {
namespace detail {
namespace {

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::uint64_t xcr0() {
  std::uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
}

// The sets tapegrad may switch to, best first, with what each needs from the CPU.
struct Ladder {
  const char* name;
  bool (*fits)(const CpuFeatures&);
};
bool has_avx512(const CpuFeatures& c) {
  return c.avx512f && c.avx512bw && c.avx512vl && c.avx512dq && c.avx2 && c.fma;
}
constexpr Ladder kLadder[] = {
    {"Cooperlake", [](const CpuFeatures& c) { return has_avx512(c) && c.avx512bf16; }},
    {"SkylakeX", [](const CpuFeatures& c) { return has_avx512(c); }},
    {"Haswell", [](const CpuFeatures& c) { return c.avx2 && c.fma; }},
    {"Sandybridge", [](const CpuFeatures& c) { return c.avx; }},
    {"Prescott", [](const CpuFeatures& c) { return c.sse3; }},
};

const char* level_name(int level) {
  switch (level) {
    case 3:
      return "AVX-512";
    case 2:
      return "AVX2";
    case 1:
      return "AVX";
    default:
      return "SSE";
  }
}

int cpu_level(const CpuFeatures& c) {
  return has_avx512(c) ? 3 : (c.avx2 && c.fma) ? 2 : c.avx ? 1 : 0;
}

}  // namespace

CpuFeatures cpu_features() {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  f.sse3 = c & bit_SSE3;
  const bool osxsave = c & bit_OSXSAVE;
  const std::uint64_t xcr = osxsave ? xcr0() : 0;
  const bool ymm = (xcr & 0x6) == 0x6;    // SSE and AVX state saved by the OS
  const bool zmm = (xcr & 0xe6) == 0xe6;  // plus opmask and both ZMM halves
  f.avx = ymm && (c & bit_AVX);
  f.fma = ymm && (c & bit_FMA);
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f.avx2 = ymm && (b & bit_AVX2);
    f.avx512f = zmm && (b & bit_AVX512F);
    f.avx512bw = zmm && (b & bit_AVX512BW);
    f.avx512vl = zmm && (b & bit_AVX512VL);
    f.avx512dq = zmm && (b & bit_AVX512DQ);
  }
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) f.avx512bf16 = zmm && (a & (1u << 5));
  return f;
}

int kernel_level(std::string_view core) {
  static constexpr std::pair<const char*, int> kLevels[] = {
      {"Cooperlake", 3},    {"SkylakeX", 3},    {"SapphireRapids", 3}, {"Haswell", 2},
      {"Zen", 2},           {"Sandybridge", 1}, {"Bulldozer", 1},      {"Piledriver", 1},
      {"Steamroller", 1},   {"Excavator", 1},   {"Prescott", 0},       {"Core2", 0},
      {"Penryn", 0},        {"Dunnington", 0},  {"Nehalem", 0},        {"Atom", 0},
      {"Nano", 0},          {"Barcelona", 0},   {"Bobcat", 0},         {"Opteron", 0},
      {"Opteron(SSE3)", 0}, {"Athlon", 0},      {"Katmai", 0},         {"Coppermine", 0},
      {"Northwood", 0},     {"Banias", 0}};
  for (const auto& [name, level] : kLevels)
    if (same_name(core, name)) return level;
  return -1;
}

KernelChoice choose_kernels(const CpuFeatures& cpu, std::string_view openblas_core,
                            std::optional<std::string_view> user_env,
                            const std::function<bool(std::string_view)>& available) {
  const std::string core(openblas_core);
  if (user_env)
    return {core, "OPENBLAS_CORETYPE=" + std::string(*user_env) + " set by the user", false};
  const int have = cpu_level(cpu), used = kernel_level(core);
  // A name this code does not know (a later OpenBLAS's newer set): trust OpenBLAS's pick.
  if (used < 0) return {core, "OpenBLAS's own pick, a set tapegrad does not rank", false};
  if (used >= have)
    return {core, std::string("OpenBLAS's own pick, fits this CPU's ") + level_name(have), false};
  for (const auto& rung : kLadder) {
    if (!rung.fits(cpu) || kernel_level(rung.name) <= used) continue;
    if (!available(rung.name)) continue;
    return {rung.name,
            "OpenBLAS picked " + core + " on a CPU with " + level_name(have) + ": switched", true};
  }
  return {core,
          "OpenBLAS picked " + core + " on a CPU with " + level_name(have) +
              "; this OpenBLAS cannot switch to better kernels",
          false};
}

namespace {

std::once_flag g_selected;
BlasInfo g_info;  // written once under g_selected

// Symbols are looked up in the OpenBLAS this library calls (found from cblas_sgemm's address),
// which also works when tapegrad is loaded into a process with dlopen(RTLD_LOCAL).
void* blas_symbol(const char* name) {
  static void* const handle = [] {
    Dl_info info{};
    if (::dladdr(reinterpret_cast<void*>(&cblas_sgemm), &info) != 0 && info.dli_fname != nullptr)
      if (void* h = ::dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD)) return h;
    return RTLD_DEFAULT;
  }();
  return ::dlsym(handle, name);
}

using VoidFn = void (*)();
struct Dynamic {
  VoidFn init = nullptr, quit = nullptr;
  bool usable() const { return init && quit; }
};
Dynamic dynamic_arch() {
  return {reinterpret_cast<VoidFn>(blas_symbol("gotoblas_dynamic_init")),
          reinterpret_cast<VoidFn>(blas_symbol("gotoblas_dynamic_quit"))};
}

// A DYNAMIC_ARCH OpenBLAS exports one parameter table per kernel set: gotoblas_SKYLAKEX, ...
bool ships(std::string_view name) {
  std::string sym = "gotoblas_";
  for (char ch : name) sym += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return blas_symbol(sym.c_str()) != nullptr;
}

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

// OpenBLAS reads OPENBLAS_CORETYPE only in gotoblas_dynamic_init, which does nothing while a
// set is loaded; gotoblas_dynamic_quit unloads it. The variable is put back as it was, so child
// processes and later reads see the user's environment. This runs once, before tapegrad's first
// product; a product that another library runs at that very moment would race with it.
std::string force_kernels(const Dynamic& dyn, const std::string& name) {
  const std::optional<std::string> saved = env("OPENBLAS_CORETYPE");
  ::setenv("OPENBLAS_CORETYPE", name.c_str(), 1);
  dyn.quit();
  dyn.init();
  if (saved)
    ::setenv("OPENBLAS_CORETYPE", saved->c_str(), 1);
  else
    ::unsetenv("OPENBLAS_CORETYPE");
  return openblas_get_corename();
}

// Deterministic values in [-1, 1).
template <typename T>
std::vector<T> fill(std::size_t n, std::uint32_t seed) {
  std::vector<T> v(n);
  for (auto& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = static_cast<T>(static_cast<double>(seed >> 8) / (1u << 23) - 1.0);
  }
  return v;
}

// One product against a double-accumulated loop. Sizes that are not multiples of any kernel's
// tile, so the edge code runs too. Returns the worst error / tolerance (> 1: failed).
template <typename T>
double check_product(int m, int n, int k, bool ta, bool tb, bool corrupt) {
  const auto a = fill<T>(static_cast<std::size_t>(m) * k, 1u + m);
  const auto b = fill<T>(static_cast<std::size_t>(k) * n, 7u + n);
  std::vector<T> c(static_cast<std::size_t>(m) * n, T(0));
  const int lda = ta ? m : k, ldb = tb ? k : n;
  const auto op_a = ta ? CblasTrans : CblasNoTrans, op_b = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, op_a, op_b, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f,
                c.data(), n);
  else
    cblas_dgemm(CblasRowMajor, op_a, op_b, m, n, k, 1.0, a.data(), lda, b.data(), ldb, 0.0,
                c.data(), n);
  if (corrupt) c[c.size() / 2] += T(1);
  double worst = 0;
  const double eps = std::numeric_limits<T>::epsilon();
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double ref = 0, mag = 0;
      for (int p = 0; p < k; ++p) {
        const double x =
            ta ? a[static_cast<std::size_t>(p) * m + i] : a[static_cast<std::size_t>(i) * k + p];
        const double y =
            tb ? b[static_cast<std::size_t>(j) * k + p] : b[static_cast<std::size_t>(p) * n + j];
        ref += x * y;
        mag += std::abs(x * y);
      }
      const double got = c[static_cast<std::size_t>(i) * n + j];
      // Any summation order stays within k * eps * sum |a b| of the exact value.
      const double tol = 2.0 * k * eps * mag + std::numeric_limits<T>::min();
      const double err = std::abs(got - ref) / tol;
      worst = std::isfinite(err) ? std::max(worst, err) : std::numeric_limits<double>::infinity();
    }
  return worst;
}

// The self-check of the kernel set in use: float and double, every transpose pair, a tiny
// product and one above the kernels' blocking in K. Returns "" when it passes.
std::string self_check(const std::string& kernels) {
  const std::optional<std::string> fail = env("TAPEGRAD_TEST_BLAS_SELFCHECK_FAIL");
  const bool corrupt = fail && (same_name(*fail, "all") || same_name(*fail, kernels));
  struct Case {
    int m, n, k;
    bool ta, tb, dbl;
  };
  static constexpr Case kCases[] = {
      {37, 29, 67, false, false, false},  {37, 29, 67, true, false, false},
      {37, 29, 67, false, true, false},   {5, 3, 2, false, false, false},
      {41, 35, 611, false, false, false}, {23, 19, 45, false, true, true}};
  for (const auto& t : kCases) {
    const double worst = t.dbl ? check_product<double>(t.m, t.n, t.k, t.ta, t.tb, corrupt)
                               : check_product<float>(t.m, t.n, t.k, t.ta, t.tb, corrupt);
    if (!(worst <= 1.0)) {
      std::ostringstream os;
      os << (t.dbl ? "dgemm [" : "sgemm [") << t.m << ", " << t.k << "] x [" << t.k << ", " << t.n
         << "] off by " << worst << "x its tolerance";
      return os.str();
    }
  }
  return {};
}

void select_kernels() {
  const CpuFeatures cpu = cpu_features();
  const Dynamic dyn = dynamic_arch();
  const std::optional<std::string> user = env("OPENBLAS_CORETYPE");
  // Test seam: stand in for OpenBLAS's own detection picking an old set (as on a CPU it does not
  // know); a user's OPENBLAS_CORETYPE still wins, as it would over the real detection.
  if (const auto simulated = env("TAPEGRAD_TEST_BLAS_AUTOCORE"); simulated && !user && dyn.usable())
    force_kernels(dyn, *simulated);
  const std::string own = openblas_get_corename();
  KernelChoice choice = choose_kernels(
      cpu, own, user, [&](std::string_view name) { return dyn.usable() && ships(name); });
  // Candidates in order: the choice, then OpenBLAS's own, then the plain SSE3 set. A user's
  // setting is never replaced, only reported when it fails.
  std::vector<std::string> candidates{choice.kernels};
  if (!user && dyn.usable()) {
    if (!same_name(own, choice.kernels)) candidates.push_back(own);
    if (!same_name(own, "Prescott") && ships("Prescott")) candidates.push_back("Prescott");
  }
  std::string in_use = own, first_failure;
  bool passed = false;
  for (const auto& name : candidates) {
    if (!same_name(in_use, name)) in_use = force_kernels(dyn, name);
    std::string failure = same_name(in_use, name) ? self_check(in_use)
                                                  : "OpenBLAS did not switch (runs " + in_use + ")";
    if (failure.empty()) {
      passed = true;
      break;
    }
    if (first_failure.empty()) first_failure = name + " failed the self-check: " + failure;
  }
  if (!first_failure.empty()) {
    choice.reason = first_failure + "; " +
                    (passed ? "using " + in_use + " instead"
                     : user ? std::string("kept, as OPENBLAS_CORETYPE is set by the user")
                            : std::string("no kernel set passed, results may be wrong"));
    std::fprintf(stderr, "tapegrad: BLAS kernels %s\n", choice.reason.c_str());
  }
  const std::string config = openblas_get_config();  // "OpenBLAS 0.3.21 NO_LAPACKE ..."
  std::istringstream words(config);
  std::string library, version;
  words >> library >> version;
  g_info.library = library.empty() ? "OpenBLAS" : library;
  g_info.version = version;
  g_info.kernels = in_use;
  g_info.reason = choice.reason;
}

}  // namespace

void ensure_blas_ready() {
  use_blas_single_threaded();
  std::call_once(g_selected, select_kernels);
}

double blas_macs_per_ns() {
  ensure_blas_ready();
  static const double rate = [] {
    const int level = kernel_level(g_info.kernels);
    switch (level >= 0 ? level : cpu_level(cpu_features())) {
      // Single-core float32 GEMM speed in multiply-adds per ns of CPU time, on the four nets'
      // products (128x784x1024 down to 100x784x89) with each set forced, on a 2-core AMD EPYC
      // VM with AVX-512: Cooperlake/SkylakeX 61-83, Haswell/Zen 40-50, Sandybridge 34-45,
      // Prescott 14-19.
      case 3:
        return 70.0;
      case 2:
        return 47.0;
      case 1:
        return 38.0;
      default:
        return 16.0;
    }
  }();
  return rate;
}

}  // namespace detail

BlasInfo blas_info() {
  detail::ensure_blas_ready();
  BlasInfo info = detail::g_info;
  info.threads = get_num_threads();
  return info;
}

std::string BlasInfo::to_string() const {
  std::ostringstream os;
  os << library << " " << version << ", " << kernels << " kernels (" << reason << "), "
     << "single-threaded inside " << threads << " tapegrad thread" << (threads == 1 ? "" : "s");
  return os.str();
}

}  // namespace tg
