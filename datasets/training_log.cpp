#include "tapegrad/datasets/training_log.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <sstream>

#include "tapegrad/core/detail/file_io.h"
#include "tapegrad/core/error.h"

namespace tg {

namespace fs = std::filesystem;

namespace {

std::string shortest(double v) {  // shortest text that reads back to the same double
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string table_value(double v) {
  if (std::isnan(v)) return "-";
  char buf[32];
  const double a = std::abs(v);
  std::snprintf(buf, sizeof buf, a != 0 && (a >= 1e5 || a < 1e-3) ? "%.4g" : "%.4f", v);
  return buf;
}

std::string pad_left(const std::string& s, std::size_t w) {
  return std::string(w > s.size() ? w - s.size() : 0, ' ') + s;
}

std::string gp_quote(const std::string& s) {  // a gnuplot single-quoted string
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

std::string sh_quote(const std::string& s) {  // a POSIX shell single-quoted word
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// A private scratch directory under the system temp dir for gnuplot's data, script and output,
// removed with its contents afterwards (unique per call: plots may run concurrently, and the
// PNG's own directory may not allow long extra names).
struct ScratchDir {
  fs::path path;
  ScratchDir() {
    std::string tmpl = (fs::temp_directory_path() / "tapegrad_plot.XXXXXX").string();
    TG_CHECK(::mkdtemp(tmpl.data()) != nullptr, "plot: cannot create a temporary directory '", tmpl,
             "': ", std::strerror(errno));
    path = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

// Runs a shell command; returns its exit status and combined output.
std::pair<int, std::string> run(const std::string& command) {
  std::FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  TG_CHECK(p != nullptr, "plot: cannot run ", command);
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace

void TrainingLog::add(std::int64_t epoch, const Metrics& metrics) {
  std::vector<double> row(columns_.size(), std::numeric_limits<double>::quiet_NaN());
  for (const auto& [name, v] : metrics) {
    TG_CHECK(!name.empty() && name != "epoch", "TrainingLog::add: invalid metric name '", name,
             "'");
    auto it = std::find(columns_.begin(), columns_.end(), name);
    if (it == columns_.end()) {
      columns_.push_back(name);
      for (auto& r : values_) r.push_back(std::numeric_limits<double>::quiet_NaN());
      row.push_back(v);
    } else {
      row[static_cast<std::size_t>(it - columns_.begin())] = v;
    }
  }
  epochs_.push_back(epoch);
  values_.push_back(std::move(row));
}

std::int64_t TrainingLog::epoch(std::int64_t row) const {
  TG_CHECK(row >= 0 && row < rows(), "TrainingLog: row ", row, " out of range (", rows(), " rows)");
  return epochs_[static_cast<std::size_t>(row)];
}

double TrainingLog::value(std::int64_t row, const std::string& column) const {
  epoch(row);  // checks the row
  auto it = std::find(columns_.begin(), columns_.end(), column);
  TG_CHECK(it != columns_.end(), "TrainingLog: no column '", column, "'");
  return values_[static_cast<std::size_t>(row)][static_cast<std::size_t>(it - columns_.begin())];
}

std::string TrainingLog::csv() const {
  std::string s = "epoch";
  // append() piecewise: `"," + std::string` trips a false -Wrestrict in g++ 12.
  for (const auto& c : columns_) s.append(",").append(csv_field(c));
  s += "\n";
  for (std::size_t r = 0; r < epochs_.size(); ++r) {
    s += std::to_string(epochs_[r]);
    for (double v : values_[r]) s.append(",").append(std::isnan(v) ? std::string() : shortest(v));
    s += "\n";
  }
  return s;
}

void TrainingLog::write_csv(const fs::path& path) const { write_file_atomic(path, csv()); }

std::string TrainingLog::header_line() const {
  std::string s = pad_left("epoch", 5);
  for (const auto& c : columns_) s += " | " + pad_left(c, std::max<std::size_t>(c.size(), 8));
  return s;
}

std::string TrainingLog::row_line(std::int64_t row) const {
  std::string s = pad_left(std::to_string(epoch(row)), 5);
  const auto& vals = values_[static_cast<std::size_t>(row)];
  for (std::size_t i = 0; i < columns_.size(); ++i)
    s += " | " + pad_left(table_value(vals[i]), std::max<std::size_t>(columns_[i].size(), 8));
  return s;
}

std::string TrainingLog::table() const {
  std::string s = header_line() + "\n" + std::string(header_line().size(), '-') + "\n";
  for (std::int64_t r = 0; r < rows(); ++r) s += row_line(r) + "\n";
  return s;
}

void TrainingLog::print_last(std::ostream& os) {
  if (rows() == 0) return;
  if (printed_columns_ != columns_.size()) {
    const std::string h = header_line();
    os << h << "\n" << std::string(h.size(), '-') << "\n";
    printed_columns_ = columns_.size();
  }
  os << row_line(rows() - 1) << std::endl;
}

void TrainingLog::print_last() { print_last(std::cout); }

bool TrainingLog::program_available(const std::string& program) {
  if (program.empty()) return false;
  if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const fs::path candidate = fs::path(dir.empty() ? "." : dir) / program;
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0) return true;
  }
  return false;
}

bool TrainingLog::plot(const fs::path& png, const PlotOptions& o) const {
  if (!program_available(o.gnuplot)) {
    std::cerr << "plot: " << o.gnuplot << " not found, so no " << png.string()
              << " (install it with: sudo apt-get install gnuplot-nox)" << std::endl;
    return false;
  }
  std::vector<std::size_t> loss, acc;
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i].find("loss") != std::string::npos)
      loss.push_back(i);
    else if (columns_[i].find("acc") != std::string::npos)
      acc.push_back(i);
  }
  if (rows() == 0 || (loss.empty() && acc.empty())) {
    std::cerr << "plot: no loss or accuracy rows to draw, so no " << png.string() << std::endl;
    return false;
  }

  const ScratchDir scratch;
  const fs::path data = scratch.path / "data.csv", script = scratch.path / "plot.gp",
                 out = scratch.path / "out.png";
  write_file_atomic(data, csv());
  auto panel = [&](const std::vector<std::size_t>& cols, const std::string& ylabel) {
    std::string s = "set title " + gp_quote(ylabel) + "\nset ylabel " + gp_quote(ylabel) + "\n";
    s += "plot ";
    for (std::size_t k = 0; k < cols.size(); ++k)
      s += (k ? ", " : "") + gp_quote(data.string()) + " using 1:" + std::to_string(cols[k] + 2) +
           " with linespoints title " + gp_quote(columns_[cols[k]]);
    return s + "\n";
  };
  auto script_for = [&](const std::string& terminal) {
    std::string s = "set terminal " + terminal + " size " + std::to_string(o.width) + "," +
                    std::to_string(o.height) + " noenhanced\n";
    s += "set output " + gp_quote(out.string()) + "\n";
    s += "set datafile separator ','\nset key autotitle columnhead\nset grid\n";
    s += "set xlabel 'epoch'\nset key bottom right\n";
    const bool both = !loss.empty() && !acc.empty();
    if (both)
      s += "set multiplot layout 1,2 title " + gp_quote(o.title) + "\n";
    else if (!o.title.empty())
      s += "set label 1 " + gp_quote(o.title) + " at screen 0.5,0.98 center\n";
    if (!loss.empty()) s += "set key top right\n" + panel(loss, "loss");
    if (!acc.empty()) s += "set key bottom right\n" + panel(acc, "accuracy");
    if (both) s += "unset multiplot\n";
    return s + "set output\n";
  };

  std::pair<int, std::string> result;
  for (const char* terminal : {"pngcairo", "png"}) {  // cairo looks better; libgd is the fallback
    write_file_atomic(script, script_for(terminal));
    result = run(sh_quote(o.gnuplot) + " " + sh_quote(script.string()));
    std::error_code ec;
    if (result.first == 0 && fs::is_regular_file(out, ec) && fs::file_size(out, ec) > 0) break;
    result.first = result.first ? result.first : 1;
  }
  TG_CHECK(result.first == 0, "plot: gnuplot failed for ", png.string(), ": ", result.second);
  // The PNG goes in place through the atomic writer: a symbolic link is followed, a device is
  // refused, and a reader never sees half an image.
  std::ifstream in(out, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  TG_CHECK(in.good() || in.eof(), "plot: cannot read gnuplot's output '", out.string(), "'");
  detail::write_file_atomic_with(
      png, [&](const detail::WriteChunk& write) { write(bytes.data(), bytes.size()); }, "plot");
  return true;
}

}  // namespace tg
