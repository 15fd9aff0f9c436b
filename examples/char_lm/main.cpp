// A character-level language model that invents English words: a small GPT (default) trained on
// the lowercase words of Debian's wamerican list, each framed by a boundary token (".word.").
// Reports train and validation loss in nats per character next to the bigram and trigram
// baselines of the same split, prints 20 sampled words (* marks those not in the training
// list) and saves the weights as safetensors.
//
//   ./char_lm                        # GPT, default options
//   ./char_lm --epochs 2 --lr 1e-3 --plot '' --csv ''
#include <tapegrad/tapegrad.h>

#include <cmath>
#include <cstdlib>
#include <exception>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "common/harness.h"
#include "models.h"
#include "words.h"

using namespace tg;
namespace F = tg::nn::functional;
using namespace char_lm;

namespace {

struct Settings {
  std::string model = "gpt";
  std::string words = default_words_path().string();
  std::string save = "char_lm.safetensors";
  double weight_decay = 0.1;
  std::int64_t warmup = 200;    // steps of linear warm-up before the cosine decay
  std::int64_t max_steps = -1;  // stop early (smoke runs); -1: every epoch in full
  std::int64_t limit_train = -1;
  std::int64_t limit_val = -1;
  std::int64_t samples = 20;
  double temperature = 1.0;
  ModelConfig model_config;
};

std::string fixed(double v, int digits) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}

// Mean loss per character of `model` on `words`, in eval mode under no_grad.
double evaluate(nn::Module& model, const std::vector<std::string>& words) {
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<std::size_t> order(words.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  // Sorted by length: batches of similar words carry little padding.
  std::stable_sort(order.begin(), order.end(),
                   [&](auto a, auto b) { return words[a].size() < words[b].size(); });
  double total = 0.0;
  std::int64_t tokens = 0;
  for (std::size_t s = 0; s < order.size(); s += 512) {
    const std::vector<std::size_t> pick(
        order.begin() + static_cast<std::ptrdiff_t>(s),
        order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), s + 512)));
    const Batch b = make_batch(words, pick);
    const Tensor logits = model(b.x);
    total += F::cross_entropy(logits.reshape({-1, kVocab}), b.y.reshape({-1}),
                              {.reduction = F::Reduction::Sum, .ignore_index = kPad})
                 .item<double>();
    tokens += b.tokens;
  }
  model.train(was_training);
  return total / static_cast<double>(tokens);
}

// Draws a word letter by letter from the model, starting after the boundary token.
std::string sample_word(nn::Module& model, std::int64_t context, double temperature) {
  NoGradGuard no_grad;
  std::vector<std::int64_t> seq = {kBoundary};
  while (static_cast<std::int64_t>(seq.size()) < context) {
    const Tensor x = from_vector(seq, {1, static_cast<std::int64_t>(seq.size())});
    const Tensor last = model(x).select(1, -1);  // [1, vocab]
    const Tensor probs = F::softmax(last / temperature, -1);
    const std::int64_t next = multinomial(probs, 1).item<std::int64_t>();
    if (next == kBoundary) break;
    seq.push_back(next);
  }
  return decode({seq.begin() + 1, seq.end()});
}

}  // namespace

int main(int argc, char** argv) {
  examples::Options opts{
      .epochs = 8, .batch_size = 64, .lr = 2e-3, .plot = "char_lm.png", .csv = "char_lm.csv"};
  Settings s;
  CLI::App app{"character-level language model on the words of Debian's wamerican list"};
  app.add_option("--model", s.model, "gpt or lstm")
      ->check(CLI::IsMember(model_names()))
      ->capture_default_str();
  app.add_option("--epochs", opts.epochs, "training epochs")
      ->check(examples::positive())
      ->capture_default_str();
  app.add_option("--batch-size", opts.batch_size, "words per batch")
      ->check(examples::positive())
      ->capture_default_str();
  app.add_option("--lr", opts.lr, "peak learning rate of AdamW")
      ->check(examples::positive())
      ->capture_default_str();
  app.add_option("--weight-decay", s.weight_decay, "AdamW's decoupled weight decay (matrices only)")
      ->check(examples::non_negative())
      ->capture_default_str();
  app.add_option("--warmup", s.warmup, "steps of linear warm-up before the cosine decay")
      ->check(examples::non_negative())
      ->capture_default_str();
  app.add_option("--dropout", s.model_config.dropout, "dropout in the model")
      ->check(examples::probability())
      ->capture_default_str();
  app.add_option("--seed", opts.seed, "seed of init, batching and sampling")->capture_default_str();
  app.add_option("--threads", opts.threads, "threads; 0: every core")
      ->check(examples::non_negative())
      ->capture_default_str();
  app.add_option("--words", s.words, "word list, one word per line")->capture_default_str();
  app.add_option("--plot", opts.plot, "PNG of the loss curves (gnuplot); '' skips")
      ->capture_default_str();
  app.add_option("--csv", opts.csv, "CSV of the per-epoch losses; '' skips")->capture_default_str();
  app.add_option("--save", s.save, "safetensors file of the trained weights; '' skips")
      ->capture_default_str();
  app.add_option("--max-steps", s.max_steps, "stop after this many steps; -1: all epochs")
      ->capture_default_str();
  app.add_option("--limit-train", s.limit_train, "train on the first N training words; -1: all")
      ->capture_default_str();
  app.add_option("--limit-val", s.limit_val,
                 "validate on the first N validation words; -1: all (baselines use all)")
      ->capture_default_str();
  app.add_option("--samples", s.samples, "words to sample at the end")->capture_default_str();
  app.add_option("--temperature", s.temperature, "sampling temperature")
      ->check(examples::positive())
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    manual_seed(opts.seed);
    if (opts.threads > 0) set_num_threads(static_cast<int>(opts.threads));
    std::cout << "model=" << s.model << " epochs=" << opts.epochs
              << " batch_size=" << opts.batch_size << " lr=" << opts.lr << " seed=" << opts.seed
              << " threads=" << get_num_threads() << std::endl;

    const std::int64_t context = s.model_config.context;
    Words words = load_words(s.words, context - 1);
    if (s.limit_train > 0 && s.limit_train < static_cast<std::int64_t>(words.train.size()))
      words.train.resize(static_cast<std::size_t>(s.limit_train));
    const double bigram = ngram_loss(words, 2), trigram = ngram_loss(words, 3);
    std::cout << "baselines on the validation words (nats/char): bigram " << fixed(bigram, 4)
              << ", trigram " << fixed(trigram, 4) << ", uniform " << fixed(std::log(27.0), 4)
              << std::endl;

    if (s.limit_val > 0 && s.limit_val < static_cast<std::int64_t>(words.val.size()))
      words.val.resize(static_cast<std::size_t>(s.limit_val));

    std::unique_ptr<nn::Module> model = make_model(s.model, s.model_config);
    std::cout << *model << "\n";

    // Weight decay on matrices only (not on biases and LayerNorm), as GPT-2 is trained.
    std::vector<Tensor> decay, no_decay;
    for (auto& p : model->parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
    optim::AdamW opt(decay, {.lr = opts.lr, .betas = {0.9, 0.99}, .weight_decay = s.weight_decay});
    opt.add_param_group(no_decay, {.lr = opts.lr, .betas = {0.9, 0.99}, .weight_decay = 0.0});

    std::mt19937_64 rng(opts.seed);
    const auto steps_per_epoch =
        static_cast<std::int64_t>((words.train.size() + opts.batch_size - 1) / opts.batch_size);
    std::int64_t total_steps = steps_per_epoch * opts.epochs;
    if (s.max_steps > 0) total_steps = std::min(total_steps, s.max_steps);
    const std::int64_t warmup = std::min(s.warmup, std::max<std::int64_t>(total_steps - 1, 1));
    // Linear warm-up from 1% of the rate, then cosine decay to 10% of it, stepped per batch.
    optim::LinearLR warm(opt, {.start_factor = 0.01, .end_factor = 1.0, .total_iters = warmup});
    optim::CosineAnnealingLR cosine(
        opt, {.T_max = std::max<std::int64_t>(total_steps - warmup, 1), .eta_min = opts.lr / 10});
    optim::SequentialLR schedule(opt, {warm, cosine}, {warmup});

    TrainingLog log;
    std::int64_t step = 0;
    const auto start = std::chrono::steady_clock::now();
    double val_loss = std::nan("");
    for (std::int64_t epoch = 1; epoch <= opts.epochs && step < total_steps; ++epoch) {
      const auto epoch_start = std::chrono::steady_clock::now();
      const auto batches = epoch_batches(words.train, opts.batch_size, rng);
      const auto n =
          std::min<std::int64_t>(static_cast<std::int64_t>(batches.size()), total_steps - step);
      ProgressBar bar(n, {.desc = "epoch " + std::to_string(epoch)});
      double loss_sum = 0.0;
      std::int64_t loss_tokens = 0;
      model->train();
      for (std::int64_t i = 0; i < n; ++i, ++step) {
        const Batch b = make_batch(words.train, batches[static_cast<std::size_t>(i)]);
        const Tensor logits = (*model)(b.x);
        const Tensor loss = F::cross_entropy(logits.reshape({-1, kVocab}), b.y.reshape({-1}),
                                             {.ignore_index = kPad});
        opt.zero_grad();
        loss.backward();
        optim::clip_grad_norm_(model->parameters(), 1.0);
        opt.step();
        schedule.step();
        const double l = loss.item<double>();
        loss_sum += l * static_cast<double>(b.tokens);
        loss_tokens += b.tokens;
        bar.add_loss(l);
        bar.update();
      }
      bar.finish();
      val_loss = evaluate(*model, words.val);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
      log.add(epoch, {{"train_loss", loss_sum / static_cast<double>(loss_tokens)},
                      {"val_loss", val_loss},
                      {"lr", opt.lr()},
                      {"seconds", seconds}});
      log.print_last(std::cout);
    }
    const double train_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    std::cout << "\n" << s.samples << " sampled words (* = not in the training list):\n";
    std::int64_t fresh = 0;
    for (std::int64_t i = 0; i < s.samples; ++i) {
      const std::string w = sample_word(*model, context, s.temperature);
      const bool is_new = !words.train_set.count(w);
      fresh += is_new;
      std::cout << "  " << (is_new ? "*" : " ") << " " << (w.empty() ? "(empty)" : w) << "\n";
    }
    std::cout << fresh << " of " << s.samples << " are new\n";
    if (!opts.csv.empty()) {
      log.write_csv(opts.csv);
      std::cout << "wrote " << opts.csv << "\n";
    }
    if (!opts.plot.empty() && log.plot(opts.plot, {.title = "char_lm " + s.model}))
      std::cout << "wrote " << opts.plot << "\n";
    if (!s.save.empty()) {
      save(*model, s.save);
      std::cout << "wrote " << s.save << "\n";
    }
    std::cout << "char_lm " << s.model << ": " << step << " steps in " << fixed(train_seconds, 1)
              << " s; validation " << fixed(val_loss, 4) << " vs bigram " << fixed(bigram, 4)
              << ", trigram " << fixed(trigram, 4) << " nats/char\n";
    std::cout << "val_loss=" << fixed(val_loss, 4) << std::endl;
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "error: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
