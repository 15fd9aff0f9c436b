#pragma once
// `compare net=char_lstm`: the char_lm example's --model lstm (Embedding(27, 128) -> 2-layer
// LSTM(128, 256, batch_first) -> Linear(256, 27), AdamW, cross entropy) trained step by step
// in both frameworks on the same random token batches; milliseconds per training step (median).
#include <cstdint>
#include <random>
#include <vector>

struct CharBatches {
  std::int64_t batch = 64, steps = 16;  // [B, T] tokens per batch
  std::vector<std::vector<std::int64_t>> x, y;
};

inline constexpr std::int64_t kCharVocab = 27, kCharEmbd = 128, kCharHidden = 256;

inline CharBatches make_char_batches(int count, std::uint64_t seed) {
  CharBatches b;
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

// Median milliseconds per step (forward, loss, zero_grad, backward, AdamW step) after warm-up.
double tapegrad_char_lstm_step_ms(const CharBatches& batches);
double torch_char_lstm_step_ms(const CharBatches& batches);
