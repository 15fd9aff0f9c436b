#!/usr/bin/env bash
# Installs the built library into a temporary prefix, checks that only public headers were
# installed, and builds an outside project against that install alone (find_package; the only
# tapegrad include directory it sees is the prefix's).
set -euo pipefail
build_dir=$1
src_dir=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
inc="$work/prefix/include/tapegrad"

# Internal headers (any detail/ folder, ops/kernels/) must not be installed...
leaked=$(cd "$inc" && find . -path '*/detail/*' -o -path '*/kernels/*' | sort)
if [[ -n "$leaked" ]]; then
  echo "FAIL: internal headers were installed:"; echo "$leaked"; exit 1
fi
# ...nor be included by the umbrella or by any installed header (it would not compile here).
bad=$(grep -rnE '#include [<"]tapegrad/[a-z_]+/(detail|kernels)/' "$inc" || true)
if [[ -n "$bad" ]]; then
  echo "FAIL: installed headers include internal ones:"; echo "${bad//$inc\//}"; exit 1
fi
# Every header the umbrella names is installed, and every installed header is in the umbrella
# (except nn/parallel/: tapegrad::distributed's headers, included on their own with MPI builds).
diff <(sed -n 's|#include "tapegrad/\(.*\)"|\1|p' "$inc/tapegrad.h" | sort) \
     <(cd "$inc" && find . -mindepth 2 -name '*.h' -not -path './nn/parallel/*' | sed 's|^\./||' | sort) ||
  { echo "FAIL: the umbrella and the installed headers differ (see above)"; exit 1; }

cmake -S "$src_dir" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" \
      -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/consumer" >/dev/null
"$work/consumer/consumer"
echo "find_package(tapegrad) consumer built and ran against $(find "$inc" -name '*.h' | wc -l)" \
     "installed public headers"
