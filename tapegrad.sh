#!/usr/bin/env bash
# One entry point for newcomers and CI. Each command installs the Debian packages it needs
# (when missing), configures and builds, then does its job:
#   ./tapegrad.sh run              train the flagship example
#   ./tapegrad.sh test             build everything and run the test suite (what CI runs)
#   ./tapegrad.sh bench            build and run the Google Benchmark programs
#   ./tapegrad.sh compare [ARGS]   side by side with LibTorch (installs libtorch-dev, ~1 GB)
#   ./tapegrad.sh script FILE.cpp [-- ARGS]   build and run your own single-file program
set -euo pipefail
caller=$(pwd)  # `script` resolves FILE and runs the program from here, not from the checkout
cd "$(dirname "$0")"
root=$(pwd)

packages=(cmake g++ make pkg-config libopenblas-dev libtbb-dev libboost-test-dev libbenchmark-dev
          zlib1g-dev nlohmann-json3-dev libcli11-dev libfmt-dev gnuplot-nox dataset-fashion-mnist
          wamerican libopenmpi-dev openmpi-bin iproute2)
# wamerican: /usr/share/dict/words, the text of examples/char_lm; OpenMPI: tapegrad::distributed
# (nn/parallel/); iproute2: the two-namespace distributed test

install_packages() {
  local missing=()
  for p in "${packages[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "tapegrad: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

build() {  # build DIR [cmake options...]
  local dir=$1
  shift
  cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}

cmd=${1:-run}
[ $# -gt 0 ] && shift
case "$cmd" in
  run)
    # The flagship on Fashion-MNIST; only its target is built. Extra args go to the program
    # (e.g. ./tapegrad.sh run --epochs 3); it writes mlp_bn_dropout_adam.{csv,png} here.
    # TAPEGRAD_NP=N trains it data-parallel on N processes under mpirun.
    install_packages
    cmake -S "$root" -B build -DCMAKE_BUILD_TYPE=Release -DTAPEGRAD_BUILD_EXAMPLES=ON >/dev/null
    cmake --build build -j"$(nproc)" --target mlp_bn_dropout_adam
    if [ "${TAPEGRAD_NP:-1}" -gt 1 ]; then
      as_root=()
      [ "$(id -u)" -eq 0 ] && as_root=(--allow-run-as-root)
      exec mpirun "${as_root[@]}" -np "$TAPEGRAD_NP" ./build/examples/mlp_bn_dropout_adam "$@"
    fi
    exec ./build/examples/mlp_bn_dropout_adam "$@"
    ;;
  test)
    install_packages
    build build -DTAPEGRAD_BUILD_TESTS=ON -DTAPEGRAD_BUILD_EXAMPLES=ON
    ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
    ;;
  bench)
    install_packages
    build build -DTAPEGRAD_BUILD_BENCHMARKS=ON
    for b in build/benchmarks/bench_*; do [ -x "$b" ] && "$b" "$@"; done
    ;;
  compare)
    # The same networks trained by tapegrad and by Debian's LibTorch on the same OpenBLAS;
    # prints the `compare net=...` table of the README's Performance section.
    install_packages libtorch-dev
    cmake -S "$root" -B build -DCMAKE_BUILD_TYPE=Release -DTAPEGRAD_BUILD_BENCHMARKS=ON >/dev/null
    cmake --build build -j"$(nproc)" --target compare_libtorch
    exec ./build/benchmarks/compare_libtorch "$@"
    ;;
  script)
    [ $# -ge 1 ] || { echo "usage: $0 script FILE.cpp [-- ARGS]" >&2; exit 2; }
    src=$(cd "$caller" && realpath -m -- "$1")
    [ -f "$src" ] || { echo "tapegrad.sh script: no such file: $1 (looked for $src)" >&2; exit 2; }
    shift
    [ "${1:-}" = "--" ] && shift
    install_packages
    cmake -S "$root" -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build -j"$(nproc)" --target tapegrad
    # A tiny CMake project per script that finds the library in this build tree.
    name=$(basename "$src" .cpp)
    proj="build/scripts/$name"
    mkdir -p "$proj"
    cat > "$proj/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project($name LANGUAGES CXX)
find_package(tapegrad REQUIRED)
add_executable($name "$src")
target_compile_features($name PRIVATE cxx_std_20)
target_link_libraries($name PRIVATE tapegrad::tapegrad)
CMAKE
    cmake -S "$proj" -B "$proj/build" -DCMAKE_BUILD_TYPE=Release -Dtapegrad_DIR="$root/build" >/dev/null
    cmake --build "$proj/build" -j"$(nproc)" --target "$name"
    cd "$caller"
    exec "$root/$proj/build/$name" "$@"
    ;;
  *)
    echo "usage: $0 {run|test|bench|compare|script FILE.cpp [-- ARGS]} [args]" >&2
    exit 2
    ;;
esac
