#pragma once
// Per-epoch metrics: a table printed as training goes, a CSV file, and a PNG of the loss and
// accuracy curves drawn by gnuplot when it is installed (Debian: gnuplot-nox).
//
//   TrainingLog log;
//   log.add(epoch, {{"train_loss", tl}, {"train_acc", ta}, {"val_loss", vl}, {"val_acc", va}});
//   log.print_last();                 // header once, then one aligned row per epoch
//   log.write_csv("run.csv");         // atomic: temp file + rename
//   log.plot("run.png");              // or a one-line notice without gnuplot
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

namespace tg {

struct PlotOptions {
  std::string title = {};
  std::string gnuplot = "gnuplot";  // executable name or path
  int width = 1100, height = 420;   // pixels
};

class TrainingLog {
 public:
  using Metrics = std::vector<std::pair<std::string, double>>;

  // Adds one row. Columns appear in the order first seen; a metric missing from a row is empty
  // in the CSV and "-" in the table.
  void add(std::int64_t epoch, const Metrics& metrics);

  std::int64_t rows() const { return static_cast<std::int64_t>(epochs_.size()); }
  const std::vector<std::string>& columns() const { return columns_; }
  std::int64_t epoch(std::int64_t row) const;
  // NaN when the row lacks the metric; throws for an unknown column or row.
  double value(std::int64_t row, const std::string& column) const;

  std::string csv() const;  // "epoch,train_loss,...\n1,0.5123,...\n"
  void write_csv(const std::filesystem::path& path) const;

  std::string header_line() const;
  std::string row_line(std::int64_t row) const;
  std::string table() const;  // header plus every row
  // Prints the last row, preceded by the header on the first call (or when columns changed).
  void print_last(std::ostream& os);
  void print_last();  // to std::cout

  // Draws metrics whose name contains "loss" in a left panel and those containing "acc" in a
  // right panel. Returns false, after printing a one-line notice to stderr, when gnuplot is
  // missing; throws tg::Error when gnuplot fails.
  bool plot(const std::filesystem::path& png, const PlotOptions& options = {}) const;

  // Whether `program` is an executable file (a path) or is found on PATH.
  static bool program_available(const std::string& program);

 private:
  std::vector<std::string> columns_;
  std::vector<std::int64_t> epochs_;
  std::vector<std::vector<double>> values_;  // [row][column], NaN when missing
  std::size_t printed_columns_ = 0;          // columns in the header printed last
};

}  // namespace tg
