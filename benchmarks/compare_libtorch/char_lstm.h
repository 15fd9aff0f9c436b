#pragma once
// `compare net=char_lstm`: the char_lm example's --model lstm (Embedding(27, 128) -> 2-layer
// LSTM(128, 256, batch_first) -> Linear(256, 27), AdamW, cross entropy) trained step by step
// in both frameworks on the same random token batches; milliseconds per training step (median).
#include <cstdint>

#include "char_batches.h"

inline constexpr std::int64_t kCharEmbd = 128, kCharHidden = 256, kCharLstmSteps = 16;

// Median milliseconds per step (forward, loss, zero_grad, backward, AdamW step) after warm-up.
double tapegrad_char_lstm_step_ms(const CharBatches& batches);
double torch_char_lstm_step_ms(const CharBatches& batches);
