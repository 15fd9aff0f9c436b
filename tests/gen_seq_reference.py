#!/usr/bin/python3
"""Prints the PyTorch 1.13 reference numbers that tests/test_seq.cpp carries (run with a python3
that has torch; the test itself never needs it):
    /usr/bin/python3 tests/gen_seq_reference.py"""
import torch

torch.set_printoptions(precision=10)
F = torch.nn.functional


def lst(t):
    return "{" + ", ".join(repr(round(float(v), 10)) for v in t.detach().reshape(-1).tolist()) + "}"


def vals(n, scale=0.1, offset=0.0):
    # The same deterministic inputs the C++ test builds: sin(1 + i) * scale + offset.
    return torch.tensor([torch.sin(torch.tensor(1.0 + i, dtype=torch.float64)).item() * scale + offset
                         for i in range(n)], dtype=torch.float64)


x = vals(12, 1.0).reshape(3, 4)
w = vals(4, 0.5, 1.0)
b = vals(4, 0.3)
print("layer_norm", lst(F.layer_norm(x, (4,), w, b)))
print("gelu_tanh", lst(F.gelu(x * 3, approximate="tanh")))
q, k, v = vals(24).reshape(1, 2, 3, 4) * 10, vals(24, 1.0, 0.2).reshape(1, 2, 3, 4) * 3, vals(24, 1.0, -0.1).reshape(1, 2, 3, 4)
s = q @ k.transpose(-2, -1) / 2.0
s = s.masked_fill(torch.triu(torch.ones(3, 3, dtype=torch.bool), 1), float("-inf"))
print("sdpa_causal", lst(torch.softmax(s, -1) @ v))

# MultiheadAttention with PyTorch's names: batch_first, key padding mask.
mha = torch.nn.MultiheadAttention(4, 2, batch_first=True).double()
with torch.no_grad():
    for i, (name, p) in enumerate(mha.named_parameters()):
        p.copy_(vals(p.numel(), 0.5, 0.01 * i).reshape(p.shape))
        print("mha." + name, list(p.shape), lst(p))
mha.eval()
xq = vals(2 * 3 * 4, 1.0).reshape(2, 3, 4)
kpm = torch.tensor([[False, False, True], [False, False, False]])
out, wts = mha(xq, xq, xq, key_padding_mask=kpm)
print("mha.out", lst(out))
print("mha.weights", lst(wts))

# A pre-LN encoder layer with gelu.
layer = torch.nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, activation="gelu",
                                         batch_first=True, norm_first=True).double()
with torch.no_grad():
    for i, (name, p) in enumerate(layer.named_parameters()):
        p.copy_(vals(p.numel(), 0.4, 0.02 * i).reshape(p.shape))
print("layer names", [n for n, _ in layer.named_parameters()])
layer.eval()
mask = torch.triu(torch.full((3, 3), float("-inf"), dtype=torch.float64), 1)
print("layer.out", lst(layer(xq, src_mask=mask)))
