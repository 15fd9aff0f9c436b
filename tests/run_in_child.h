#pragma once
// Runs a piece of a test in a forked child with a time limit, so that a crash, a sanitizer abort
// or a hang fails that one check instead of taking the whole suite down. Shared by the misuse
// tables (rows marked as known issues) and the fuzz regression replays.
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <functional>
#include <string>

namespace tg::testing {

struct ChildResult {
  bool finished = false;  // the child returned normally
  std::string text;       // what it returned, or how it died
};

// Runs `body` in a child killed after 60 s and hands back the string it returns.
inline ChildResult run_in_child(const std::function<std::string()>& body) {
  int fds[2];
  if (::pipe(fds) != 0) return {false, "pipe failed"};
  std::fflush(nullptr);  // else buffered output would be written twice
  const pid_t pid = ::fork();
  if (pid < 0) return {false, "fork failed"};
  if (pid == 0) {
    ::close(fds[0]);
    ::alarm(60);
    std::string out = body();
    out.insert(0, 1, '>');  // never empty, so a silent death is told apart
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
    return {false, WTERMSIG(status) == SIGALRM
                       ? std::string("a hang (killed after 60 s)")
                       : "a crash (signal " + std::to_string(WTERMSIG(status)) + ")"};
  if (WEXITSTATUS(status) != 0 || buf.empty())
    return {false, "a crash (exit status " + std::to_string(WEXITSTATUS(status)) +
                       ", e.g. a sanitizer report above)"};
  return {true, buf.substr(1)};
}

}  // namespace tg::testing
