#pragma once
// Every misuse a user can type ends here: a tg::Error whose message names the op and the values.
#include <sstream>
#include <stdexcept>
#include <string>

namespace tg {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace tg

// TG_CHECK(cond, "op: ", values...) throws tg::Error with the concatenated message.
#define TG_CHECK(cond, ...)                                            \
  do {                                                                 \
    if (!(cond)) throw ::tg::Error(::tg::detail::concat(__VA_ARGS__)); \
  } while (0)
