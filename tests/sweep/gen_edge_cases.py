#!/usr/bin/python3
"""Writes edges_pytorch.cpp: the edge-value table of the gradcheck sweep (values and gradients
at NaN, +-inf and 0), with the numbers PyTorch 1.13 gives. Run with a python3 that has torch:
    /usr/bin/python3 tests/sweep/gen_edge_cases.py > tests/sweep/edges_pytorch.cpp
Each row pairs a tapegrad expression (C++) with the same computation in PyTorch."""
import math
import torch

F = torch.nn.functional
nan, inf = float("nan"), float("inf")
E = [nan, inf, -inf, 0.0, -0.0, 1.5, -0.5]
# Pairs for binary ops: NaN either side, infinities, zeros, ties.
A = [nan, 1.0, nan, inf, inf, -inf, 0.0, 0.0, 0.0, -0.0, 2.0, 1.0, 0.0, 2.0]
B = [1.0, nan, nan, inf, 1.0, -inf, 0.0, -1.0, 2.0, -1.0, nan, inf, 0.5, 2.0]
# Rows for reductions along dim 1: NaN, infinities, all zero, all equal, ordinary.
R = [[nan, 1.0, 2.0], [inf, 1.0, -inf], [0.0, 0.0, 0.0], [2.0, 2.0, 2.0], [-inf, -inf, -inf],
     [inf, inf, 1.0], [1.0, -3.0, 0.5]]
W = [[1.0, 2.0, 3.0]] * len(R)  # a constant weight that makes gradients through softmax visible

rows = []


def row(op, label, cpp, fn, inputs):
    """inputs: list of (values, requires_grad); values nested lists of floats or int64 labels."""
    ts = []
    for vals, rg in inputs:
        if isinstance(vals, torch.Tensor):
            t = vals
        else:
            t = torch.tensor(vals, dtype=torch.float64)
        if rg:
            t = t.clone().requires_grad_()
        ts.append(t)
    out = fn(*ts)
    diff = [t for t in ts if t.requires_grad]
    grads = []
    if diff:
        gs = torch.autograd.grad(out, diff, torch.ones_like(out), allow_unused=True)
        it = iter(gs)
        for t in ts:
            if t.requires_grad:
                g = next(it)
                grads.append(torch.zeros_like(t) if g is None else g)
            else:
                grads.append(None)
    else:
        grads = [None] * len(ts)
    rows.append((op, label, cpp, ts, out.detach(), grads))


def num(v):
    if math.isnan(v):
        return "N"
    if math.isinf(v):
        return "I" if v > 0 else "-I"
    return repr(float(v))


def vec(t):
    return "{" + ", ".join(num(v) for v in t.detach().reshape(-1).tolist()) + "}"


def shape(t):
    return "{" + ", ".join(str(s) for s in t.shape) + "}"


# ---- unary elementwise and activations ----
unary = [
    ("abs", "abs(x[0])", torch.abs), ("exp", "exp(x[0])", torch.exp),
    ("expm1", "expm1(x[0])", torch.expm1), ("log", "log(x[0])", torch.log),
    ("log1p", "log1p(x[0])", torch.log1p), ("sqrt", "sqrt(x[0])", torch.sqrt),
    ("rsqrt", "rsqrt(x[0])", torch.rsqrt), ("square", "square(x[0])", torch.square),
    ("reciprocal", "reciprocal(x[0])", torch.reciprocal), ("sin", "sin(x[0])", torch.sin),
    ("cos", "cos(x[0])", torch.cos), ("erf", "erf(x[0])", torch.erf),
    ("tanh", "tanh(x[0])", torch.tanh), ("sigmoid", "sigmoid(x[0])", torch.sigmoid),
    ("relu", "relu(x[0])", torch.relu), ("neg", "-x[0]", torch.neg),
    ("relu6", "relu6(x[0])", F.relu6), ("hardtanh", "hardtanh(x[0])", F.hardtanh),
    ("hardtanh", "hardtanh(x[0], -0.5, 1.5)", lambda x: F.hardtanh(x, -0.5, 1.5)),
    ("leaky_relu", "leaky_relu(x[0], 0.2)", lambda x: F.leaky_relu(x, 0.2)),
    ("elu", "elu(x[0])", F.elu), ("elu", "elu(x[0], 0.5)", lambda x: F.elu(x, 0.5)),
    ("gelu", "gelu(x[0])", F.gelu), ("silu", "silu(x[0])", F.silu),
    ("softplus", "softplus(x[0])", F.softplus),
    ("softplus", "softplus(x[0], 2.0, 1.0)", lambda x: F.softplus(x, 2.0, 1.0)),
    ("clamp", "clamp(x[0], -0.5, 1.0)", lambda x: x.clamp(-0.5, 1.0)),
    ("clamp", "clamp(x[0], 0.0, std::nullopt)", lambda x: x.clamp(min=0.0)),
    ("clamp", "clamp(x[0], std::nullopt, 0.0)", lambda x: x.clamp(max=0.0)),
    ("add_scalar", "x[0] + 2.0", lambda x: x + 2.0), ("mul_scalar", "x[0] * 3.0", lambda x: x * 3.0),
    ("mul_scalar", "x[0] * 0.0", lambda x: x * 0.0),
    ("div_scalar", "x[0] / 2.0", lambda x: x / 2.0), ("div_scalar", "x[0] / 0.0", lambda x: x / 0.0),
    ("rsub_scalar", "2.0 - x[0]", lambda x: 2.0 - x),
]
for p in [0.0, 0.5, 1.0, 2.0, 3.0, -1.0, -0.5]:
    unary.append(("pow", f"pow(x[0], {p!r})", lambda x, p=p: torch.pow(x, p)))
for op, cpp, fn in unary:
    row(op, cpp, cpp, fn, [(E, True)])

# ---- binary elementwise ----
binary = [
    ("add", "x[0] + x[1]", torch.add), ("sub", "x[0] - x[1]", torch.sub),
    ("mul", "x[0] * x[1]", torch.mul), ("div", "x[0] / x[1]", torch.div),
    ("maximum", "maximum(x[0], x[1])", torch.maximum),
    ("minimum", "minimum(x[0], x[1])", torch.minimum),
    ("pow_tensor", "pow(x[0], x[1])", torch.pow),
]
for op, cpp, fn in binary:
    row(op, cpp, cpp, fn, [(A, True), (B, True)])
for base in [0.0, 2.0]:
    cpp = f"pow({base!r}, x[0])"
    row("pow_tensor", cpp, cpp, lambda y, b=base: torch.pow(b, y), [(B, True)])
cond = [1.0 if i % 2 else 0.0 for i in range(len(A))]
row("where", "where(x[2] > 0.0, x[0], x[1])", "where(x[2] > 0.0, x[0], x[1])",
    lambda a, b, c: torch.where(c > 0, a, b), [(A, True), (B, True), (cond, False)])

# ---- reductions ----
red = [
    ("sum", "sum(x[0], {1})", lambda x: x.sum(1)), ("mean", "mean(x[0], {1})", lambda x: x.mean(1)),
    ("amax", "amax(x[0], {1})", lambda x: x.amax(1)), ("amin", "amin(x[0], {1})", lambda x: x.amin(1)),
    ("max", "max(x[0], 1).values", lambda x: x.max(1).values),
    ("min", "min(x[0], 1).values", lambda x: x.min(1).values),
    ("var", "var(x[0], {1})", lambda x: x.var(1)),
    ("var", "var(x[0], {1}, 0.0)", lambda x: x.var(1, unbiased=False)),
    ("std", "std(x[0], {1})", lambda x: x.std(1)),
    ("std", "std(x[0], {1}, 0.0)", lambda x: x.std(1, unbiased=False)),
    ("logsumexp", "logsumexp(x[0], {1})", lambda x: torch.logsumexp(x, 1)),
    ("cumsum", "cumsum(x[0], 1)", lambda x: torch.cumsum(x, 1)),
    ("softmax", "F::softmax(x[0], 1) * x[1]", lambda x, w: F.softmax(x, 1) * w),
    ("log_softmax", "F::log_softmax(x[0], 1) * x[1]", lambda x, w: F.log_softmax(x, 1) * w),
]
for p in [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, inf, -inf]:
    cpp = f"norm(x[0], {num(p).replace('I', 'kInf')}, {{1}})"
    red.append(("norm", cpp, lambda x, p=p: torch.norm(x, p=p, dim=1)))
for op, cpp, fn in red:
    ins = [(R, True)] + ([(W, False)] if "x[1]" in cpp else [])
    row(op, cpp, cpp, fn, ins)
# prod: PyTorch takes y / x when x has no zero and products of the others in every block when
# any element is zero; tapegrad keeps y / x for blocks without zeros (see reduction.h), so the
# NaN/inf rows and the zero rows are checked in separate tensors.
row("prod", "prod(x[0], {1}) without zeros", "prod(x[0], {1})", lambda x: x.prod(1),
    [([r for r in R if 0.0 not in r], True)])
row("prod", "prod(x[0], {1}) with zeros", "prod(x[0], {1})", lambda x: x.prod(1),
    [([[0.0, 0.0, 0.0], [0.0, 2.0, 3.0], [1.0, -3.0, 0.5]], True)])
# Reductions over everything: max()/min() send a NaN result's gradient to the NaN elements, ties
# share it evenly.
for vals in ([1.0, nan, 3.0, nan], [3.0, 1.0, 3.0], [-inf, -inf], [inf, 1.0, -inf]):
    row("amax", "max(x[0])", "max(x[0])", torch.max, [(vals, True)])
    row("amin", "min(x[0])", "min(x[0])", torch.min, [(vals, True)])
    row("amax", "amax(x[0], {0})", "amax(x[0], {0})", lambda x: x.amax(0), [(vals, True)])
# A single element: NaN for the unbiased estimates, 0 for the population one.
for cpp, fn in [("std(x[0], {1})", lambda x: x.std(1)), ("std(x[0], {1}, 0.0)", lambda x: x.std(1, unbiased=False)),
                ("var(x[0], {1})", lambda x: x.var(1))]:
    row(cpp.split("(")[0], cpp + ", one element", cpp, fn, [([[2.0], [nan]], True)])
row("norm", "norm(x[0], 0.5) all zero", "norm(x[0], 0.5)", lambda x: torch.norm(x, p=0.5), [([0.0, 0.0, 0.0], True)])
row("norm", "norm(x[0]) all zero", "norm(x[0])", lambda x: torch.norm(x), [([0.0, 0.0], True)])

# ---- losses ----
Z = [[nan, 1.0, 2.0], [inf, 1.0, 2.0], [-inf, 1.0, 2.0], [-inf, -inf, -inf], [0.5, -1.0, 2.0]]
T = [1, 1, 0, 0, 2]
cw = [0.2, 1.0, 3.0]
ce = [
    ("F::cross_entropy(x[0], labels({1, 1, 0, 0, 2}, {5}), {.reduction = Reduction::None})",
     lambda z: F.cross_entropy(z, torch.tensor(T), reduction="none"), Z),
    ("F::cross_entropy(x[0], labels({1, 1, 0, 0, 2}, {5}), {.reduction = Reduction::Sum, .label_smoothing = 0.1})",
     lambda z: F.cross_entropy(z, torch.tensor(T), reduction="sum", label_smoothing=0.1), Z),
    ("F::cross_entropy(x[0], labels({-100, -100}, {2}))",
     lambda z: F.cross_entropy(z, torch.tensor([-100, -100])), Z[3:]),
    ("F::cross_entropy(x[0], labels({-100, -100}, {2}), {.label_smoothing = 0.1, .weight = values({0.2, 1.0, 3.0}, {3})})",
     lambda z: F.cross_entropy(z, torch.tensor([-100, -100]), weight=torch.tensor(cw, dtype=torch.float64), label_smoothing=0.1), Z[3:]),
    ("F::cross_entropy(x[0], labels({2, -100}, {2}), {.label_smoothing = 0.1})",
     lambda z: F.cross_entropy(z, torch.tensor([2, -100]), label_smoothing=0.1), Z[3:]),
    ("F::cross_entropy(x[0], labels({0, -100}, {2}), {.weight = values({0.0, 1.0, 1.0}, {3})})",
     lambda z: F.cross_entropy(z, torch.tensor([0, -100]), weight=torch.tensor([0.0, 1.0, 1.0], dtype=torch.float64)), Z[3:]),
]
for cpp, fn, z in ce:
    row("cross_entropy", cpp, cpp, fn, [(z, True)])
row("cross_entropy", "probability targets", "F::cross_entropy(x[0], x[1])",
    lambda z, p: F.cross_entropy(z, p), [(Z[:3], True), ([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0], [0.0, 0.5, 0.5]], True)])
LP = [[nan, -1.0, -2.0], [-inf, -1.0, -2.0], [0.0, -inf, -1.0]]
row("nll_loss", "mean", "F::nll_loss(x[0], labels({1, 0, 1}, {3}))",
    lambda x: F.nll_loss(x, torch.tensor([1, 0, 1])), [(LP, True)])
row("nll_loss", "all ignored", "F::nll_loss(x[0], labels({-100, -100, -100}, {3}))",
    lambda x: F.nll_loss(x, torch.tensor([-100, -100, -100])), [(LP, True)])
row("nll_loss", "all ignored, weights", "F::nll_loss(x[0], labels({-100, -100, -100}, {3}), Reduction::Mean, -100, values({0.2, 1.0, 3.0}, {3}))",
    lambda x: F.nll_loss(x, torch.tensor([-100, -100, -100]), weight=torch.tensor(cw, dtype=torch.float64)), [(LP, True)])
row("nll_loss", "weights summing to 0", "F::nll_loss(x[0], labels({0, -100, 0}, {3}), Reduction::Mean, -100, values({0.0, 1.0, 1.0}, {3}))",
    lambda x: F.nll_loss(x, torch.tensor([0, -100, 0]), weight=torch.tensor([0.0, 1.0, 1.0], dtype=torch.float64)), [(LP, True)])
P = [nan, inf, -inf, 0.0, 1.0, 2.0, inf, 0.0]
Q = [1.0, 1.0, 0.0, 0.0, nan, inf, inf, -inf]
for op, cpp, fn in [
        ("mse_loss", "F::mse_loss(x[0], x[1], Reduction::None)", lambda a, b: F.mse_loss(a, b, reduction="none")),
        ("l1_loss", "F::l1_loss(x[0], x[1], Reduction::None)", lambda a, b: F.l1_loss(a, b, reduction="none")),
        ("huber_loss", "F::huber_loss(x[0], x[1], Reduction::None)", lambda a, b: F.huber_loss(a, b, reduction="none")),
        ("binary_cross_entropy_with_logits", "F::binary_cross_entropy_with_logits(x[0], x[1], Reduction::None)",
         lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none"))]:
    row(op, cpp, cpp, fn, [(P, True), (Q, True)])
row("binary_cross_entropy", "p at 0 and 1", "F::binary_cross_entropy(x[0], x[1], Reduction::None)",
    lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
    [([0.0, 1.0, 0.0, 1.0, 0.5], True), ([0.0, 1.0, 1.0, 0.0, 0.5], True)])

# ---- in-place ops on a non-leaf copy (their recorded nodes: mul_ div_ fill_ copy_) ----
def inplace(method, *args):
    def fn(x, *others):
        a = x * 1.0
        getattr(a, method)(*(list(args) + list(others)))
        return a
    return fn


row("mul_", "a.mul_(x[1])", "[&] { Tensor a = x[0] * 1.0; a.mul_(x[1]); return a; }()",
    inplace("mul_"), [(A, True), (B, True)])
row("mul_", "a.mul_(0.0)", "[&] { Tensor a = x[0] * 1.0; a.mul_(0.0); return a; }()",
    inplace("mul_", 0.0), [(E, True)])
row("div_", "a.div_(x[1])", "[&] { Tensor a = x[0] * 1.0; a.div_(x[1]); return a; }()",
    inplace("div_"), [(A, True), (B, True)])
row("div_", "a.div_(0.0)", "[&] { Tensor a = x[0] * 1.0; a.div_(0.0); return a; }()",
    inplace("div_", 0.0), [(E, True)])
row("fill_", "a.fill_(NaN) * x[0]", "[&] { Tensor a = x[0] * 1.0; a.fill_(N); return a * x[0]; }()",
    lambda x: (x * 1.0).fill_(nan) * x, [(E, True)])
row("copy_", "a.copy_(x[1]) * x[0]", "[&] { Tensor a = x[0] * 1.0; a.copy_(x[1]); return a * x[0]; }()",
    lambda x, y: (x * 1.0).copy_(y) * x, [(A, True), (B, True)])

# ---- pooling (NaN propagates through max pooling, the last NaN of a window taking the
# gradient; ties, -0.0 against 0.0 included, keep the first; all -inf windows; inf - inf in
# average pooling) ----
PL = [[[[nan, 1.0, 2.0, 2.0], [0.0, -1.0, 2.0, 1.0], [inf, -inf, -inf, -inf], [0.0, 3.0, -inf, -inf]],
       [[1.0, nan, -0.0, 0.0], [nan, 2.0, 0.0, -0.0], [inf, inf, 5.0, 5.0], [-inf, 1.0, 5.0, 4.0]]]]
pool = [
    ("max_pool2d", "F::max_pool2d(x[0], 2)", lambda x: F.max_pool2d(x, 2)),
    ("max_pool2d", "F::max_pool2d(x[0], 3, 1, 1)", lambda x: F.max_pool2d(x, 3, 1, 1)),
    ("max_pool2d", "F::max_pool2d(x[0], 2, 1, 0, 2)", lambda x: F.max_pool2d(x, 2, 1, 0, 2)),
    ("avg_pool2d", "F::avg_pool2d(x[0], 2)", lambda x: F.avg_pool2d(x, 2)),
    ("avg_pool2d", "F::avg_pool2d(x[0], 3, 2, 1, true, false)", lambda x: F.avg_pool2d(x, 3, 2, 1, True, False)),
    ("adaptive_max_pool2d", "F::adaptive_max_pool2d(x[0], {3, 3})", lambda x: F.adaptive_max_pool2d(x, (3, 3))),
    ("adaptive_max_pool2d", "F::adaptive_max_pool2d(x[0], 1)", lambda x: F.adaptive_max_pool2d(x, 1)),
    ("adaptive_avg_pool2d", "F::adaptive_avg_pool2d(x[0], {3, 2})", lambda x: F.adaptive_avg_pool2d(x, (3, 2))),
    ("max_pool1d", "F::max_pool1d(x[0].flatten(1, 2), 3, 2, 1)", lambda x: F.max_pool1d(x.flatten(1, 2), 3, 2, 1)),
    ("avg_pool1d", "F::avg_pool1d(x[0].flatten(1, 2), 3, 2, 1, true)", lambda x: F.avg_pool1d(x.flatten(1, 2), 3, 2, 1, True)),
]
for op, cpp, fn in pool:
    row(op, cpp, cpp, fn, [(PL, True)])

# ---- convolutions (issue 13): NaN and infinities in the input and the weight, zero padding
# (a padded zero times an infinite weight is NaN in PyTorch's im2col + GEMM too) ----
CX = [[[[nan, 1.0, 0.0], [inf, -0.5, 2.0], [0.0, -inf, 1.5]]]]
CW = [[[[1.0, 0.0], [-1.0, 2.0]]]]
CWI = [[[[inf, 0.0], [1.0, nan]]]]
CXF = [[[[1.0, 0.5, -1.0], [2.0, 0.0, 1.0], [-0.5, 1.5, 0.25]]]]
row("conv2d", "NaN/inf input, pad 1", "F::conv2d(x[0], x[1], x[2], 1, 1)",
    lambda x, w, b: F.conv2d(x, w, b, padding=1), [(CX, True), (CW, True), ([0.5], True)])
row("conv2d", "inf/NaN weight, pad 1", "F::conv2d(x[0], x[1], {}, 1, 1)",
    lambda x, w: F.conv2d(x, w, padding=1), [(CXF, True), (CWI, True)])
row("conv1d", "NaN/inf input, stride 2", "F::conv1d(x[0], x[1], {}, 2, 1)",
    lambda x, w: F.conv1d(x, w, stride=2, padding=1), [([[[nan, 1.0, inf, 0.0, -inf]]], True), ([[[1.0, 0.0, -2.0]]], True)])
row("conv_transpose2d", "NaN/inf input, stride 2", "F::conv_transpose2d(x[0], x[1], {}, 2)",
    lambda x, w: F.conv_transpose2d(x, w, stride=2), [(CX, True), (CW, True)])
row("conv2d_weight", "NaN/inf input", "F::conv2d_weight(x[0], 2, x[1])",
    lambda x, g: torch.nn.grad.conv2d_weight(x, (1, 1, 2, 2), g), [(CX, True), ([[[[1.0, -1.0], [0.0, 2.0]]]], True)])
row("unfold", "NaN/inf input, pad 1", "F::unfold(x[0], 2, 1, 1)",
    lambda x: F.unfold(x, 2, padding=1), [(CX, True)])
row("fold", "NaN/inf blocks overlapping", "F::fold(x[0], {2, 3}, {1, 2})",
    lambda x: F.fold(x, (2, 3), (1, 2)), [([[[nan, 1.0, inf, 0.0], [-inf, 2.0, 0.0, inf]]], True)])
# ---- sort / topk (NaN sorts as the largest) and the recurrent cells (helper rnn) ----
for cpp, fn in [("sort(x[0], 1).values", lambda x: torch.sort(x, 1).values),
                ("sort(x[0], 1, true).values", lambda x: torch.sort(x, 1, descending=True).values),
                ("topk(x[0], 2, 1).values", lambda x: torch.topk(x, 2, 1).values),
                ("topk(x[0], 1, 1, false).values", lambda x: torch.topk(x, 1, 1, largest=False).values)]:
    # Rows without ties: PyTorch's topk picks among equal values in no documented order.
    row(cpp.split("(")[0], cpp, cpp, fn, [([r for r in R if len(set(map(str, r))) == 3], True)])
row("sort", "sort(x[0]) ties keep index order", "sort(x[0], 0, false, true).values * x[1]",
    lambda x, w: torch.sort(x, dim=0, stable=True).values * w, [([2.0, nan, 1.0, 2.0, 1.0, nan], True), ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], False)])
G4 = [[nan, 0.0, 1.0, -1.0], [inf, 0.5, -inf, 2.0], [-inf, inf, 0.0, -inf], [0.5, -inf, inf, inf],
      [1.0, 2.0, nan, 0.5], [0.0, 0.0, 0.0, nan]]
C1 = [[1.0], [inf], [-1.0], [nan], [0.5], [-inf]]


def lstm_ref(g, c):
    i, f, gg, o = g.chunk(4, 1)
    cn = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
    return torch.cat([torch.sigmoid(o) * torch.tanh(cn), cn], 1)


row("lstm_gates", "lstm_gates at NaN and inf", "[&] { auto s = lstm_gates(x[0], x[1]); return cat({s.h, s.c}, 1); }()",
    lstm_ref, [(G4, True), (C1, True)])
G3 = [[nan, 0.0, 1.0], [inf, 0.5, -inf], [-inf, inf, 0.0], [0.5, -inf, inf], [1.0, 2.0, nan], [0.0, 0.0, 0.0]]
H3 = [[0.5, 1.0, -1.0], [0.0, 0.0, inf], [1.0, -1.0, -inf], [nan, 0.0, 1.0], [0.0, 1.0, 2.0], [inf, -inf, 0.0]]


def gru_ref(gx, gh, h):
    r = torch.sigmoid(gx[:, 0:1] + gh[:, 0:1])
    z = torch.sigmoid(gx[:, 1:2] + gh[:, 1:2])
    n = torch.tanh(gx[:, 2:3] + r * gh[:, 2:3])
    return (1 - z) * n + z * h


row("gru_gates", "gru_gates at NaN and inf", "gru_gates(x[0], x[1], x[2])", gru_ref,
    [(G3, True), (H3, True), (C1, True)])
XC = [[nan, 1.0], [inf, 0.0], [-inf, 1.0], [0.0, -0.0]]
HC = [[0.5], [0.0], [inf], [-1.0]]
W1 = [[0.5, -1.0]]
WH = [[2.0]]
for op, fn in [("rnn_tanh_cell", torch.rnn_tanh_cell), ("rnn_relu_cell", torch.rnn_relu_cell)]:
    cpp = f"{op}(x[0], x[1], x[2], x[3], x[4], x[5])"
    row(op, cpp, cpp, fn, [(XC, True), (HC, True), (W1, False), (WH, False), ([0.1], False), ([-0.2], False)])
W4 = [[0.5, -1.0], [1.0, 0.0], [-0.5, 0.5], [0.0, 1.0]]
row("lstm_cell", "lstm_cell at NaN and inf", "[&] { auto s = lstm_cell(x[0], {x[1], x[2]}, x[3], x[4]); return cat({s.h, s.c}, 1); }()",
    lambda x, h, c, wi, wh: torch.cat(torch.lstm_cell(x, (h, c), wi, wh), 1),
    [(XC, True), (HC, True), ([[1.0], [-1.0], [nan], [0.0]], True), (W4, False), ([[1.0], [0.5], [-1.0], [2.0]], False)])
row("gru_cell", "gru_cell at NaN and inf", "gru_cell(x[0], x[1], x[2], x[3])",
    lambda x, h, wi, wh: torch.gru_cell(x, h, wi, wh),
    [(XC, True), (HC, True), (W4[:3], False), ([[1.0], [0.5], [-1.0]], False)])
# ---- sequence ops (issue 14): gelu's tanh approximation, layer/RMS norm rows, triangles ----
row("gelu_tanh", 'gelu(x[0], "tanh")', 'gelu(x[0], "tanh")',
    lambda x: F.gelu(x, approximate="tanh"), [(E, True)])
row("layer_norm", "rows with NaN, inf, equal values", "F::layer_norm(x[0], {3}) * x[1]",
    lambda x, w: F.layer_norm(x, (3,)) * w, [(R, True), (W, False)])
row("layer_norm", "affine, rows with NaN, inf, equal values", "F::layer_norm(x[0], {3}, x[2], x[3]) * x[1]",
    lambda x, w, a, b: F.layer_norm(x, (3,), a, b) * w,
    [(R, True), (W, False), ([0.5, -1.0, 2.0], True), ([0.1, 0.0, -0.3], True)])
# rms_norm is not in PyTorch 1.13: its definition, with eps = machine epsilon of float64.
row("rms_norm", "rows with NaN, inf, zeros", "F::rms_norm(x[0], {3}) * x[1]",
    lambda x, w: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + torch.finfo(torch.float64).eps) * w,
    [(R, True), (W, False)])
row("tril", "NaN and inf above and below the diagonal", "tril(x[0])", torch.tril, [(R[:3], True)])
row("triu", "NaN and inf above and below the diagonal, diagonal 1", "triu(x[0], 1)",
    lambda x: torch.triu(x, 1), [(R[:3], True)])

# ---- the whole-sequence LSTM layer (helper lstm): the lstm_cell recurrence over 3 steps ----
# [T=3, B=2, 2]: batch 0 NaN in its last step only, batch 1 saturating infinities (the weights
# have no zeros, so no 0 * inf).
XS = [[[0.5, 1.0], [inf, 0.0]], [[-0.0, 0.0], [0.0, -inf]], [[nan, 1.0], [1.0, -1.0]]]
WS = [[0.5, -1.0], [1.0, 0.5], [-0.5, 0.5], [0.25, 1.0]]


def lstm_layer_ref(reverse):
    def f(x, wi, wh):
        h = c = torch.zeros(x.shape[1], wh.shape[1], dtype=x.dtype)
        hs = [None] * x.shape[0]
        for t in (reversed(range(x.shape[0])) if reverse else range(x.shape[0])):
            h, c = torch.lstm_cell(x[t], (h, c), wi, wh)
            hs[t] = h
        return torch.cat([torch.stack(hs).flatten(), h.flatten(), c.flatten()])
    return f


for rev in [False, True]:
    cpp = f"[&] {{ auto r = lstm_layer(x[0], {{}}, x[1], x[2], {{}}, {{}}, {str(rev).lower()}); return cat({{r.output.flatten(), r.state.h.flatten(), r.state.c.flatten()}}); }}()"
    row("lstm_layer", f"NaN and inf steps{', reverse' if rev else ''}", cpp, lstm_layer_ref(rev),
        [(XS, True), (WS, False), ([[1.0], [0.5], [-1.0], [2.0]], False)])

# ---- fused scaled_dot_product_attention: PyTorch 1.13 has no sdpa, so the reference is the
# composition it replaces (softmax(q k^T * scale, masked) v), [1, 3, 2]. Plain: an inf value
# seen by every query and a NaN value. Causal: a NaN key that only the last query sees (the
# fused kernel never reads the masked scores, the composition masks them) and the inf value.
QA = [[[0.5, -1.0], [0.3, 0.5], [1.0, 2.0]]]
KB = [[[1.0, 0.5], [-0.5, 1.0], [0.5, 0.25]]]
KA = [[[1.0, 0.5], [-0.5, 1.0], [nan, 0.25]]]
VB = [[[1.0, inf], [0.5, 1.0], [nan, 0.0]]]
VA = [[[1.0, inf], [0.5, 1.0], [2.0, 0.0]]]


def sdpa_ref(causal):
    def f(q, k, v):
        s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        if causal:
            s = s.masked_fill(torch.ones(3, 3).triu(1).bool(), -inf)
        return torch.softmax(s, -1) @ v
    return f


for causal in [False, True]:
    cpp = f"F::scaled_dot_product_attention(x[0], x[1], x[2], {{.is_causal = {str(causal).lower()}}})"
    row("scaled_dot_product_attention", ('a NaN key only the last query sees, an inf value, causal' if causal else 'an inf and a NaN value'), cpp,
        sdpa_ref(causal), [(QA, True), (KA if causal else KB, True), (VA if causal else VB, True)])

print(f"""// Generated by gen_edge_cases.py from PyTorch {torch.__version__}: do not edit by hand.
// Forward values and gradients (grad_output of ones) at NaN, +-inf and 0, as PyTorch gives them.
// N is NaN, I is +inf.
#include <limits>

#include <tapegrad/tapegrad.h>  // the rows span every op family

#include "sweep/op_table.h"

namespace tg::sweep {{
namespace {{
namespace F = nn::functional;
using F::Reduction;
constexpr double N = std::numeric_limits<double>::quiet_NaN();
constexpr double I = std::numeric_limits<double>::infinity();
Tensor labels(std::vector<std::int64_t> v, Shape shape) {{ return from_vector(v, shape); }}
Tensor values(std::vector<double> v, Shape shape) {{ return from_vector(v, shape); }}
}}  // namespace

// clang-format off
TG_EDGE_CASES(pytorch_edges) {{
  return {{""")
for op, label, cpp, ts, out, grads in rows:
    ins = ", ".join("{" + shape(t) + ", " + vec(t) + ", " + ("true" if t.requires_grad else "false") + "}" for t in ts)
    gr = ", ".join("{}" if g is None else vec(g) for g in grads)
    label_c = label.replace('"', '\\"')
    print(f'      {{"{op}", "{label_c}", [](const In& x) {{ return {cpp}; }}, {{{ins}}}, {vec(out)}, {{{gr}}}}},')
print("""  };
}
// clang-format on

}  // namespace tg::sweep""")
