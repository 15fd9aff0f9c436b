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

#include <sys/wait.h>
#include <unistd.h>

#include <tapegrad/tapegrad.h>
#include <csignal>
#include <cstdio>
#include <functional>
#include <string>
#include <typeinfo>
#include <vector>

namespace tg::misuse {

struct Misuse {
  std::string name;
  std::function<void()> call;
  std::vector<std::string> expect;  // every one must occur in the tg::Error message
  std::string known_issue = {};     // non-empty: a reported library defect (warn, not fail)
};

inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

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
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(fds[0]);
    ::alarm(60);
    std::string m;
    const std::string bad = outcome(call, m);
    const std::string out = bad.empty() ? "E" + m : "X" + bad;
    const bool ok = ::write(fds[1], out.data(), out.size()) == static_cast<ssize_t>(out.size());
    ::_exit(ok ? 0 : 1);
  }
  ::close(fds[1]);
  std::string buf;
  char chunk[4096];
  for (ssize_t n; (n = ::read(fds[0], chunk, sizeof chunk)) > 0;) buf.append(chunk, n);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status))
    return WTERMSIG(status) == SIGALRM
               ? std::string("a hang (killed after 60 s)")
               : "a crash (signal " + std::to_string(WTERMSIG(status)) + ")";
  if (WEXITSTATUS(status) != 0 || buf.empty())
    return "a crash (exit status " + std::to_string(WEXITSTATUS(status)) +
           ", e.g. a sanitizer report above)";
  if (buf[0] == 'E') return msg = buf.substr(1), "";
  return buf.substr(1);
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
