#!/usr/bin/env bash
# A rank that throws ends the whole job quickly with its message and a non-zero status.
# usage: failure_test.sh MPIEXEC PROGRAM [mpiexec options...]
set -uo pipefail
mpiexec=$1 program=$2
shift 2
start=$SECONDS
out=$(timeout 60 "$mpiexec" -np 2 "$@" "$program" 2>&1)
rc=$?
elapsed=$((SECONDS - start))
echo "$out" | tail -20
echo "failure_test: exit status $rc after $elapsed s"
[ "$rc" -eq 124 ] && { echo "FAIL: the job hung (killed by timeout)"; exit 1; }
[ "$rc" -eq 0 ] && { echo "FAIL: the job exited with status 0"; exit 1; }
grep -q "rank 1 failed on purpose" <<<"$out" || { echo "FAIL: rank 1's message is missing"; exit 1; }
[ "$elapsed" -le 30 ] || { echo "FAIL: took $elapsed s to end"; exit 1; }
echo "PASS"
