"""PyTorch's DistributedDataParallel (Gloo) on the flagship network, for benchmarks/distributed/
scaling.sh: 784-1024-512-10 with batch norm, ReLU, dropout 0.4/0.25, Adam 1e-3, global batch 128
split over the ranks, standardized Fashion-MNIST. Prints one `epoch_s=` line per epoch (rank 0).

  MASTER_ADDR=127.0.0.1 MASTER_PORT=29533 WORLD_SIZE=2 RANK=r ddp_torch.py --threads 1  (r = 0, 1)
  python3 ddp_torch.py --epochs 2 --threads 2          (one process, no DDP)
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

ROOT = "/usr/share/datasets/fashion-mnist"


def idx(name):
    with gzip.open(os.path.join(ROOT, name), "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--limit-train", type=int, default=-1, help="first N samples only")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    distributed = "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1
    if distributed:
        dist.init_process_group("gloo")
    rank = dist.get_rank() if distributed else 0
    world = dist.get_world_size() if distributed else 1

    x = torch.from_numpy(idx("train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255)
    y = torch.from_numpy(idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    if args.limit_train > 0:
        x, y = x[:args.limit_train], y[:args.limit_train]
    x = (x - x.mean()) / x.std()
    torch.manual_seed(42)
    net = nn.Sequential(nn.Linear(784, 1024), nn.BatchNorm1d(1024), nn.ReLU(), nn.Dropout(0.4),
                        nn.Linear(1024, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Dropout(0.25),
                        nn.Linear(512, 10))
    model = nn.parallel.DistributedDataParallel(net) if distributed else net
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    per_rank = args.batch_size // world
    for epoch in range(args.epochs):
        g = torch.Generator().manual_seed(epoch)
        order = torch.randperm(len(x), generator=g)[rank::world]
        start = time.perf_counter()
        for b in range(0, len(order), per_rank):
            i = order[b:b + per_rank]
            loss = F.cross_entropy(model(x[i]), y[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if distributed:
            dist.barrier()
        if rank == 0:
            print(f"epoch_s={time.perf_counter() - start:.3f}", flush=True)
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
