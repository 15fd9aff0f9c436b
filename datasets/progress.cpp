#include "tapegrad/datasets/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>

namespace tg {

namespace {

std::string clock_str(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%02lld:%02lld", s / 60, s % 60);
  return buf;
}

std::string number_str(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace

bool ProgressBar::stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

ProgressBar::ProgressBar(std::int64_t total, ProgressOptions options)
    : total_(std::max<std::int64_t>(total, 0)),
      options_(std::move(options)),
      out_(options_.out ? options_.out : &std::cerr) {
  // Only stderr can be asked whether it is a terminal; another stream counts as a log.
  const bool terminal = options_.out == nullptr && stderr_is_terminal();
  switch (options_.mode) {
    case ProgressMode::Off:
      style_ = Style::None;
      break;
    case ProgressMode::Auto:
      style_ = terminal ? Style::Bar : Style::None;
      break;
    case ProgressMode::On:
      style_ = terminal ? Style::Bar : Style::Lines;
      break;
    case ProgressMode::Bar:
      style_ = Style::Bar;
      break;
    case ProgressMode::Lines:
      style_ = Style::Lines;
      break;
  }
  options_.line_every_percent = std::clamp(options_.line_every_percent, 1, 100);
  next_line_at_ = (total_ * options_.line_every_percent + 99) / 100;
  start_ = last_draw_ = std::chrono::steady_clock::now();
  if (style_ == Style::Bar) draw(false);
}

ProgressBar::~ProgressBar() {
  try {
    finish();
  } catch (...) {  // a destructor must not throw; losing the last line is harmless
  }
}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double ProgressBar::rate() const {
  const double t = elapsed_seconds();
  return t > 0 ? static_cast<double>(done_) / t : 0.0;
}

double ProgressBar::mean_loss() const {
  return loss_count_ ? loss_sum_ / static_cast<double>(loss_count_)
                     : std::numeric_limits<double>::quiet_NaN();
}

void ProgressBar::set_postfix(std::string_view key, double value) {
  for (auto& [k, v] : postfix_)
    if (k == key) {
      v = value;
      return;
    }
  postfix_.emplace_back(std::string(key), value);
}

void ProgressBar::add_loss(double loss) {
  loss_sum_ += loss;
  ++loss_count_;
}

std::string ProgressBar::status() const {
  const double r = rate();
  const double eta =
      r > 0 ? static_cast<double>(total_ - done_) / r : std::numeric_limits<double>::quiet_NaN();
  std::string s = std::to_string(done_) + "/" + std::to_string(total_) + " [" +
                  clock_str(elapsed_seconds()) + "<" + clock_str(eta) + ", ";
  char buf[32];
  if (r >= 1.0 || r == 0.0)
    std::snprintf(buf, sizeof buf, "%.1fit/s", r);
  else
    std::snprintf(buf, sizeof buf, "%.2fs/it", 1.0 / r);
  s += buf;
  if (loss_count_) s += ", loss=" + number_str(mean_loss());
  for (const auto& [k, v] : postfix_) s += ", " + k + "=" + number_str(v);
  return s + "]";
}

void ProgressBar::update(std::int64_t steps) {
  if (finished_) return;
  done_ = std::min(total_, done_ + std::max<std::int64_t>(steps, 0));
  if (style_ == Style::Bar) {
    const auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - last_draw_).count() >= options_.redraw_seconds) {
      last_draw_ = now;
      draw(false);
    }
  } else if (style_ == Style::Lines && done_ >= next_line_at_ && done_ < total_) {
    draw(false);
    // The next multiple of the interval beyond done_, so a big jump prints one line, not many.
    const std::int64_t step = options_.line_every_percent;
    const std::int64_t pct = done_ * 100 / std::max<std::int64_t>(total_, 1);
    next_line_at_ = (total_ * ((pct / step + 1) * step) + 99) / 100;
  }
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (style_ != Style::None) draw(true);
}

void ProgressBar::draw(bool final) {
  const int pct = total_ ? static_cast<int>(done_ * 100 / total_) : 100;
  std::string line;
  if (!options_.desc.empty()) line += options_.desc + " ";
  char buf[8];
  std::snprintf(buf, sizeof buf, "%3d%% ", pct);
  line += buf;
  if (style_ == Style::Bar) {
    constexpr int kWidth = 30;
    const int filled = total_ ? static_cast<int>(done_ * kWidth / total_) : kWidth;
    line = "\r" + line + "|" + std::string(filled, '#') + std::string(kWidth - filled, ' ') + "| ";
    line += status() + "\033[K";  // clear what a longer previous line left behind
    if (final) line += "\n";
  } else {
    line += status() + "\n";
  }
  *out_ << line << std::flush;
}

}  // namespace tg
