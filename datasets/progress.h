#pragma once
// A progress bar for a loop of known length (an epoch). On a terminal it redraws one line:
//   epoch 3  45% |#############                | 211/469 [00:12<00:14, 17.3it/s, loss=0.4231]
// When the output is not a terminal (CI, a log file) it prints plain lines every 10% instead.
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tg {

enum class ProgressMode {
  Off,    // print nothing
  Auto,   // a bar on a terminal, nothing otherwise
  On,     // a bar on a terminal, periodic lines otherwise
  Bar,    // always the redrawn bar
  Lines,  // always periodic lines
};

struct ProgressOptions {
  std::string desc = {};  // label before the bar, e.g. "epoch 3"
  ProgressMode mode = ProgressMode::On;
  std::ostream* out = nullptr;  // nullptr: std::cerr (terminal detected on stderr)
  int line_every_percent = 10;  // Lines mode: one line per this much progress
  double redraw_seconds = 0.1;  // Bar mode: at most one redraw per this interval
};

class ProgressBar {
 public:
  explicit ProgressBar(std::int64_t total, ProgressOptions options = {});
  ~ProgressBar();  // finishes the line
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update(std::int64_t steps = 1);  // `steps` more done
  // Shown after the rate as key=value (replaces an earlier value of the same key).
  void set_postfix(std::string_view key, double value);
  // Adds one batch's loss; the bar shows the running mean of this epoch as loss=....
  void add_loss(double loss);
  void finish();  // final draw and newline; idempotent

  bool active() const { return style_ != Style::None; }
  std::int64_t done() const { return done_; }
  std::int64_t total() const { return total_; }
  double elapsed_seconds() const;
  double rate() const;         // steps per second so far
  double mean_loss() const;    // NaN before the first add_loss
  std::string status() const;  // "211/469 [00:12<00:14, 17.3it/s, loss=0.4231]"

  static bool stderr_is_terminal();

 private:
  enum class Style { None, Bar, Lines };
  void draw(bool final);

  std::int64_t total_;
  ProgressOptions options_;
  std::ostream* out_;
  Style style_;
  std::int64_t done_ = 0;
  std::int64_t next_line_at_ = 0;  // Lines: step count of the next line
  std::vector<std::pair<std::string, double>> postfix_;
  double loss_sum_ = 0.0;
  std::int64_t loss_count_ = 0;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace tg
