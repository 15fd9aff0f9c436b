#!/usr/bin/python3
"""LibTorch's side of bench_conv: the same conv2d shapes timed through PyTorch 1.13 (Debian's
python3-torch, the library libtorch-dev ships), float32, at 1 thread and at all cores.
    nice -n 5 /usr/bin/python3 benchmarks/torch_conv.py
Prints the median of repeated runs in ms, like Google Benchmark's real time."""
import os
import statistics
import time

import torch

F = torch.nn.functional
SHAPES = [("cnn_conv1", 128, 1, 32, 28, False), ("cnn_conv2", 128, 32, 64, 14, True),
          ("big", 32, 64, 64, 56, True)]


def timeit(fn, min_time=1.0):
    fn()  # warm-up (oneDNN builds its kernels on the first call)
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_time or len(times) < 5:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main():
    torch.manual_seed(1)
    cores = os.cpu_count() or 1
    for name, batch, cin, cout, size, input_grad in SHAPES:
        x = torch.randn(batch, cin, size, size)
        w = (torch.randn(cout, cin, 3, 3) * 0.1).requires_grad_()
        b = torch.randn(cout).requires_grad_()
        xg = x.clone().requires_grad_(input_grad)
        ones = torch.ones(batch, cout, size, size)

        def fwd():
            with torch.no_grad():
                F.conv2d(x, w, b, padding=1)

        def fwdbwd():
            F.conv2d(xg, w, b, padding=1).backward(ones)
            w.grad = b.grad = xg.grad = None

        for threads in sorted({1, cores}):
            torch.set_num_threads(threads)
            print(f"torch conv2d/{name}/fwd/threads:{threads} {timeit(fwd):.2f} ms")
            print(f"torch conv2d/{name}/fwdbwd/threads:{threads} {timeit(fwdbwd):.2f} ms")


if __name__ == "__main__":
    main()
