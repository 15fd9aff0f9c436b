#!/usr/bin/env bash
# CTest smoke test of one example: smoke_test.sh MIN_ACCURACY PROGRAM [ARGS...]
# Runs the program briefly (its args keep it short) and checks that its very last line is
# test_accuracy=0.XXXX with at least MIN_ACCURACY, i.e. that it loaded data, learned and
# reported in the agreed format. Exits 77 (CTest: skipped) when Fashion-MNIST is not installed.
set -uo pipefail
min=$1
shift
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  echo "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): skipped"
  exit 77
fi
err=$(mktemp)
trap 'rm -f "$err"' EXIT
out=$("$@" --plot '' --csv '' 2>"$err")
status=$?
printf '%s\n' "$out" | tail -n 8
if [ $status -ne 0 ]; then
  echo "exit status $status; stderr:"
  cat "$err"
  exit 1
fi
last=$(printf '%s\n' "$out" | tail -n 1)
if [[ ! "$last" =~ ^test_accuracy=([01]\.[0-9]{4})$ ]]; then
  echo "the last line is not test_accuracy=0.XXXX: '$last'"
  exit 1
fi
if ! awk -v a="${BASH_REMATCH[1]}" -v m="$min" 'BEGIN { exit !(a >= m) }'; then
  echo "test accuracy ${BASH_REMATCH[1]} is below $min"
  exit 1
fi
