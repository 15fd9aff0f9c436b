#include "words.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>

namespace char_lm {

std::filesystem::path default_words_path() { return "/usr/share/dict/words"; }

Words load_words(const std::filesystem::path& path, std::int64_t max_len) {
  std::ifstream in(path);
  TG_CHECK(in.good(), "cannot read the word list ", path.string(),
           ": install Debian's wamerican package (sudo apt-get install wamerican) or pass "
           "--words FILE");
  std::vector<std::string> all;
  std::string line;
  std::int64_t too_long = 0;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() ||
        !std::all_of(line.begin(), line.end(), [](char c) { return c >= 'a' && c <= 'z'; }))
      continue;
    if (static_cast<std::int64_t>(line.size()) > max_len) {
      ++too_long;
      continue;
    }
    all.push_back(line);
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  TG_CHECK(all.size() >= 10, "the word list ", path.string(), " has only ", all.size(),
           " lowercase a-z words");
  std::mt19937_64 rng(20261206);  // the split does not depend on --seed
  std::shuffle(all.begin(), all.end(), rng);
  const auto n_train = all.size() * 9 / 10;
  Words w;
  w.train.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n_train));
  w.val.assign(all.begin() + static_cast<std::ptrdiff_t>(n_train), all.end());
  w.train_set.insert(w.train.begin(), w.train.end());
  std::cout << "words: " << all.size() << " lowercase a-z words from " << path.string() << " ("
            << w.train.size() << " train, " << w.val.size() << " validation";
  if (too_long > 0) std::cout << "; " << too_long << " longer than " << max_len << " skipped";
  std::cout << ")" << std::endl;
  return w;
}

Batch make_batch(const std::vector<std::string>& words, const std::vector<std::size_t>& pick) {
  std::size_t longest = 0;
  for (auto i : pick) longest = std::max(longest, words[i].size());
  const auto B = static_cast<std::int64_t>(pick.size());
  const auto T = static_cast<std::int64_t>(longest) + 1;
  std::vector<std::int64_t> x(static_cast<std::size_t>(B * T), kBoundary),
      y(static_cast<std::size_t>(B * T), kPad);
  Batch b;
  for (std::int64_t r = 0; r < B; ++r) {
    const std::string& w = words[pick[static_cast<std::size_t>(r)]];
    const auto row = static_cast<std::size_t>(r * T);
    for (std::size_t j = 0; j < w.size(); ++j) {
      x[row + j + 1] = w[j] - 'a' + 1;
      y[row + j] = w[j] - 'a' + 1;
    }
    y[row + w.size()] = kBoundary;
    b.tokens += static_cast<std::int64_t>(w.size()) + 1;
  }
  b.x = tg::from_vector(x, {B, T});
  b.y = tg::from_vector(y, {B, T});
  return b;
}

std::vector<std::vector<std::size_t>> epoch_batches(const std::vector<std::string>& words,
                                                    std::int64_t batch_size, std::mt19937_64& rng) {
  std::vector<std::size_t> order(words.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  const auto bs = static_cast<std::size_t>(batch_size);
  const std::size_t window = bs * 50;
  for (std::size_t s = 0; s < order.size(); s += window) {
    auto e = order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), s + window));
    std::stable_sort(
        order.begin() + static_cast<std::ptrdiff_t>(s), e,
        [&](std::size_t a, std::size_t b) { return words[a].size() < words[b].size(); });
  }
  std::vector<std::vector<std::size_t>> batches;
  for (std::size_t s = 0; s < order.size(); s += bs)
    batches.emplace_back(
        order.begin() + static_cast<std::ptrdiff_t>(s),
        order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), s + bs)));
  std::shuffle(batches.begin(), batches.end(), rng);
  return batches;
}

double ngram_loss(const Words& words, int order) {
  const double k = 0.1;
  std::map<std::string, double> count, context;
  auto framed = [order](const std::string& w) { return std::string(order - 1, '.') + w + '.'; };
  for (const auto& w : words.train) {
    const std::string s = framed(w);
    for (std::size_t i = order - 1; i < s.size(); ++i) {
      count[s.substr(i + 1 - order, order)] += 1;
      context[s.substr(i + 1 - order, order - 1)] += 1;
    }
  }
  double nll = 0.0;
  std::int64_t n = 0;
  for (const auto& w : words.val) {
    const std::string s = framed(w);
    for (std::size_t i = order - 1; i < s.size(); ++i) {
      const auto c = count.find(s.substr(i + 1 - order, order));
      const auto x = context.find(s.substr(i + 1 - order, order - 1));
      const double num = (c == count.end() ? 0.0 : c->second) + k;
      const double den = (x == context.end() ? 0.0 : x->second) + k * kVocab;
      nll -= std::log(num / den);
      ++n;
    }
  }
  return nll / static_cast<double>(n);
}

std::string decode(const std::vector<std::int64_t>& tokens) {
  std::string s;
  for (auto t : tokens) s += t == kBoundary ? '.' : static_cast<char>('a' + t - 1);
  return s;
}

}  // namespace char_lm
