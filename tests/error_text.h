#pragma once
// Helpers the suites share for checking error messages.
#include <exception>
#include <string>

#include <tapegrad/core/error.h>

namespace tg::test {

// The message of the tg::Error that `f` throws; "<no error>" when it returns, and a marked
// message for any other exception, so a check that expects tg::Error text fails visibly.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("non-tg exception: ") + e.what();
  }
  return "<no error>";
}

inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace tg::test
