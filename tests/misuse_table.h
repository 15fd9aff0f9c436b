#pragma once
// The misuse-table runner shared by test_misuse.cpp and test_misuse_io.cpp. A row is (name, call,
// substrings the tg::Error message must contain); the runner checks the message, not only the
// exception type.
//
// A row with a non-empty `known_issue` documents a library defect that is not fixed yet (the row
// says where, and the issue-7 report gives the fix). Such rows run in a forked child, so a crash,
// a sanitizer abort or a hang cannot take the suite down, and are reported through
// BOOST_TEST_CONTEXT / BOOST_WARN so a reviewer sees them without failing the suite. Once the
// library is fixed the warning says so: then drop the mark and the row becomes a hard check.
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <functional>
#include <string>
#include <typeinfo>
#include <vector>

#include "error_text.h"
#include "run_in_child.h"

namespace tg::misuse {

struct Misuse {
  std::string name;
  std::function<void()> call;
  std::vector<std::string> expect;  // every one must occur in the tg::Error message
  std::string known_issue = {};     // non-empty: a reported library defect (warn, not fail)
};

using test::contains;

// What a call did: "" when it threw tg::Error (message in `msg`), else a description.
inline std::string outcome(const std::function<void()>& call, std::string& msg) {
  try {
    call();
  } catch (const Error& e) {
    msg = e.what();
    return "";
  } catch (const std::exception& e) {
    return std::string("a non-tg exception (") + typeid(e).name() + "): " + e.what();
  }
  return "no exception";
}

// The same in a forked child with a time limit: for rows known to crash or hang.
inline std::string outcome_isolated(const std::function<void()>& call, std::string& msg) {
  const auto child = testing::run_in_child([&] {
    std::string m;
    const std::string bad = outcome(call, m);
    return bad.empty() ? "E" + m : "X" + bad;
  });
  if (!child.finished) return child.text;
  if (child.text[0] == 'E') return msg = child.text.substr(1), "";
  return child.text.substr(1);
}

inline void run_table(const std::vector<Misuse>& table) {
  for (const auto& row : table) {
    BOOST_TEST_CONTEXT("misuse case '"
                       << row.name << "'"
                       << (row.known_issue.empty() ? std::string()
                                                   : " [KNOWN ISSUE: " + row.known_issue + "]")) {
      std::string msg;
      const std::string bad =
          row.known_issue.empty() ? outcome(row.call, msg) : outcome_isolated(row.call, msg);
      bool ok = bad.empty();
      std::string missing;
      for (const auto& part : row.expect)
        if (!contains(msg, part)) ok = false, missing += " '" + part + "'";
      if (row.known_issue.empty()) {
        BOOST_TEST(bad.empty(), "expected tg::Error, got " << bad);
        BOOST_TEST(missing.empty(), "message \"" << msg << "\" lacks" << missing);
      } else {
        BOOST_WARN_MESSAGE(ok, "still broken: " << (bad.empty() ? "message \"" + msg + "\"" : bad));
        BOOST_WARN_MESSAGE(!ok, "fixed now: drop the known_issue mark of this row");
      }
    }
  }
}

inline Tensor leaf(const Shape& shape) { return ones(shape).requires_grad_(); }
inline Tensor idx(std::initializer_list<std::int64_t> v) { return from_vector(std::vector(v)); }

}  // namespace tg::misuse
