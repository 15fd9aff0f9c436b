#!/usr/bin/env bash
# Data-parallel scaling of the flagship on this machine: epoch seconds for 1 process x 2 threads,
# 2 processes x 1 thread (mpirun; two Gloo processes for PyTorch) and 1 x 1, tapegrad beside PyTorch's DDP (Gloo, Debian's
# python3-torch) with the same network, data and global batch. Run from the repository root
# after ./tapegrad.sh test (or a build with examples):  benchmarks/distributed/scaling.sh [EPOCHS]
# TG_ARGS / TORCH_ARGS add options (e.g. a --limit-train for a quick look). PROG picks another
# example; ddp_torch.py has only the flagship, so the PyTorch rows are left out then:
#   PROG=build/examples/cnn_fashion TG_ARGS="--limit-train 20000" benchmarks/distributed/scaling.sh 3
# Prints the median epoch time (over epochs 2..EPOCHS; the first warms caches) per setting.
# tapegrad's three settings run ROUNDS times in turn (default 3) and each median pools every
# round's epochs: on a shared VM the machine's speed drifts by tens of percent within minutes,
# and taking turns spreads that drift over all three. PyTorch's settings run once.
set -euo pipefail
epochs=${1:-4}
rounds=${ROUNDS:-3}
prog=${PROG:-build/examples/mlp_bn_dropout_adam}
mpi=(mpirun --allow-run-as-root)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
tg_epochs() {  # tg_epochs CSV -> the seconds column without the first epoch
  awk -F, 'NR==1 {for (i=1;i<=NF;i++) if ($i=="seconds") c=i; next} NR>2 {print $c}' "$1"
}
torch_epoch() { grep '^epoch_s=' | tail -n +2 | cut -d= -f2 | median; }

run_tg() {  # run_tg LABEL launcher-and-args...: one run, its epochs appended to LABEL.epochs
  local label=$1
  shift
  "$@" ${TG_ARGS:-} --epochs "$epochs" --csv "$tmp/$label.csv" --plot '' >"$tmp/$label.log" 2>&1
  tg_epochs "$tmp/$label.csv" >>"$tmp/$label.epochs"
}

for ((round = 1; round <= rounds; round++)); do
  run_tg 1proc_2threads "$prog" --threads 2
  run_tg 2procs_1thread "${mpi[@]}" -np 2 "$prog" --threads 1
  run_tg 1proc_1thread "$prog" --threads 1
done
for label in 1proc_2threads 2procs_1thread 1proc_1thread; do
  echo "tapegrad $label epoch_s=$(median <"$tmp/$label.epochs")  ($(sort -g "$tmp/$label.epochs" \
    | tr '\n' ' ')) $(grep '^data-parallel' "$tmp/$label.log" || true)"
done
echo "tapegrad 2procs_1thread / 1proc_2threads = $(awk -v a="$(median <"$tmp/2procs_1thread.epochs")" \
  -v b="$(median <"$tmp/1proc_2threads.epochs")" 'BEGIN {printf "%.3f", a / b}')"
[ "$prog" = build/examples/mlp_bn_dropout_adam ] || exit 0
py=benchmarks/distributed/ddp_torch.py
echo "pytorch 1proc_2threads epoch_s=$(/usr/bin/python3 "$py" ${TORCH_ARGS:-} --epochs "$epochs" --threads 2 | torch_epoch)"
# Two Gloo ranks started by hand (Debian's torchrun 1.13 fails on Python 3.11).
torch_ddp() {
  for r in 0 1; do
    MASTER_ADDR=127.0.0.1 MASTER_PORT=29533 RANK=$r LOCAL_RANK=$r WORLD_SIZE=2 \
      /usr/bin/python3 "$py" ${TORCH_ARGS:-} --epochs "$epochs" --threads 1 &
  done
  wait
}
echo "pytorch 2procs_1thread epoch_s=$(torch_ddp | torch_epoch)"
echo "pytorch 1proc_1thread epoch_s=$(/usr/bin/python3 "$py" ${TORCH_ARGS:-} --epochs "$epochs" --threads 1 | torch_epoch)"
