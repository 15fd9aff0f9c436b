#!/usr/bin/env bash
# Sanitizer CI job (issue 7). From the repository root, in build dirs beside the sources:
#   1. build-asan: clang, ASan + UBSan (TAPEGRAD_SANITIZE) with the libFuzzer targets
#      (TAPEGRAD_FUZZ); runs the whole CTest suite under the sanitizers, leaks included;
#   2. a fuzz smoke: each fuzzer for FUZZ_SECONDS (default 60) from a copy of its checked-in
#      seed corpus, both at once; any crash fails the job (the input is kept under
#      build-asan/fuzz-artifacts/ for a regression test);
#   3. build-tsan: clang, ThreadSanitizer; runs the parallel-kernel tests on two threads, and
#      the autograd engine driven from four user threads (test_autograd_threads).
# Installs what it needs from Debian when missing (as tapegrad.sh does). Sanitizer builds use -O1
# (the usual setting for sanitizers: fast to compile, precise reports). Budget: < 12 minutes on
# 2 cores from a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc)
fuzz_seconds=${FUZZ_SECONDS:-60}
t0=$SECONDS
step() { echo "== sanitize.sh [$((SECONDS - t0)) s] $*"; }

packages=(cmake make clang libclang-rt-14-dev libopenblas-dev libtbb-dev libboost-test-dev
          zlib1g-dev nlohmann-json3-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
export CC=${SANITIZE_CC:-clang} CXX=${SANITIZE_CXX:-clang++}
# MPI is off here: OpenMPI's own allocations would drown LeakSanitizer's report; the
# distributed suite runs in the normal CI job.
common=(-DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -g1"
        -DTAPEGRAD_BUILD_EXAMPLES=OFF -DTAPEGRAD_BUILD_BENCHMARKS=OFF -DTAPEGRAD_WITH_MPI=OFF)

# ---- 1. ASan + UBSan: the whole suite ----
step "configure + build build-asan"
cmake -S "$root" -B "$root/build-asan" "${common[@]}" -DTAPEGRAD_SANITIZE=ON -DTAPEGRAD_FUZZ=ON \
  >/dev/null
cmake --build "$root/build-asan" -j"$jobs"

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# LeakSanitizer cannot run under ptrace (some containers, debuggers): probe, then enable it.
leaks=1
if ! ASAN_OPTIONS=detect_leaks=1 "$root/build-asan/tests/test_tensor" --list_content \
  >/dev/null 2>&1; then
  leaks=0
  echo "sanitize.sh: LeakSanitizer is not supported here; leak checks are off"
fi
export ASAN_OPTIONS=detect_leaks=$leaks:strict_init_order=1:check_initialization_order=1
step "ctest under ASan + UBSan (detect_leaks=$leaks)"
# install_and_find_package builds an outside project with the default compiler, which cannot
# link clang's sanitizer runtime; it is a packaging test and runs in the normal CI job.
ctest --test-dir "$root/build-asan" -j"$jobs" --output-on-failure -E '^install_and_find_package$'

# ---- 2. fuzz smoke from the checked-in corpora ----
step "fuzz smoke: ${fuzz_seconds} s per fuzzer"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts="$root/build-asan/fuzz-artifacts"
mkdir -p "$artifacts"
pids=()
for f in idx safetensors; do
  mkdir -p "$work/$f"
  cp "$root/tests/fuzz/corpus_$f/"* "$work/$f/"
  "$root/build-asan/tests/fuzz/fuzz_$f" -max_total_time="$fuzz_seconds" -malloc_limit_mb=512 \
    -dict="$root/tests/fuzz/$f.dict" -artifact_prefix="$artifacts/$f-" -print_final_stats=1 \
    "$work/$f" >"$work/$f.log" 2>&1 &
  pids+=($!)
done
status=0
for i in 0 1; do
  f=$([ $i -eq 0 ] && echo idx || echo safetensors)
  if wait "${pids[$i]}"; then
    echo "fuzz_$f: $(grep -E '^#[0-9]+' "$work/$f.log" | tail -n 1)"
  else
    status=1
    echo "fuzz_$f FAILED; its log:"
    grep -v '^#' "$work/$f.log" | tail -n 60
  fi
done
[ $status -eq 0 ] || exit 1

# ---- 3. ThreadSanitizer: the parallel kernels on two threads ----
step "configure + build build-tsan"
cmake -S "$root" -B "$root/build-tsan" "${common[@]}" -DCMAKE_CXX_FLAGS=-fsanitize=thread \
  -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread >/dev/null
cmake --build "$root/build-tsan" -j"$jobs" --target test_tensor test_gradcheck_sweep test_determinism \
  test_autograd_threads
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/tsan.supp"
# TBB (and OpenBLAS) size their pools from the CPUs this process may use: two CPUs make the
# kernels split over two threads. test_determinism sets 1 and 2 threads itself; its two
# full training comparisons take minutes under TSan, so only its kernel and user-thread cases
# run here (the ASan job runs all of it).
pin=()
[ "$jobs" -ge 2 ] && pin=(taskset -c 0,1)
export OPENBLAS_NUM_THREADS=2
tsan_runs=("test_tensor" "test_gradcheck_sweep"
           "test_determinism --run_test=kernels_agree_on_one_and_two_threads,independent_user_threads"
           "test_autograd_threads")
for run in "${tsan_runs[@]}"; do
  step "TSan: $run"
  # shellcheck disable=SC2086  # the run string is a command and its arguments
  (cd "$root/build-tsan/tests" && "${pin[@]}" ./$run --report_level=short)
done
step "all sanitizer checks passed"
