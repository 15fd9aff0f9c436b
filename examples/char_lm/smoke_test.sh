#!/usr/bin/env bash
# CTest smoke test of char_lm: smoke_test.sh PROGRAM
# A few training steps on a slice of the words; the last line must be val_loss=X.XXXX, below the
# uniform model's ln 27 = 3.2958 (it learned something) and the output must hold the baselines
# and the samples. Exits 77 (CTest: skipped) when wamerican is not installed.
set -uo pipefail
if [ ! -f /usr/share/dict/words ]; then
  echo "wamerican is not installed (apt-get install wamerican): skipped"
  exit 77
fi
err=$(mktemp)
trap 'rm -f "$err"' EXIT
out=$("$1" --epochs 1 --max-steps 30 --limit-train 3000 --limit-val 300 --batch-size 32 --samples 5 \
  --plot '' --csv '' --save '' 2>"$err")
status=$?
printf '%s\n' "$out" | tail -n 12
if [ $status -ne 0 ]; then
  echo "exit status $status; stderr:"
  cat "$err"
  exit 1
fi
for want in "bigram" "trigram" "sampled words"; do
  if ! grep -q "$want" <<<"$out"; then
    echo "the output lacks '$want'"
    exit 1
  fi
done
last=$(printf '%s\n' "$out" | tail -n 1)
if [[ ! "$last" =~ ^val_loss=([0-9]+\.[0-9]{4})$ ]]; then
  echo "the last line is not val_loss=X.XXXX: '$last'"
  exit 1
fi
if ! awk -v a="${BASH_REMATCH[1]}" 'BEGIN { exit !(a < 3.1) }'; then
  echo "validation loss ${BASH_REMATCH[1]} is not below 3.1 nats/char"
  exit 1
fi
