#pragma once
// The text of the character-level language model: Debian's word list, the split, the token
// encoding, length-bucketed batches and the n-gram baselines.
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include <tapegrad/tapegrad.h>

namespace char_lm {

// Token 0 is the boundary that frames every word (".word."); 'a'..'z' are 1..26.
inline constexpr std::int64_t kBoundary = 0;
inline constexpr std::int64_t kVocab = 27;
inline constexpr std::int64_t kPad = -100;  // target of padding: cross_entropy's ignore_index

std::filesystem::path default_words_path();

struct Words {
  std::vector<std::string> train, val;
  std::unordered_set<std::string> train_set;  // to mark sampled words that are new
};

// Reads the lowercase a-z words (others, e.g. with capitals or apostrophes, are skipped; each
// kept word once) and splits them 90/10 after a shuffle with a fixed seed, so every run and
// every model sees the same split. A missing file is an error naming the Debian package.
Words load_words(const std::filesystem::path& path, std::int64_t max_len);

// One batch: inputs [B, T] (boundary then the letters, padded with the boundary) and targets
// [B, T] (the letters then the boundary, padded with kPad), T = the longest word + 1.
struct Batch {
  tg::Tensor x, y;
  std::int64_t tokens = 0;  // targets that count (not padding)
};
Batch make_batch(const std::vector<std::string>& words, const std::vector<std::size_t>& pick);

// An epoch's batches: shuffled, then grouped by length within windows of 50 batches so that
// little of each batch is padding, then the batch order shuffled again.
std::vector<std::vector<std::size_t>> epoch_batches(const std::vector<std::string>& words,
                                                    std::int64_t batch_size, std::mt19937_64& rng);

// Cross-entropy (nats per character, the closing boundary included) on `val` of an order-n
// model counted on `train` (n = 2: bigram, 3: trigram; contexts padded with the boundary),
// add-k smoothed with k = 0.1.
double ngram_loss(const Words& words, int order);

std::string decode(const std::vector<std::int64_t>& tokens);

}  // namespace char_lm
