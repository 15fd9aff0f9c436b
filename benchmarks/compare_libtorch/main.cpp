// Side-by-side: trains the seed networks for a few epochs in tapegrad and in LibTorch (in its
// best thread configuration, found by trying), same data, same batch order, alternating epochs,
// and prints one line per net:
//   compare net=NAME tapegrad_s=X libtorch_s=Y ratio=X/Y bound_s=Z
// plus `compare op_overhead_us tapegrad=X libtorch=Y`. Times are medians of epochs 2..E.
#include <cblas.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <random>
#include <thread>

#include <tapegrad/core/blas_info.h>

#include "char_gpt.h"
#include "char_lstm.h"
#include "gemm_bound.h"
#include "tapegrad_side.h"
#include "torch_side.h"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// A line of /proc/self/status ("VmRSS:", "VmHWM:") in MiB.
double resident_mb(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(std::strlen(field))) / 1024.0;
  return 0.0;
}

struct ThreadConfig {
  int torch_threads;
  int blas_threads;
};

void apply(const ThreadConfig& c) {
  torch_set_threads(c.torch_threads);
  openblas_set_num_threads(c.blas_threads);
}

// One line per op and size: tapegrad on all cores against LibTorch's faster thread setting, both
// for a fresh result (what `torch::exp(x)` does) and into a kept buffer (`torch::exp_out`).
// The ratio is taken against the faster of LibTorch's two.
void compare_elementwise(int cores) {
  for (const std::int64_t n : {std::int64_t{1} << 20, std::int64_t{1} << 24}) {
    for (const auto& op : elementwise_ops()) {
      const double bytes = (is_binary(op) ? 12.0 : 8.0) * static_cast<double>(n);
      tapegrad_set_threads(cores);
      const double tg_s = tapegrad_elementwise_s(op, n);
      double fresh_s = 1e30, out_s = 1e30;
      for (const int t : {1, cores}) {
        apply({t, 1});
        fresh_s = std::min(fresh_s, torch_elementwise_s(op, n, false));
        out_s = std::min(out_s, torch_elementwise_s(op, n, true));
      }
      std::printf(
          "compare elementwise op=%s n=%lld tapegrad_gbs=%.1f libtorch_gbs=%.1f "
          "libtorch_out_gbs=%.1f ratio=%.2f\n",
          op.c_str(), static_cast<long long>(n), bytes / tg_s / 1e9, bytes / fresh_s / 1e9,
          bytes / out_s / 1e9, std::min(fresh_s, out_s) / tg_s);
      std::fflush(stdout);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tapegrad vs LibTorch, same OpenBLAS, same batches"};
  int epochs = 4;
  std::int64_t limit = 60000;
  std::vector<std::string> only;
  app.add_option("--epochs", epochs, "epochs per framework (the first is a warm-up)")
      ->check(CLI::Range(2, 100));
  app.add_option("--limit", limit, "training samples used")->check(CLI::Range(1000, 60000));
  app.add_option("--nets", only, "nets to run (default: all)");
  std::string memory;
  app.add_option("--memory", memory,
                 "train only this framework (tapegrad or libtorch), in its thread setting, and "
                 "print resident memory after every epoch and the peak; run once per framework")
      ->check(CLI::IsMember({"tapegrad", "libtorch"}));
  bool only_elementwise = false;
  app.add_flag("--elementwise", only_elementwise,
               "run only the elementwise comparison (the `compare elementwise` lines)");
  bool scaling = false;
  app.add_flag("--scaling", scaling,
               "train only tapegrad, on 1 thread and on all cores in alternating epochs, and print "
               "`scaling net=NAME threads1_s=X threadsN_s=Y ratio=Y/X`");
  int tg_threads = 0;
  app.add_option("--threads", tg_threads, "tapegrad's thread count (default: all cores)")
      ->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);

  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (tg_threads == 0) tg_threads = cores;
  // Which kernels run. LibTorch calls the same OpenBLAS in this process, so it runs on the kernel
  // set tapegrad selected too.
  tapegrad_set_threads(tg_threads);
  std::printf("compare blas=\"%s\"\n", tg::blas_info().to_string().c_str());
  std::fflush(stdout);
  if (only_elementwise) {
    compare_elementwise(cores);
    return 0;
  }

  // The character models, step by step: LibTorch at its fastest thread setting.
  const auto wanted = [&](const std::string& net) {
    return only.empty() || std::find(only.begin(), only.end(), net) != only.end();
  };
  const auto compare_char_net = [&](const char* net, const CharBatches& batches,
                                    double (*torch_step_ms)(const CharBatches&),
                                    double (*tapegrad_step_ms)(const CharBatches&)) {
    double torch_ms = 1e30;
    for (const ThreadConfig& c :
         {ThreadConfig{1, 1}, ThreadConfig{cores, 1}, ThreadConfig{1, cores}}) {
      apply(c);
      torch_ms = std::min(torch_ms, torch_step_ms(batches));
    }
    apply({1, 1});
    tapegrad_set_threads(tg_threads);
    const double tg_ms = tapegrad_step_ms(batches);
    std::printf("compare net=%s tapegrad_ms=%.2f libtorch_ms=%.2f ratio=%.3f\n", net, tg_ms,
                torch_ms, tg_ms / torch_ms);
    std::fflush(stdout);
  };
  if (wanted("char_lstm"))
    compare_char_net("char_lstm", make_char_batches(23, 99, kCharLstmSteps),
                     torch_char_lstm_step_ms, tapegrad_char_lstm_step_ms);
  if (wanted("char_gpt"))
    compare_char_net("char_gpt", make_char_batches(23, 99, kGptContext), torch_char_gpt_step_ms,
                     tapegrad_char_gpt_step_ms);
  if (!only.empty() && std::all_of(only.begin(), only.end(), [](const std::string& net) {
        return net == "char_lstm" || net == "char_gpt";
      }))
    return 0;

  const Data data = load_fashion_mnist(limit);
  std::mt19937_64 rng(1234);
  std::vector<Order> orders;
  for (int e = 0; e < epochs; ++e) {
    Order o(static_cast<std::size_t>(data.n));
    std::iota(o.begin(), o.end(), 0);
    std::shuffle(o.begin(), o.end(), rng);
    orders.push_back(std::move(o));
  }

  if (!memory.empty()) {  // one framework per process, so the peak is its own
    for (const auto& spec : comparison_nets()) {
      if (!only.empty() && std::find(only.begin(), only.end(), spec.name) == only.end()) continue;
      std::unique_ptr<Trainer> trainer;
      if (memory == "tapegrad") {
        trainer = make_tapegrad_trainer(spec, tg_threads);
      } else {
        apply({1, cores});
        trainer = make_torch_trainer(spec);
      }
      std::printf("memory framework=%s net=%s rss_mb_after_data=%.1f\n", memory.c_str(),
                  spec.name.c_str(), resident_mb("VmRSS:"));
      for (int e = 0; e < epochs; ++e) {
        const double s = trainer->train_epoch(data, orders[static_cast<std::size_t>(e)]);
        std::printf("memory framework=%s net=%s epoch=%d steps=%lld s=%.3f rss_mb=%.1f\n",
                    memory.c_str(), spec.name.c_str(), e + 1,
                    static_cast<long long>((e + 1) * (data.n / spec.batch)), s,
                    resident_mb("VmRSS:"));
      }
      std::printf("memory framework=%s net=%s peak_rss_mb=%.1f\n", memory.c_str(),
                  spec.name.c_str(), resident_mb("VmHWM:"));
      std::fflush(stdout);
    }
    return 0;
  }

  if (scaling) {  // two models from the same seed, so both runs do the same arithmetic
    for (const auto& spec : comparison_nets()) {
      if (!only.empty() && std::find(only.begin(), only.end(), spec.name) == only.end()) continue;
      auto one = make_tapegrad_trainer(spec, 1);
      auto all = make_tapegrad_trainer(spec, cores);
      std::vector<double> s1, sn;
      for (int e = 0; e < epochs; ++e) {
        tapegrad_set_threads(1);
        const double a = one->train_epoch(data, orders[static_cast<std::size_t>(e)]);
        tapegrad_set_threads(cores);
        const double b = all->train_epoch(data, orders[static_cast<std::size_t>(e)]);
        std::fprintf(stderr, "  epoch %d: 1 thread %.3f s  %d threads %.3f s\n", e + 1, a, cores,
                     b);
        if (e == 0) continue;
        s1.push_back(a);
        sn.push_back(b);
      }
      const double x = median(s1), y = median(sn);
      std::printf("scaling net=%s threads1_s=%.3f threads%d_s=%.3f ratio=%.3f\n", spec.name.c_str(),
                  x, cores, y, y / x);
      std::fflush(stdout);
    }
    return 0;
  }

  for (const auto& spec : comparison_nets()) {
    if (!only.empty() && std::find(only.begin(), only.end(), spec.name) == only.end()) continue;
    // LibTorch's best configuration: try each on a warm-up epoch of a fresh model.
    const std::vector<ThreadConfig> configs{{1, cores}, {1, 1}, {cores, cores}, {cores, 1}};
    ThreadConfig best = configs[0];
    double best_s = 1e30;
    for (const auto& c : configs) {
      apply(c);
      auto t = make_torch_trainer(spec);
      const double s = t->train_epoch(data, orders[0]);
      if (s < best_s) best_s = s, best = c;
    }
    std::fprintf(stderr, "%s: LibTorch best threads torch=%d blas=%d (%.2f s)\n", spec.name.c_str(),
                 best.torch_threads, best.blas_threads, best_s);

    auto torch_trainer = make_torch_trainer(spec);
    auto tg_trainer = make_tapegrad_trainer(spec, tg_threads);
    std::vector<double> tg_s, torch_s, bound_s;
    for (int e = 0; e < epochs; ++e) {  // alternate, so drifts of the machine hit both alike
      tapegrad_set_threads(tg_threads);
      const double a = tg_trainer->train_epoch(data, orders[e]);
      // The bound is the faster of OpenBLAS on all cores and on one: a lower bound either way.
      openblas_set_num_threads(cores);
      double g = gemm_bound_epoch(spec, data.n);
      openblas_set_num_threads(1);
      g = std::min(g, gemm_bound_epoch(spec, data.n));
      apply(best);
      const double b = torch_trainer->train_epoch(data, orders[e]);
      std::fprintf(
          stderr,
          "  epoch %d: tapegrad %.3f s (loss %.4f)  libtorch %.3f s (loss %.4f)  gemm %.3f s\n",
          e + 1, a, tg_trainer->last_loss(), b, torch_trainer->last_loss(), g);
      if (e == 0) continue;
      tg_s.push_back(a);
      torch_s.push_back(b);
      bound_s.push_back(g);
    }
    const double x = median(tg_s), y = median(torch_s), z = median(bound_s);
    std::printf("compare net=%s tapegrad_s=%.3f libtorch_s=%.3f ratio=%.3f bound_s=%.3f\n",
                spec.name.c_str(), x, y, x / y, z);
    std::fflush(stdout);
  }
  apply({1, 1});
  tapegrad_set_threads(1);
  std::printf("compare op_overhead_us tapegrad=%.3f libtorch=%.3f\n", tapegrad_op_overhead_us(),
              torch_op_overhead_us());
  std::fflush(stdout);
  if (only.empty()) compare_elementwise(cores);
  return 0;
}
