// No lost work: a checkpoint save is atomic. A child process saves a large checkpoint over and
// over to one path and is SIGKILLed at random moments; after every kill the file at that path is
// a complete checkpoint of a version the child had finished (or was just finishing), and one more
// successful save leaves no temporary files behind. Injected write failures (a missing
// directory, a file-size limit that makes write() fail with EFBIG) leave the old file intact and
// raise a clear tg::Error. What a save may replace (issue 17): a symbolic link is followed and
// its target replaced; a device node or FIFO is refused; long file names (up to NAME_MAX) save,
// longer ones give a tg::Error.
#define BOOST_TEST_MODULE atomic_save
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tapegrad/tapegrad.h>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>
#include "error_text.h"
#include "tapegrad/core/detail/file_io.h"  // internal: this test checks the library's own state
#include "temp_dir.h"

using namespace tg;
using namespace tg::test;
namespace fs = std::filesystem;
namespace tt = boost::test_tools;

namespace {

// A ~20 MB checkpoint whose every element holds `version` (so a torn file cannot pass).
constexpr std::int64_t kBig = 1'600'000;
StateDict make_checkpoint() {
  return {{"a.weight", zeros({kBig})},
          {"b.weight", zeros({kBig / 4, 4}, kFloat64)},
          {"c.steps", zeros({1000}, kInt64)}};
}
// Writes through data pointers: no TBB in the forked child (TBB is not fork-safe).
void set_version(StateDict& sd, std::int64_t v) {
  std::fill_n(sd["a.weight"].data_ptr<float>(), kBig, static_cast<float>(v));
  std::fill_n(sd["b.weight"].data_ptr<double>(), kBig, static_cast<double>(v));
  std::fill_n(sd["c.steps"].data_ptr<std::int64_t>(), 1000, v);
}
void save_version(StateDict& sd, std::int64_t v, const fs::path& path) {
  set_version(sd, v);
  save(sd, path, {{"version", std::to_string(v)}});
}

// Loads `path` and returns its version after checking that every element agrees with it.
std::int64_t loaded_version(const fs::path& path) {
  Metadata meta;
  const StateDict sd = load(path, &meta);
  BOOST_REQUIRE_EQUAL(sd.size(), 3u);
  const std::int64_t v = std::stoll(meta.at("version"));
  const auto a = sd.at("a.weight").to_vector<float>();
  const auto b = sd.at("b.weight").to_vector<double>();
  const auto c = sd.at("c.steps").to_vector<std::int64_t>();
  BOOST_REQUIRE_EQUAL(a.size(), static_cast<std::size_t>(kBig));
  BOOST_REQUIRE_EQUAL(b.size(), static_cast<std::size_t>(kBig));
  BOOST_TEST(std::all_of(a.begin(), a.end(), [&](float x) { return x == float(v); }));
  BOOST_TEST(std::all_of(b.begin(), b.end(), [&](double x) { return x == double(v); }));
  BOOST_TEST(std::all_of(c.begin(), c.end(), [&](std::int64_t x) { return x == v; }));
  return v;
}

bool is_temp(const std::string& name, const std::string& target) {
  return name != target && name.find(target) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(kill_during_save_keeps_the_previous_checkpoint) {
  TempDir dir("kill");
  const std::string name = "model.safetensors";
  const fs::path path = dir.path / name;
  StateDict sd = make_checkpoint();
  std::int64_t done = 0;  // the newest version known to be completely saved
  save_version(sd, done, path);
  BOOST_TEST(loaded_version(path) == 0);

  std::mt19937 rng(20261122);  // fixed: the kill moments repeat from run to run
  // At least 6 rounds, and more (up to 40) until a kill has landed inside a save's temporary
  // file window: how much of a save that window is depends on the machine and the build (under
  // ASan one run had none of 6 kills inside it).
  int killed_mid_save = 0, rounds = 0;
  const int kMinRounds = 6, kMaxRounds = 40;
  for (int round = 0; round < kMaxRounds && (round < kMinRounds || killed_mid_save == 0);
       ++round, ++rounds) {
    int fds[2];
    BOOST_REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {  // child: save versions done+1, done+2, ... until killed
      ::close(fds[0]);
      for (std::int64_t v = done + 1;; ++v) {
        try {
          save_version(sd, v, path);
        } catch (...) {
          ::_exit(3);
        }
        if (::write(fds[1], &v, sizeof v) != sizeof v) ::_exit(4);
      }
    }
    ::close(fds[1]);
    // Wait for the child's first finished save, so the kill lands in steady state, then kill
    // it after a random delay of up to ~2 saves.
    std::int64_t v = 0;
    const auto t0 = std::chrono::steady_clock::now();
    BOOST_REQUIRE(::read(fds[0], &v, sizeof v) == sizeof v);
    const auto one_save = std::chrono::steady_clock::now() - t0;
    done = v;
    std::uniform_real_distribution<double> frac(0.05, 2.0);
    std::this_thread::sleep_for(
        std::chrono::duration_cast<std::chrono::microseconds>(one_save * frac(rng)));
    BOOST_REQUIRE(::kill(pid, SIGKILL) == 0);
    int status = 0;
    BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    BOOST_TEST((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL), "child died otherwise");
    while (::read(fds[0], &v, sizeof v) == sizeof v) done = v;
    ::close(fds[0]);

    // A killed save leaves its temporary behind; the target is untouched by it.
    bool temp_left = false;
    for (const auto& e : dir.entries()) temp_left = temp_left || is_temp(e, name);
    killed_mid_save += temp_left;
    BOOST_TEST_CONTEXT("round " << round << ", last reported save " << done) {
      const std::int64_t got = loaded_version(path);
      // The child may have renamed version done+1 into place just before the kill.
      BOOST_TEST((got == done || got == done + 1), "loaded version " << got);
      done = got;
    }
  }
  BOOST_TEST_MESSAGE(killed_mid_save << " of " << rounds << " kills landed mid-save");
  BOOST_TEST(killed_mid_save >= 1);

  // One more successful save: the new version is in place and the save left no temporary of
  // its own.
  const auto before = dir.entries();
  save_version(sd, done + 1, path);
  BOOST_TEST(loaded_version(path) == done + 1);
  const auto after = dir.entries();
  BOOST_TEST(std::includes(before.begin(), before.end(), after.begin(), after.end()));
  // KNOWN ISSUE (reported in issue 7, fix belongs in nn/serialize.cpp atomic_write): the
  // temporaries of the killed saves stay behind forever; a successful save should remove those
  // whose writer process is dead. Until then this is a warning, not a failure.
  BOOST_WARN_MESSAGE(after == std::vector<std::string>{name},
                     "stale temporaries of killed saves remain: " << after.size() - 1);
}

BOOST_AUTO_TEST_CASE(save_into_a_missing_directory_is_a_clear_error) {
  TempDir dir("missing");
  const fs::path path = dir.path / "no_such_dir" / "model.safetensors";
  try {
    save(StateDict{{"w", ones({3})}}, path);
    BOOST_FAIL("save into a missing directory did not throw");
  } catch (const Error& e) {
    const std::string msg = e.what();
    BOOST_TEST_INFO("message: " << msg);
    BOOST_TEST(msg.find("save") != std::string::npos);
    BOOST_TEST(msg.find("no_such_dir") != std::string::npos);
    BOOST_TEST(msg.find("No such file or directory") != std::string::npos);
  }
  BOOST_TEST(dir.entries().empty());
}

// RLIMIT_FSIZE makes write() fail with EFBIG past the limit (SIGXFSZ ignored): a disk-full
// stand-in that needs no root and no special file system.
BOOST_AUTO_TEST_CASE(write_failure_keeps_the_old_file_and_leaves_no_temporary) {
  TempDir dir("efbig");
  const std::string name = "model.safetensors";
  const fs::path path = dir.path / name;
  StateDict sd = make_checkpoint();
  save_version(sd, 41, path);
  const auto size_before = fs::file_size(path);

  rlimit old_limit{};
  BOOST_REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  auto* old_handler = ::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old_limit;
  small.rlim_cur = 1 << 20;  // 1 MB: the 20 MB checkpoint cannot fit
  BOOST_REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  std::string msg;
  try {
    save_version(sd, 42, path);
  } catch (const Error& e) {
    msg = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);

  BOOST_TEST_INFO("message: " << msg);
  BOOST_TEST(msg.find("save") != std::string::npos);
  BOOST_TEST(msg.find("File too large") != std::string::npos);
  BOOST_TEST(fs::file_size(path) == size_before);
  BOOST_TEST(loaded_version(path) == 41);
  BOOST_TEST(dir.entries() == std::vector<std::string>{name}, tt::per_element());

  // The same file saves fine once the limit is lifted.
  save_version(sd, 42, path);
  BOOST_TEST(loaded_version(path) == 42);
  BOOST_TEST(dir.entries() == std::vector<std::string>{name}, tt::per_element());
}

// ---- issue 17: what a save may replace, and long names ----

namespace {

StateDict small(float v) { return {{"w", full({3}, v)}}; }
float value_in(const fs::path& p) { return load(p).at("w").to_vector<float>()[0]; }

}  // namespace

// Saving through a symbolic link replaces the file it points to; the link stays a link (before
// the fix the link became a regular file and the real target kept the old weights).
BOOST_AUTO_TEST_CASE(save_through_a_symlink_replaces_its_target) {
  TempDir dir("symlink");
  fs::create_directories(dir / "real");
  save(small(1), dir / "real" / "model.st");
  fs::create_symlink(dir / "real" / "model.st", dir / "abs_link.st");  // absolute
  fs::create_symlink("real/model.st", dir / "rel_link.st");            // relative to its dir
  fs::create_symlink("rel_link.st", dir / "chain.st");                 // a link to a link

  save(small(2), dir / "abs_link.st");
  BOOST_TEST(fs::is_symlink(dir / "abs_link.st"));
  BOOST_TEST(value_in(dir / "real" / "model.st") == 2.0f);
  save(small(3), dir / "rel_link.st");
  BOOST_TEST(fs::is_symlink(dir / "rel_link.st"));
  BOOST_TEST(value_in(dir / "real" / "model.st") == 3.0f);
  save(small(4), dir / "chain.st");
  BOOST_TEST(fs::is_symlink(dir / "chain.st"));
  BOOST_TEST(fs::is_symlink(dir / "rel_link.st"));
  BOOST_TEST(value_in(dir / "real" / "model.st") == 4.0f);
  // The temporary went beside the target, and none is left.
  BOOST_TEST(
      dir.entries() == (std::vector<std::string>{"abs_link.st", "chain.st", "real", "rel_link.st"}),
      tt::per_element());
  BOOST_TEST(fs::directory_entry(dir / "real" / "model.st").is_regular_file());
  BOOST_TEST(std::distance(fs::directory_iterator(dir / "real"), fs::directory_iterator()) == 1);

  // A dangling link creates its target; a link to a directory or a loop is refused.
  fs::create_symlink("real/new.st", dir / "dangling.st");
  save(small(5), dir / "dangling.st");
  BOOST_TEST(fs::is_symlink(dir / "dangling.st"));
  BOOST_TEST(value_in(dir / "real" / "new.st") == 5.0f);
  fs::create_symlink("real", dir / "dir_link");
  std::string err = error_of([&] { save(small(6), dir / "dir_link"); });
  BOOST_TEST(contains(err, "is a directory"), err);
  fs::create_symlink("loop_b", dir / "loop_a");
  fs::create_symlink("loop_a", dir / "loop_b");
  err = error_of([&] { save(small(6), dir / "loop_a"); });
  BOOST_TEST(contains(err, "levels of symbolic links"), err);
}

// A device node or a FIFO is never replaced by a regular file: the save is refused and the node
// stays (as root, save(m, "/dev/null") replaced the system's node before the fix).
BOOST_AUTO_TEST_CASE(save_refuses_devices_and_fifos) {
  TempDir dir("device");
  std::vector<std::pair<fs::path, std::string>> nodes;
  BOOST_REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
  nodes.push_back({dir / "fifo", "a FIFO"});
  // A character device like /dev/null (1, 3), made here so no system node is at risk. Needs
  // root (CAP_MKNOD); without it only the FIFO is checked.
  if (::mknod((dir / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0)
    nodes.push_back({dir / "null", "a character device"});
  else
    BOOST_TEST_MESSAGE("mknod not permitted; the device case is skipped");
  fs::create_symlink("fifo", dir / "link_to_fifo");
  nodes.push_back({dir / "link_to_fifo", "a FIFO"});
  for (const auto& entry : nodes) {
    const fs::path& node = entry.first;  // not a structured binding: clang 14 cannot capture one
    const std::string& kind = entry.second;
    BOOST_TEST_CONTEXT(node) {
      const std::string err = error_of([&] { save(small(1), node); });
      BOOST_TEST(contains(err, "save"), err);
      BOOST_TEST(contains(err, kind + ", not a regular file"), err);
      const std::string err2 =
          error_of([&] { datasets::write_idx(node, from_vector(std::vector<std::uint8_t>{1})); });
      BOOST_TEST(contains(err2, "write_idx"), err2);
      BOOST_TEST(contains(err2, kind), err2);
    }
  }
  BOOST_TEST(fs::is_fifo(dir / "fifo"));
  if (nodes.size() == 3) BOOST_TEST(fs::is_character_file(dir / "null"));
  BOOST_TEST(fs::is_symlink(dir / "link_to_fifo"));
  BOOST_TEST(dir.entries().size() == nodes.size());  // no temporary left
}

// A 250-byte file name is valid (NAME_MAX is 255) and saves: the temporary's name is shortened
// to fit (before the fix it added 12 bytes: "File name too long"). A 300-byte name gives a
// tg::Error, not std::filesystem::filesystem_error.
BOOST_AUTO_TEST_CASE(long_file_names) {
  TempDir dir("long");
  for (std::size_t len : {243u, 244u, 250u, 255u}) {
    BOOST_TEST_CONTEXT("name of " << len << " bytes") {
      const fs::path p = dir / std::string(len, 'n');
      save(small(static_cast<float>(len)), p);
      BOOST_TEST(value_in(p) == static_cast<float>(len));
      datasets::write_idx(dir / std::string(len, 'i'), from_vector(std::vector<std::uint8_t>{7}));
      BOOST_TEST(datasets::read_idx(dir / std::string(len, 'i')).numel() == 1);
    }
  }
  BOOST_TEST(dir.entries().size() == 8u);  // no temporaries left
  const fs::path too_long = dir / std::string(300, 'x');
  for (const auto& err :
       {error_of([&] { save(small(1), too_long); }), error_of([&] { load(too_long); }),
        error_of([&] { write_file_atomic(too_long, "x"); }),
        error_of([&] { datasets::write_idx(too_long, from_vector(std::vector<std::uint8_t>{1})); }),
        error_of([&] { datasets::read_idx(too_long); })}) {
    BOOST_TEST(!contains(err, "non-tg"), err);
    BOOST_TEST(contains(err, std::strerror(ENAMETOOLONG)), err);
    BOOST_TEST(contains(err, std::string(300, 'x')), err);
  }
}

// The temporary's name: "." + name + ".tmp.XXXXXX" when that fits, else a prefix of the name
// and a hash of all of it; always within the limit, and distinct for names that share a prefix.
BOOST_AUTO_TEST_CASE(temporary_names_fit_the_limit) {
  BOOST_TEST(detail::temp_name_for("model.st", 255) == ".model.st.tmp.XXXXXX");
  const std::string a(250, 'a');
  const std::string b = std::string(249, 'a') + "b";
  for (const auto& name : {a, b, std::string(255, 'z')}) {
    const std::string t = detail::temp_name_for(name, 255);
    BOOST_TEST(t.size() <= 255u, t.size());
    BOOST_TEST(t.ends_with(".tmp.XXXXXX"));
    BOOST_TEST(t.starts_with("." + name.substr(0, 200)));
  }
  BOOST_TEST(detail::temp_name_for(a, 255) != detail::temp_name_for(b, 255));
  // A multi-byte UTF-8 character is not cut in half.
  std::string utf8;
  while (utf8.size() < 250) utf8 += "\xc3\xa9";  // é
  const std::string t = detail::temp_name_for(utf8, 255);
  const std::size_t hash = t.find('~');
  BOOST_REQUIRE(hash != std::string::npos);
  BOOST_TEST((hash - 1) % 2 == 0u);
}

// Errors name the operation, the path and strerror.
BOOST_AUTO_TEST_CASE(save_and_load_errors_carry_strerror) {
  TempDir dir("errno");
  std::string err = error_of([&] { load(dir / "absent.st"); });
  BOOST_TEST(contains(err, "load"), err);
  BOOST_TEST(contains(err, (dir / "absent.st").string()), err);
  BOOST_TEST(contains(err, std::strerror(ENOENT)), err);
  err = error_of([&] { save(small(1), dir / "file" / "below_a_file.st"); });
  write_file_atomic(dir / "file", "x");
  err = error_of([&] { save(small(1), dir / "file" / "below_a_file.st"); });
  BOOST_TEST(contains(err, "save"), err);
  BOOST_TEST(contains(err, "below_a_file.st"), err);
  BOOST_TEST(contains(err, std::strerror(ENOTDIR)), err);
}
