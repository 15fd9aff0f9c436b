#pragma once
// Median wall time of repeated calls, shared by both sides of the elementwise comparison.
#include <algorithm>
#include <chrono>
#include <vector>

// Calls f once to warm up, then repeats it until at least `min_reps` calls and `min_seconds`
// have passed; returns the median seconds per call.
template <typename F>
double median_seconds(F&& f, int min_reps = 7, double min_seconds = 0.25) {
  f();
  std::vector<double> t;
  double total = 0;
  while (static_cast<int>(t.size()) < min_reps || total < min_seconds) {
    const auto start = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    total += t.back();
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}
