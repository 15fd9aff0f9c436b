#pragma once
// What the two character-model comparisons (char_lstm.h, char_gpt.h) share: random token
// batches that both frameworks train on, and the step timer.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

inline constexpr std::int64_t kCharVocab = 27;

struct CharBatches {
  std::int64_t batch = 64, steps = 16;  // [B, T] tokens per batch
  std::vector<std::vector<std::int64_t>> x, y;
};

inline CharBatches make_char_batches(int count, std::uint64_t seed, std::int64_t steps) {
  CharBatches b;
  b.steps = steps;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::int64_t> token(0, kCharVocab - 1);
  for (int i = 0; i < count; ++i) {
    std::vector<std::int64_t> x(static_cast<std::size_t>(b.batch * b.steps)), y(x.size());
    for (auto& v : x) v = token(rng);
    for (auto& v : y) v = token(rng);
    b.x.push_back(std::move(x));
    b.y.push_back(std::move(y));
  }
  return b;
}

// Runs step(i) for every batch and returns the median milliseconds of the steps after the first
// three (warm-up: caches, allocator, lazily built kernels).
template <typename Step>
double median_step_ms(const CharBatches& b, Step&& step) {
  std::vector<double> ms;
  for (std::size_t i = 0; i < b.x.size(); ++i) {
    const auto start = std::chrono::steady_clock::now();
    step(i);
    if (i >= 3)
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}
