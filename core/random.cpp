#include "tapegrad/core/random.h"

#include <cmath>
#include <numbers>
#include <sstream>

#include "tapegrad/core/error.h"

namespace tg {

double Generator::uniform() {
  // 53 random bits -> [0, 1), identical on every platform (std::uniform_real_distribution is not).
  return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
}

double Generator::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = uniform();
  while (u1 <= 0.0) u1 = uniform();
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  spare_ = r * std::sin(2.0 * std::numbers::pi * u2);
  has_spare_ = true;
  return r * std::cos(2.0 * std::numbers::pi * u2);
}

std::int64_t Generator::randint(std::int64_t low, std::int64_t high) {
  TG_CHECK(low < high, "randint: low (", low, ") must be less than high (", high, ")");
  // In uint64: high - low may not fit int64 (randint(INT64_MIN, INT64_MAX) is valid, as in
  // PyTorch).
  const std::uint64_t range = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
  // Rejection sampling keeps the draw unbiased.
  const std::uint64_t limit =
      std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % range;
  std::uint64_t v = engine_();
  while (v >= limit) v = engine_();
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + v % range);  // mod 2^64
}

std::string Generator::state() const {
  std::ostringstream os;
  os << engine_ << ' ' << has_spare_ << ' ';
  os.precision(17);
  os << std::hexfloat << spare_;
  return os.str();
}

void Generator::set_state(const std::string& state) {
  std::istringstream is(state);
  std::mt19937_64 e;
  bool has = false;
  std::string spare_text;
  is >> e >> has >> spare_text;
  TG_CHECK(!is.fail(), "Generator::set_state: malformed generator state");
  engine_ = e;
  has_spare_ = has;
  spare_ = std::strtod(spare_text.c_str(), nullptr);
}

Generator& default_generator() {
  static Generator gen;
  return gen;
}

void manual_seed(std::uint64_t seed) { default_generator() = Generator(seed); }

}  // namespace tg
