// TrainingLog: CSV content (exact text, missing values, quoting), the atomic write, the
// per-epoch table, and the gnuplot PNG (or the notice when gnuplot is missing).
#define BOOST_TEST_MODULE training_log
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include "error_text.h"
#include "temp_dir.h"

using namespace tg;
using namespace tg::test;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TrainingLog three_epochs() {
  TrainingLog log;
  log.add(1, {{"train_loss", 0.5}, {"train_acc", 0.8125}});
  log.add(2, {{"train_loss", 0.25}, {"train_acc", 0.875}, {"val_acc", 0.9}});
  log.add(3, {{"val_acc", 0.1 + 0.2}, {"train_loss", 1e-7}});
  return log;
}

}  // namespace

BOOST_AUTO_TEST_CASE(csv_has_columns_in_first_seen_order_and_empty_missing_values) {
  const TrainingLog log = three_epochs();
  BOOST_TEST(log.rows() == 3);
  BOOST_TEST(log.columns() == (std::vector<std::string>{"train_loss", "train_acc", "val_acc"}),
             boost::test_tools::per_element());
  BOOST_TEST(log.value(1, "val_acc") == 0.9);
  BOOST_TEST(std::isnan(log.value(0, "val_acc")));
  BOOST_TEST(log.epoch(2) == 3);
  // Values are written with the shortest text that reads back exactly (0.1 + 0.2 included).
  BOOST_TEST(log.csv() ==
             "epoch,train_loss,train_acc,val_acc\n"
             "1,0.5,0.8125,\n"
             "2,0.25,0.875,0.9\n"
             "3,1e-07,,0.30000000000000004\n");
  BOOST_TEST(std::stod("0.30000000000000004") == 0.1 + 0.2);

  TrainingLog quoted;
  quoted.add(1, {{"loss, smoothed", 1.0}, {"say \"hi\"", 2.0}});
  BOOST_TEST(quoted.csv() == "epoch,\"loss, smoothed\",\"say \"\"hi\"\"\"\n1,1,2\n");

  BOOST_TEST(contains(error_of([&] { log.value(0, "nope"); }), "no column 'nope'"));
  BOOST_TEST(contains(error_of([&] { log.epoch(3); }), "row 3 out of range"));
  BOOST_TEST(contains(error_of([&] {
                        TrainingLog().add(1, {{"epoch", 1.0}});
                      }),
                      "invalid metric name 'epoch'"));
}

BOOST_AUTO_TEST_CASE(write_csv_is_atomic_and_leaves_no_temp_files) {
  TempDir dir;
  const TrainingLog log = three_epochs();
  const fs::path csv = dir.path / "run.csv";
  std::ofstream(csv) << "old contents";
  log.write_csv(csv);
  BOOST_TEST(slurp(csv) == log.csv());
  BOOST_TEST(dir.entries() == (std::vector<std::string>{"run.csv"}),
             boost::test_tools::per_element());
  const std::string err = error_of([&] { log.write_csv(dir.path / "no" / "such" / "dir.csv"); });
  BOOST_TEST(contains(err, "cannot create"), err);
  BOOST_TEST(dir.entries().size() == 1u);
}

BOOST_AUTO_TEST_CASE(table_prints_a_header_once_then_aligned_rows) {
  TrainingLog log;
  std::ostringstream out;
  log.add(1, {{"train_loss", 0.51234}, {"val_acc", 0.8}});
  log.print_last(out);
  log.add(2, {{"train_loss", 0.25}, {"val_acc", 0.85}});
  log.print_last(out);
  log.add(3, {{"train_loss", 0.125}, {"val_acc", 0.9}, {"lr", 1e-4}});  // a new column
  log.print_last(out);
  std::vector<std::string> lines;
  std::istringstream in(out.str());
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  BOOST_REQUIRE(lines.size() == 7u);
  BOOST_TEST(lines[0] == "epoch | train_loss |  val_acc");
  BOOST_TEST(lines[1] == std::string(lines[0].size(), '-'));
  BOOST_TEST(lines[2] == "    1 |     0.5123 |   0.8000");
  BOOST_TEST(lines[3] == "    2 |     0.2500 |   0.8500");
  BOOST_TEST(lines[4] == "epoch | train_loss |  val_acc |       lr");  // header again
  BOOST_TEST(lines[6] == "    3 |     0.1250 |   0.9000 |   0.0001");
  BOOST_TEST(contains(log.table(), "    1 |     0.5123 |   0.8000 |        -"), log.table());
}

BOOST_AUTO_TEST_CASE(plot_writes_a_png_or_says_why_not) {
  TempDir dir;
  TrainingLog log;
  for (int e = 1; e <= 5; ++e)
    log.add(e, {{"train_loss", 1.0 / e},
                {"val_loss", 1.2 / e},
                {"train_acc", 1 - 0.5 / e},
                {"val_acc", 1 - 0.6 / e}});
  const fs::path png = dir.path / "curves.png";

  // A missing gnuplot is a one-line notice and `false`, never an exception.
  BOOST_TEST(!TrainingLog::program_available("tg-no-such-gnuplot"));
  BOOST_TEST(!log.plot(png, {.gnuplot = "tg-no-such-gnuplot"}));
  BOOST_TEST(!fs::exists(png));

  if (!TrainingLog::program_available("gnuplot")) {
    BOOST_TEST_MESSAGE("gnuplot not installed; skipping the PNG check");
    return;
  }
  BOOST_TEST(log.plot(png, {.title = "test run"}));
  const std::string bytes = slurp(png);
  BOOST_TEST(bytes.size() > 1000u);
  BOOST_TEST(bytes.substr(0, 8) == "\x89PNG\r\n\x1a\n");
  BOOST_TEST(dir.entries() == (std::vector<std::string>{"curves.png"}),
             boost::test_tools::per_element());  // the temp script and data are gone
  // Only one panel's worth of columns also plots.
  TrainingLog loss_only;
  loss_only.add(1, {{"loss", 2.0}});
  loss_only.add(2, {{"loss", 1.0}});
  BOOST_TEST(loss_only.plot(dir.path / "loss.png"));
  // Nothing to plot: a notice, no file.
  TrainingLog other;
  other.add(1, {{"lr", 0.1}});
  BOOST_TEST(!other.plot(dir.path / "none.png"));
  BOOST_TEST(!fs::exists(dir.path / "none.png"));
}

// Issue 17: the PNG is written like every other file (core/atomic_file.h): through a symbolic
// link to its target, under a long (250-byte) name, and a device node is refused, not replaced.
BOOST_AUTO_TEST_CASE(plot_writes_through_links_and_long_names) {
  if (!TrainingLog::program_available("gnuplot")) {
    BOOST_TEST_MESSAGE("gnuplot not installed; skipped");
    return;
  }
  TempDir dir;
  TrainingLog log;
  log.add(1, {{"loss", 2.0}});
  log.add(2, {{"loss", 1.0}});
  const std::string long_name = std::string(246, 'p') + ".png";
  BOOST_TEST(log.plot(dir.path / long_name));
  BOOST_TEST(slurp(dir.path / long_name).substr(0, 4) == "\x89PNG");
  fs::create_symlink(long_name, dir.path / "link.png");
  BOOST_TEST(log.plot(dir.path / "link.png"));
  BOOST_TEST(fs::is_symlink(dir.path / "link.png"));
  BOOST_TEST(dir.entries() == (std::vector<std::string>{"link.png", long_name}),
             boost::test_tools::per_element());
  BOOST_REQUIRE(::mkfifo((dir.path / "fifo.png").c_str(), 0600) == 0);
  std::string err;
  try {
    log.plot(dir.path / "fifo.png");
  } catch (const Error& e) {
    err = e.what();
  }
  BOOST_TEST(err.find("plot") != std::string::npos, err);
  BOOST_TEST(err.find("a FIFO, not a regular file") != std::string::npos, err);
  BOOST_TEST(fs::is_fifo(dir.path / "fifo.png"));
}
