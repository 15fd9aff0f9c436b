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

print(f"""// Generated by gen_edge_cases.py from PyTorch {torch.__version__}: do not edit by hand.
// Forward values and gradients (grad_output of ones) at NaN, +-inf and 0, as PyTorch gives them.
// N is NaN, I is +inf.
#include <limits>

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
