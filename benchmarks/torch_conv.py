#!/usr/bin/python3
"""LibTorch's side of bench_conv: the same conv2d shapes timed through PyTorch 1.13 (Debian's
python3-torch, the library libtorch-dev ships), float32, at 1 thread and at all cores.
    nice -n 5 /usr/bin/python3 benchmarks/torch_conv.py
Prints the median of repeated runs in ms, like Google Benchmark's real time, with oneDNN
(PyTorch's default on CPU) and without it (torch.backends.mkldnn disabled: ATen's own im2col +
BLAS path), since neither wins at every shape: oneDNN 2.6 takes ~50x longer on the
1-input-channel layer here."""
import os
import statistics
import time

import torch

F = torch.nn.functional
SHAPES = [("cnn_conv1", 128, 1, 32, 28, False), ("cnn_conv2", 128, 32, 64, 14, True),
          ("big", 32, 64, 64, 56, True)]


def timeit(fn, min_time=1.0):
    """Median real time and median process CPU time per call, in ms (on a busy machine the CPU
    time of a 1-thread run is the better measure of the kernel)."""
    fn()  # warm-up (oneDNN builds its kernels on the first call)
    real, cpu = [], []
    start = time.perf_counter()
    while time.perf_counter() - start < min_time or len(real) < 5:
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        real.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(real) * 1e3, statistics.median(cpu) * 1e3


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
            for label, fn in (("fwd", fwd), ("fwdbwd", fwdbwd)):
                for backend, onednn in (("onednn", True), ("native", False)):
                    with torch.backends.mkldnn.flags(enabled=onednn):
                        real, cpu = timeit(fn)
                    print(f"torch/{backend} conv2d/{name}/{label}/threads:{threads} "
                          f"real {real:.2f} ms cpu {cpu:.2f} ms")


if __name__ == "__main__":
    main()
