#pragma once
// Random numbers. Every draw comes from a Generator; the global one is reseeded by manual_seed,
// so a program that seeds once repeats exactly. Draws are serial, so results do not depend on
// the thread count.
#include <cstdint>
#include <random>
#include <string>

namespace tg {

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 5489u) : engine_(seed) {}
  void manual_seed(std::uint64_t seed) { engine_.seed(seed); }
  std::mt19937_64& engine() { return engine_; }
  double uniform();  // [0, 1)
  double normal();   // N(0, 1), Box-Muller: the same numbers on every standard library
  std::int64_t randint(std::int64_t low, std::int64_t high);  // [low, high)
  // The full state as text, for checkpoints; set_state restores it exactly.
  std::string state() const;
  void set_state(const std::string& state);

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

Generator& default_generator();
void manual_seed(std::uint64_t seed);

}  // namespace tg
