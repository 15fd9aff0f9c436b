#pragma once
// `compare net=char_gpt`: the char_lm example's default --model gpt (token + position
// embeddings, n_embd 128, context 32, 4 pre-LN blocks of causal self-attention with 4 heads and
// a 4x GELU(tanh) MLP, final LayerNorm, linear head; AdamW with weight decay 0.1 on matrices
// only, betas 0.9/0.99, lr 2e-3) trained step by step in both frameworks on the same random
// token batches of the example's batch size (64) and full context; milliseconds per training
// step (median after warm-up).
#include <cstdint>

#include "char_batches.h"

inline constexpr std::int64_t kGptContext = 32, kGptEmbd = 128, kGptLayers = 4, kGptHeads = 4;

// Median milliseconds per step (forward, loss, zero_grad, backward, AdamW step) after warm-up.
double tapegrad_char_gpt_step_ms(const CharBatches& batches);
double torch_char_gpt_step_ms(const CharBatches& batches);
