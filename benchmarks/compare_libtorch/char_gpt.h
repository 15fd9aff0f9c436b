#pragma once
// `compare net=char_gpt`: the char_lm example's default --model gpt (token + position
// embeddings, n_embd 128, context 32, 4 pre-LN blocks of causal self-attention with 4 heads and
// a 4x GELU(tanh) MLP, final LayerNorm, linear head; AdamW with weight decay 0.1 on matrices
// only, betas 0.9/0.99, lr 2e-3) trained step by step in both frameworks on the same random
// token batches of the example's batch size (64) and full context; milliseconds per training
// step (median after warm-up).
#include <cstdint>
#include <random>
#include <vector>

#include "char_lstm.h"  // CharBatches, kCharVocab

inline constexpr std::int64_t kGptContext = 32, kGptEmbd = 128, kGptLayers = 4, kGptHeads = 4;

inline CharBatches make_char_gpt_batches(int count, std::uint64_t seed) {
  CharBatches b;
  b.steps = kGptContext;
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
double tapegrad_char_gpt_step_ms(const CharBatches& batches);
double torch_char_gpt_step_ms(const CharBatches& batches);
