// BLAS kernel selection (core/blas_info.h): the decision as a pure function of (CPU features,
// OpenBLAS's pick, the user's OPENBLAS_CORETYPE), and the real thing on this machine. Each real
// case runs in a fresh process of this program (OpenBLAS reads OPENBLAS_CORETYPE when it loads),
// started with the environment of the case; the case itself is a disabled test that only runs
// when named. The Debian OpenBLAS fallback on a CPU it does not know (Intel model 207 gets the
// SSE3 "Prescott" set) is simulated with TAPEGRAD_TEST_BLAS_AUTOCORE, since this CPU is known.
#define BOOST_TEST_MODULE blas_select
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>
#include "tapegrad/core/detail/blas_select.h"  // internal: this test checks the library's own state

using namespace tg;
using detail::CpuFeatures;

namespace {

CpuFeatures avx2_cpu() {
  CpuFeatures c;
  c.sse3 = c.avx = c.avx2 = c.fma = true;
  return c;
}
CpuFeatures avx512_cpu(bool bf16) {
  CpuFeatures c = avx2_cpu();
  c.avx512f = c.avx512bw = c.avx512vl = c.avx512dq = true;
  c.avx512bf16 = bf16;
  return c;
}
bool every_set(std::string_view) { return true; }

// The set the ladder should end on for this machine.
std::string best_for(const CpuFeatures& c) {
  const bool avx512 = c.avx512f && c.avx512bw && c.avx512vl && c.avx512dq && c.avx2 && c.fma;
  if (avx512) return c.avx512bf16 ? "Cooperlake" : "SkylakeX";
  if (c.avx2 && c.fma) return "Haswell";
  return c.avx ? "Sandybridge" : "Prescott";
}

struct Child {
  int status = -1;
  std::string output;  // stdout and stderr together
};

// Runs one disabled case of this program in a fresh process; `env` values: nullopt unsets.
Child run_case(const std::string& name,
               const std::map<std::string, std::optional<std::string>>& env) {
  int fds[2];
  BOOST_REQUIRE(::pipe(fds) == 0);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    for (const auto& [k, v] : env) v ? ::setenv(k.c_str(), v->c_str(), 1) : ::unsetenv(k.c_str());
    const std::string arg = "--run_test=" + name;
    ::execl("/proc/self/exe", "test_blas_select", arg.c_str(), "--log_level=message",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  Child r;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) r.output.append(buf, n);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::vector<std::string> notice_lines(const std::string& out) {
  std::vector<std::string> lines;
  std::istringstream is(out);
  for (std::string line; std::getline(is, line);)
    if (line.rfind("tapegrad: BLAS", 0) == 0) lines.push_back(line);
  return lines;
}

// Inside a case: a product through tapegrad against a double loop.
void check_matmul_right() {
  manual_seed(1);
  const Tensor a = randn({67, 45}), b = randn({45, 131});
  const auto c = matmul(a, b).to_vector<float>();
  const auto av = a.to_vector<float>(), bv = b.to_vector<float>();
  double worst = 0;
  for (int i = 0; i < 67; ++i)
    for (int j = 0; j < 131; ++j) {
      double ref = 0;
      for (int p = 0; p < 45; ++p) ref += double(av[i * 45 + p]) * bv[p * 131 + j];
      worst = std::max(worst, std::abs(ref - c[i * 131 + j]));
    }
  BOOST_TEST(worst < 1e-4);
}

}  // namespace

// ---- the decision alone ----

BOOST_AUTO_TEST_CASE(generic_pick_on_newer_cpu_is_switched) {
  // Intel model 207 on Debian's 0.3.21: Prescott on a CPU with AVX-512 and BF16.
  auto c = detail::choose_kernels(avx512_cpu(true), "Prescott", std::nullopt, every_set);
  BOOST_TEST(c.kernels == "Cooperlake");
  BOOST_TEST(c.switch_needed);
  BOOST_TEST(c.reason.find("Prescott") != std::string::npos);
  c = detail::choose_kernels(avx512_cpu(false), "Prescott", std::nullopt, every_set);
  BOOST_TEST(c.kernels == "SkylakeX");
  c = detail::choose_kernels(avx2_cpu(), "Prescott", std::nullopt, every_set);
  BOOST_TEST(c.kernels == "Haswell");
  c = detail::choose_kernels(avx2_cpu(), "Sandybridge", std::nullopt, every_set);
  BOOST_TEST(c.kernels == "Haswell");
  // An AVX2 set on an AVX-512 CPU is older too (2x slower here: see core/blas_info.cpp).
  c = detail::choose_kernels(avx512_cpu(false), "Zen", std::nullopt, every_set);
  BOOST_TEST(c.kernels == "SkylakeX");
  BOOST_TEST(c.switch_needed);
}

BOOST_AUTO_TEST_CASE(fitting_pick_is_kept) {
  auto c = detail::choose_kernels(avx512_cpu(true), "Cooperlake", std::nullopt, every_set);
  BOOST_TEST(c.kernels == "Cooperlake");
  BOOST_TEST(!c.switch_needed);
  c = detail::choose_kernels(avx512_cpu(true), "SkylakeX", std::nullopt, every_set);
  BOOST_TEST(c.kernels == "SkylakeX");
  BOOST_TEST(!c.switch_needed);
  c = detail::choose_kernels(avx2_cpu(), "Zen", std::nullopt, every_set);  // AMD's own AVX2 set
  BOOST_TEST(c.kernels == "Zen");
  BOOST_TEST(!c.switch_needed);
  CpuFeatures sse;
  sse.sse3 = true;
  c = detail::choose_kernels(sse, "Core2", std::nullopt, every_set);
  BOOST_TEST(!c.switch_needed);
  // A name this code does not rank (a later OpenBLAS's newer set) is trusted, not replaced.
  c = detail::choose_kernels(avx512_cpu(true), "FutureLake", std::nullopt, every_set);
  BOOST_TEST(c.kernels == "FutureLake");
  BOOST_TEST(!c.switch_needed);
}

BOOST_AUTO_TEST_CASE(user_setting_is_never_replaced) {
  for (const char* user : {"Prescott", "Haswell", "Sandybridge"}) {
    const auto c =
        detail::choose_kernels(avx512_cpu(true), user, std::string_view(user), every_set);
    BOOST_TEST(c.kernels == user);
    BOOST_TEST(!c.switch_needed);
    BOOST_TEST(c.reason.find("set by the user") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(only_sets_the_library_ships) {
  const auto no_cooperlake = [](std::string_view n) { return n != "Cooperlake"; };
  auto c = detail::choose_kernels(avx512_cpu(true), "Prescott", std::nullopt, no_cooperlake);
  BOOST_TEST(c.kernels == "SkylakeX");
  // An OpenBLAS built for one CPU (no DYNAMIC_ARCH) cannot switch: keep it and say why.
  c = detail::choose_kernels(avx512_cpu(true), "Prescott", std::nullopt,
                             [](std::string_view) { return false; });
  BOOST_TEST(c.kernels == "Prescott");
  BOOST_TEST(!c.switch_needed);
  BOOST_TEST(c.reason.find("cannot switch") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(kernel_levels) {
  BOOST_TEST(detail::kernel_level("Prescott") == 0);
  BOOST_TEST(detail::kernel_level("sandybridge") == 1);  // OpenBLAS matches names in any case
  BOOST_TEST(detail::kernel_level("Haswell") == 2);
  BOOST_TEST(detail::kernel_level("Zen") == 2);
  BOOST_TEST(detail::kernel_level("SkylakeX") == 3);
  BOOST_TEST(detail::kernel_level("Cooperlake") == 3);
  BOOST_TEST(detail::kernel_level("Unknown") == -1);
}

// ---- the real library on this machine, one fresh process per case ----

namespace ut = boost::unit_test;

BOOST_AUTO_TEST_CASE(case_report, *ut::disabled()) {
  const BlasInfo info = blas_info();
  BOOST_TEST_MESSAGE("kernels=" << info.kernels << "|reason=" << info.reason << "|");
  BOOST_TEST(info.library == "OpenBLAS");
  BOOST_TEST(!info.version.empty());
  check_matmul_right();
  // Switching sets OPENBLAS_CORETYPE for a moment: the user's environment is put back.
  const char* now = std::getenv("OPENBLAS_CORETYPE");
  const char* before = std::getenv("TAPEGRAD_EXPECT_ENV");
  BOOST_TEST(std::string(now ? now : "<unset>") == std::string(before ? before : "<unset>"));
}

std::string field(const std::string& out, const std::string& key) {
  const auto at = out.find(key + "=");
  if (at == std::string::npos) return "<none>";
  const auto from = at + key.size() + 1;
  return out.substr(from, out.find('|', from) - from);
}

BOOST_AUTO_TEST_CASE(chosen_set_matches_this_cpu) {
  const CpuFeatures cpu = detail::cpu_features();
  BOOST_TEST_MESSAGE("this CPU's best OpenBLAS set: " << best_for(cpu));
  // Nothing set: OpenBLAS's own pick, or better.
  Child r = run_case("case_report", {{"OPENBLAS_CORETYPE", std::nullopt}});
  BOOST_TEST(r.status == 0, r.output);
  const int expected_level = detail::kernel_level(best_for(cpu));
  BOOST_TEST(detail::kernel_level(field(r.output, "kernels")) == expected_level, r.output);
  // OpenBLAS falls back to SSE3 on its own (simulated): switched to the CPU's best set.
  r = run_case("case_report",
               {{"OPENBLAS_CORETYPE", std::nullopt}, {"TAPEGRAD_TEST_BLAS_AUTOCORE", "Prescott"}});
  BOOST_TEST(r.status == 0, r.output);
  BOOST_TEST(field(r.output, "kernels") == best_for(cpu), r.output);
  BOOST_TEST(field(r.output, "reason").find("picked Prescott") != std::string::npos, r.output);
  BOOST_TEST(notice_lines(r.output).empty(), r.output);
  if (cpu.avx2 && cpu.fma) BOOST_TEST(detail::kernel_level(field(r.output, "kernels")) >= 2);
}

BOOST_AUTO_TEST_CASE(user_set_coretype_is_kept) {
  for (const char* user : {"Haswell", "Prescott"}) {
    const Child r = run_case("case_report", {{"OPENBLAS_CORETYPE", std::string(user)},
                                             {"TAPEGRAD_EXPECT_ENV", std::string(user)},
                                             {"TAPEGRAD_TEST_BLAS_AUTOCORE", "Prescott"}});
    BOOST_TEST(r.status == 0, r.output);
    BOOST_TEST(field(r.output, "kernels") == user, r.output);
    BOOST_TEST(field(r.output, "reason").find("set by the user") != std::string::npos, r.output);
  }
}

BOOST_AUTO_TEST_CASE(failed_self_check_falls_back_with_one_notice) {
  const std::string best = best_for(detail::cpu_features());
  // The switched-to set fails: back to what OpenBLAS picked, one line on stderr.
  Child r = run_case("case_report", {{"OPENBLAS_CORETYPE", std::nullopt},
                                     {"TAPEGRAD_TEST_BLAS_AUTOCORE", "Prescott"},
                                     {"TAPEGRAD_TEST_BLAS_SELFCHECK_FAIL", best}});
  BOOST_TEST(r.status == 0, r.output);
  BOOST_TEST(field(r.output, "kernels") == "Prescott", r.output);
  auto lines = notice_lines(r.output);
  BOOST_TEST_REQUIRE(lines.size() == 1u, r.output);
  BOOST_TEST(lines[0].find(best + " failed the self-check") != std::string::npos, lines[0]);
  BOOST_TEST(lines[0].find("using Prescott instead") != std::string::npos, lines[0]);
  // OpenBLAS's own pick fails, nothing was switched: the plain SSE3 set.
  r = run_case("case_report", {{"OPENBLAS_CORETYPE", std::nullopt},
                               {"TAPEGRAD_TEST_BLAS_AUTOCORE", best},
                               {"TAPEGRAD_TEST_BLAS_SELFCHECK_FAIL", best}});
  BOOST_TEST(r.status == 0, r.output);
  BOOST_TEST(field(r.output, "kernels") == "Prescott", r.output);
  lines = notice_lines(r.output);
  BOOST_TEST_REQUIRE(lines.size() == 1u, r.output);
  BOOST_TEST(lines[0].find(best + " failed the self-check") != std::string::npos, lines[0]);
  // A user's set that fails is kept, and said so.
  r = run_case("case_report", {{"OPENBLAS_CORETYPE", "Haswell"},
                               {"TAPEGRAD_EXPECT_ENV", "Haswell"},
                               {"TAPEGRAD_TEST_BLAS_SELFCHECK_FAIL", "Haswell"}});
  BOOST_TEST(r.status == 0, r.output);
  BOOST_TEST(field(r.output, "kernels") == "Haswell", r.output);
  lines = notice_lines(r.output);
  BOOST_TEST_REQUIRE(lines.size() == 1u, r.output);
  BOOST_TEST(lines[0].find("kept, as OPENBLAS_CORETYPE is set by the user") != std::string::npos,
             lines[0]);
}
