// Runs on every rank of `mpirun -np N` (CTest starts it with N = 2 and 3): collectives against
// values computed locally, the sampler's shards, and DistributedDataParallel against one
// process accumulating the same micro-batches, bit for bit.
#define BOOST_TEST_MODULE distributed
#include <boost/test/unit_test.hpp>

#include <tapegrad/nn/parallel/distributed.h>
#include <tapegrad/nn/parallel/sync_batch_norm.h>
#include <tapegrad/nn/parallel/zero_redundancy_optimizer.h>
#include <tapegrad/tapegrad.h>

#include <set>

#include "error_text.h"

using namespace tg;
namespace dist = tg::distributed;

namespace {

// The MPI world for the whole test module (one per process).
struct World {
  dist::ProcessGroup pg;
};
BOOST_TEST_GLOBAL_FIXTURE(World);

// Rank r's tensor: values that differ by rank and are not exactly representable sums.
Tensor rank_values(const Shape& shape, Dtype dtype, int r) {
  const std::int64_t n = numel_of(shape);
  std::vector<double> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    v[i] = is_floating(dtype)
               ? std::sin(0.1 * i + 1.37 * (r + 1))
               : static_cast<double>((i * (r + 2) + r) % (dtype == kUInt8 ? 80 : 1000003));
  return from_vector(v, shape).to(dtype);
}

// What every rank should get: rank 0's values combined with rank 1's, 2's, ... in order.
Tensor expected(const Shape& shape, Dtype dtype, dist::ReduceOp op) {
  Tensor acc = rank_values(shape, dtype, 0).clone();
  for (int r = 1; r < dist::world_size(); ++r) {
    Tensor v = rank_values(shape, dtype, r);
    switch (op) {
      case dist::ReduceOp::Sum:
      case dist::ReduceOp::Avg:
        acc = (acc + v).to(dtype);
        break;
      case dist::ReduceOp::Max:
        acc = maximum(acc, v);
        break;
      case dist::ReduceOp::Min:
        acc = minimum(acc, v);
        break;
    }
  }
  if (op == dist::ReduceOp::Avg) acc = acc / static_cast<double>(dist::world_size());
  return acc;
}

}  // namespace

BOOST_AUTO_TEST_CASE(world_figures) {
  BOOST_TEST(dist::world_size() >= 1);
  BOOST_TEST(dist::rank() >= 0);
  BOOST_TEST(dist::rank() < dist::world_size());
  BOOST_TEST(dist::local_rank() < dist::local_size());
  // Ranks on one machine share its cores.
  if (dist::local_size() > 1) BOOST_TEST(get_num_threads() <= std::max(1, 2 / 1));
  const auto names = dist::all_gather_string("rank" + std::to_string(dist::rank()));
  BOOST_REQUIRE(static_cast<int>(names.size()) == dist::world_size());
  for (int r = 0; r < dist::world_size(); ++r) BOOST_TEST(names[r] == "rank" + std::to_string(r));
}

BOOST_AUTO_TEST_CASE(all_reduce_every_dtype_and_op) {
  const int r = dist::rank();
  for (Dtype d : {kFloat32, kFloat64, kInt64, kUInt8}) {
    for (auto op :
         {dist::ReduceOp::Sum, dist::ReduceOp::Avg, dist::ReduceOp::Max, dist::ReduceOp::Min}) {
      if (op == dist::ReduceOp::Avg && !is_floating(d)) {
        Tensor t = rank_values({3}, d, r);
        BOOST_TEST(test::contains(test::error_of([&] { dist::all_reduce(t, op); }),
                                  "needs a floating-point tensor"));
        continue;
      }
      for (const Shape& shape : {Shape{7}, Shape{3, 5}, Shape{0}, Shape{2}}) {
        Tensor t = rank_values(shape, d, r);
        dist::all_reduce(t, op);
        BOOST_TEST(equal(t, expected(shape, d, op)),
                   "dtype " << d << " shape " << shape_str(shape));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(all_reduce_non_contiguous_and_large) {
  const int r = dist::rank();
  // A transposed view: the result lands in the view's elements.
  Tensor base = rank_values({4, 6}, kFloat32, r);
  Tensor view = base.t();
  dist::all_reduce(view);
  BOOST_TEST(equal(base, expected({4, 6}, kFloat32, dist::ReduceOp::Sum)));
  // Large and not divisible by the world size: slices of unequal length.
  const Shape big{1000003};
  Tensor t = rank_values(big, kFloat32, r);
  dist::Work w = dist::all_reduce_async(t, dist::ReduceOp::Sum);
  w.wait();
  BOOST_TEST(w.is_completed());
  BOOST_TEST(equal(t, expected(big, kFloat32, dist::ReduceOp::Sum)));
}

// Many tensors reduced into one flat output: a transposed view, an empty one, one that already
// is its slot of the output, and a large one; the inputs are left as they were.
BOOST_AUTO_TEST_CASE(all_reduce_coalesced_into_one_output) {
  const int r = dist::rank();
  for (auto op : {dist::ReduceOp::Sum, dist::ReduceOp::Avg, dist::ReduceOp::Max}) {
    const Tensor a = rank_values({4, 6}, kFloat64, r).t();
    const Tensor empty = rank_values({0}, kFloat64, r);
    const Tensor big = rank_values({100003}, kFloat64, r);
    Tensor out = zeros({24 + 5 + 100003}, kFloat64);
    Tensor in_place = out.narrow(0, 24, 5);
    in_place.copy_(rank_values({5}, kFloat64, r));
    const Tensor a_before = a.clone(), big_before = big.clone();
    dist::Work w = dist::all_reduce_coalesced_async({a, empty, in_place, big}, out, op);
    w.wait();
    const Tensor want = cat({expected({4, 6}, kFloat64, op).t().reshape({24}),
                             expected({5}, kFloat64, op), expected({100003}, kFloat64, op)},
                            0);
    BOOST_TEST(equal(out, want));
    BOOST_TEST(equal(a, a_before));
    BOOST_TEST(equal(big, big_before));
  }
  Tensor out = zeros({3});
  BOOST_TEST(test::contains(
      test::error_of([&] { dist::all_reduce_coalesced_async({zeros({2})}, out).wait(); }),
      "the tensors hold 2 elements but the output 3"));
  BOOST_TEST(test::contains(
      test::error_of([&] { dist::all_reduce_coalesced_async({zeros({3}, kFloat64)}, out).wait(); }),
      "must be float32"));
}

// The two halves of a coalesced all_reduce on their own: each rank's shard of the reduction,
// then every rank's shard gathered in place (odd sizes: the shards differ by one element).
BOOST_AUTO_TEST_CASE(reduce_scatter_and_all_gather_coalesced_shards) {
  const int r = dist::rank(), W = dist::world_size();
  const Tensor a = rank_values({3, 5}, kFloat32, r).t(), b = rank_values({10007}, kFloat32, r);
  const std::int64_t n = 15 + 10007;
  Tensor out = zeros({n});
  dist::reduce_scatter_coalesced_async({a, b}, out, dist::ReduceOp::Avg).wait();
  const Tensor want = cat({expected({3, 5}, kFloat32, dist::ReduceOp::Avg).t().reshape({15}),
                           expected({10007}, kFloat32, dist::ReduceOp::Avg)},
                          0);
  const auto [lo, hi] = dist::shard_range(n, r, W);
  BOOST_TEST(hi - lo == n / W + (r < n % W ? 1 : 0));
  BOOST_TEST(equal(out.narrow(0, lo, hi - lo), want.narrow(0, lo, hi - lo)));

  // Gather: every rank fills its own shard of two tensors with its rank; all end with each
  // shard holding its owner's number.
  Tensor x = zeros({4, 3}, kFloat64), y = zeros({9}, kFloat64);
  Tensor flat = cat({x.reshape({12}), y}, 0);
  flat.narrow(0, dist::shard_range(21, r, W).first,
              dist::shard_range(21, r, W).second - dist::shard_range(21, r, W).first)
      .fill_(static_cast<double>(r));
  x.copy_(flat.narrow(0, 0, 12).reshape({4, 3}));
  y.copy_(flat.narrow(0, 12, 9));
  dist::all_gather_coalesced_async({x, y}).wait();
  const Tensor got = cat({x.reshape({12}), y}, 0);
  for (int j = 0; j < W; ++j) {
    const auto [b0, e0] = dist::shard_range(21, j, W);
    BOOST_TEST(
        equal(got.narrow(0, b0, e0 - b0), full({e0 - b0}, static_cast<double>(j), kFloat64)));
  }
  BOOST_TEST(test::contains(test::error_of([&] {
                              dist::all_gather_coalesced_async({zeros({4, 3}).t()}).wait();
                            }),
                            "must be contiguous"));
}

BOOST_AUTO_TEST_CASE(max_min_propagate_nan) {
  Tensor t = tensor({1.0f, 2.0f, 3.0f});
  if (dist::rank() == dist::world_size() - 1) t.set({1}, std::nan(""));
  Tensor u = t.clone();
  dist::all_reduce(t, dist::ReduceOp::Max);
  dist::all_reduce(u, dist::ReduceOp::Min);
  BOOST_TEST(std::isnan(t.at<float>({1})));
  BOOST_TEST(std::isnan(u.at<float>({1})));
  BOOST_TEST(t.at<float>({0}) == 1.0f);
}

BOOST_AUTO_TEST_CASE(broadcast_gather_scatter) {
  const int W = dist::world_size(), r = dist::rank();
  for (Dtype d : {kFloat32, kFloat64, kInt64, kUInt8}) {
    Tensor t = rank_values({2, 3}, d, r);
    dist::broadcast(t, W - 1);
    BOOST_TEST(equal(t, rank_values({2, 3}, d, W - 1)));

    Tensor g = dist::all_gather(rank_values({2, 3}, d, r).t());  // non-contiguous input
    BOOST_REQUIRE(g.shape() == (Shape{W, 3, 2}));
    for (int i = 0; i < W; ++i) BOOST_TEST(equal(g[i], rank_values({2, 3}, d, i).t().contiguous()));

    Tensor in = rank_values({2 * W, 3}, d, r);
    Tensor s = dist::reduce_scatter(in);
    Tensor want = expected({2 * W, 3}, d, dist::ReduceOp::Sum).narrow(0, 2 * r, 2);
    BOOST_TEST(equal(s, want));
  }
  Tensor bad = zeros({W + 1});
  if (W > 1)
    BOOST_TEST(test::contains(test::error_of([&] { dist::reduce_scatter(bad); }),
                              "must be a multiple of the world size"));
  Tensor z = zeros({2});
  BOOST_TEST(test::contains(test::error_of([&] { dist::broadcast(z, W); }), "outside the world"));
}

BOOST_AUTO_TEST_CASE(distributed_sampler_shards) {
  const int W = dist::world_size(), r = dist::rank();
  for (bool drop_last : {false, true}) {
    for (std::int64_t n : {0, 1, 10, 11, 23}) {
      data::DistributedSampler s(n,
                                 {.num_replicas = W, .rank = r, .seed = 7, .drop_last = drop_last});
      s.set_epoch(3);
      const auto mine = s.indices();
      BOOST_TEST(static_cast<std::int64_t>(mine.size()) == s.size());
      std::string text;
      for (auto i : mine) text += std::to_string(i) + ',';
      const auto all = dist::all_gather_string(text);
      // Every rank derives the same full list: rebuild each rank's shard here and compare.
      std::multiset<std::int64_t> seen;
      for (int k = 0; k < W; ++k) {
        data::DistributedSampler other(
            n, {.num_replicas = W, .rank = k, .seed = 7, .drop_last = drop_last});
        other.set_epoch(3);
        std::string t;
        for (auto i : other.indices()) {
          t += std::to_string(i) + ',';
          seen.insert(i);
        }
        BOOST_TEST(all[k] == t);
      }
      const std::set<std::int64_t> distinct(seen.begin(), seen.end());
      if (drop_last) {
        BOOST_TEST(distinct.size() == seen.size());  // disjoint shards
        BOOST_TEST(static_cast<std::int64_t>(seen.size()) == (n / W) * W);
      } else if (n > 0) {
        BOOST_TEST(static_cast<std::int64_t>(distinct.size()) == n);  // the union is the data
      }
    }
  }
}

namespace {

struct Mlp : nn::Module {
  nn::Linear fc1{6, 12}, fc2{12, 3};
  nn::BatchNorm1d bn{12};
  Mlp() { register_modules({{"fc1", fc1}, {"bn", bn}, {"fc2", fc2}}); }
  Tensor forward(const Tensor& x) override { return fc2(relu(bn(fc1(x)))); }
};

constexpr std::int64_t kMicro = 5;

// Micro-batch k of step s (every process can compute every micro-batch).
data::Batch micro_batch(int step, int k) {
  Generator g(1000u * static_cast<unsigned>(step) + static_cast<unsigned>(k));
  std::vector<float> xs(kMicro * 6);
  for (auto& v : xs) v = static_cast<float>(g.normal());
  std::vector<std::int64_t> ys(kMicro);
  for (auto& y : ys) y = g.randint(0, 3);
  return {from_vector(xs, {kMicro, 6}), from_vector(ys)};
}

std::vector<Tensor> snapshot(nn::Module& m) {
  std::vector<Tensor> out;
  for (auto& p : m.parameters()) out.push_back(p.detach().clone());
  return out;
}

}  // namespace

namespace {

// A small CNN: conv, ReLU, conv with stride, flatten, linear.
struct SmallCnn : nn::Module {
  nn::Conv2d conv1{1, 4, 3, {.padding = 1}}, conv2{4, 6, 3, {.stride = 2}};
  nn::Linear fc{6 * 2 * 2, 3};
  SmallCnn() { register_modules({{"conv1", conv1}, {"conv2", conv2}, {"fc", fc}}); }
  Tensor forward(const Tensor& x) override {
    Tensor h = relu(conv2(relu(conv1(x.reshape({x.size(0), 1, 6, 6})))));
    return fc(h.flatten(1));
  }
};

// 50 Adam steps: DDP with rank r's micro-batch against one process (on every rank) that
// accumulates micro-batches 0..N-1 in rank order and divides the gradients by N. Losses and
// weights must be bit-identical after every step, and equal on every rank at the end.
template <typename Net>
void check_bit_identical(
    std::int64_t features,
    nn::parallel::DistributedDataParallelOptions options = {.bucket_cap_bytes = 200},
    bool zero = false) {
  const int W = dist::world_size(), r = dist::rank();
  auto batch = [features](int step, int k) {
    Generator g(1000u * static_cast<unsigned>(step) + static_cast<unsigned>(k));
    std::vector<float> xs(static_cast<std::size_t>(kMicro * features));
    for (auto& v : xs) v = static_cast<float>(g.normal());
    std::vector<std::int64_t> ys(kMicro);
    for (auto& y : ys) y = g.randint(0, 3);
    return data::Batch{from_vector(xs, {kMicro, features}), from_vector(ys)};
  };
  manual_seed(42);
  Net net;
  manual_seed(42);
  Net ref;
  nn::parallel::DistributedDataParallel ddp(net, options);
  BOOST_TEST(ddp.num_buckets() > 1);  // several buckets in flight during backward
  std::unique_ptr<optim::Optimizer> opt_ptr;
  if (zero)
    opt_ptr =
        std::make_unique<nn::parallel::ZeroRedundancyOptimizer>(ddp, [](std::vector<Tensor> shard) {
          return std::make_unique<optim::Adam>(std::move(shard), optim::AdamOptions{.lr = 0.01});
        });
  else
    opt_ptr = std::make_unique<optim::Adam>(ddp.parameters(), optim::AdamOptions{.lr = 0.01});
  optim::Optimizer& opt = *opt_ptr;
  optim::Adam ref_opt(ref.parameters(), {.lr = 0.01});
  for (int step = 0; step < 50; ++step) {
    opt.zero_grad();
    const auto b = batch(step, r);
    Tensor loss = nn::functional::cross_entropy(ddp(b.inputs), b.targets);
    loss.backward();
    if (options.gradient_as_bucket_view && !zero) {  // every .grad lives in one of the buckets
      std::set<const void*> buckets;
      for (auto& p : net.parameters())
        buckets.insert(static_cast<const char*>(p.grad().raw_data()) -
                       p.grad().offset() * static_cast<std::int64_t>(element_size(p.dtype())));
      BOOST_REQUIRE(static_cast<std::int64_t>(buckets.size()) == ddp.num_buckets());
    }
    opt.step();

    ref_opt.zero_grad();
    Tensor my_ref_loss;
    for (int k = 0; k < W; ++k) {  // rank order
      const auto mb = batch(step, k);
      Tensor l = nn::functional::cross_entropy(ref(mb.inputs), mb.targets);
      l.backward();
      if (k == r) my_ref_loss = l.detach();
    }
    for (auto& p : ref.parameters()) p.grad().div_(static_cast<double>(W));
    ref_opt.step();

    BOOST_REQUIRE_MESSAGE(equal(loss.detach(), my_ref_loss), "loss differs at step " << step);
    const auto mine = snapshot(net), theirs = snapshot(ref);
    for (std::size_t i = 0; i < mine.size(); ++i)
      BOOST_REQUIRE_MESSAGE(equal(mine[i], theirs[i]),
                            "parameter " << i << " differs at step " << step);
  }
  for (auto& p : net.parameters()) {
    Tensor all = dist::all_gather(p.detach());
    for (int k = 1; k < W; ++k) BOOST_TEST(equal(all[k], all[0]));
  }
  if (zero) {
    // The consolidated state is the one-process optimizer's, key for key and bit for bit.
    const StateDict got = opt.state_dict(), want = ref_opt.state_dict();
    BOOST_TEST(got.size() == want.size());
    for (const auto& [k, t] : want) {
      BOOST_REQUIRE_MESSAGE(got.count(k), "state_dict lacks " << k);
      BOOST_TEST(equal(got.at(k), t), k);
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(ddp_bit_identical_to_accumulation_mlp_batch_norm) {
  check_bit_identical<Mlp>(6);
}

BOOST_AUTO_TEST_CASE(ddp_bit_identical_to_accumulation_cnn) { check_bit_identical<SmallCnn>(36); }

BOOST_AUTO_TEST_CASE(ddp_gradient_as_bucket_view_bit_identical) {
  check_bit_identical<Mlp>(6, {.bucket_cap_bytes = 200, .gradient_as_bucket_view = true});
}

BOOST_AUTO_TEST_CASE(zero_redundancy_bit_identical_mlp_batch_norm) {
  check_bit_identical<Mlp>(6, {.bucket_cap_bytes = 200}, true);
}

BOOST_AUTO_TEST_CASE(zero_redundancy_bit_identical_cnn) {
  check_bit_identical<SmallCnn>(36, {.bucket_cap_bytes = 200}, true);
}

namespace {
std::unique_ptr<optim::Optimizer> sharded_adam(std::vector<Tensor> shard) {
  return std::make_unique<optim::Adam>(std::move(shard), optim::AdamOptions{.lr = 0.01});
}
}  // namespace

// A state dict taken on these ranks loads into a new model's optimizer: both then take the same
// step. Also: the learning rate reaches the inner optimizer, and misuse is reported.
BOOST_AUTO_TEST_CASE(zero_redundancy_state_dict_round_trip_and_errors) {
  const int r = dist::rank();
  manual_seed(5);
  Mlp net;
  nn::parallel::DistributedDataParallel ddp(net, {.bucket_cap_bytes = 200});
  nn::parallel::ZeroRedundancyOptimizer opt(ddp, sharded_adam);
  BOOST_TEST(test::contains(test::error_of([&] { opt.step(); }), "no backward pass has reduced"));
  BOOST_TEST(test::contains(
      test::error_of([&] { nn::parallel::ZeroRedundancyOptimizer again(ddp, sharded_adam); }),
      "already has one"));
  auto train_step = [&](nn::parallel::DistributedDataParallel& d, optim::Optimizer& o, int step) {
    o.zero_grad();
    const auto b = micro_batch(step, r);
    nn::functional::cross_entropy(d(b.inputs), b.targets).backward();
    o.step();
  };
  for (int step = 0; step < 3; ++step) train_step(ddp, opt, step);
  opt.set_lr(0.003);
  BOOST_TEST(opt.lr() == 0.003);
  BOOST_TEST(opt.inner().lr() == 0.003);

  const StateDict saved = opt.state_dict();
  manual_seed(6);
  Mlp other;
  {
    NoGradGuard guard;
    const auto src = net.parameters(), dst = other.parameters();
    for (std::size_t i = 0; i < src.size(); ++i) dst[i].detach().copy_(src[i].detach());
  }
  nn::parallel::DistributedDataParallel ddp2(other, {.bucket_cap_bytes = 200});
  nn::parallel::ZeroRedundancyOptimizer opt2(ddp2, sharded_adam);
  opt2.load_state_dict(saved);
  BOOST_TEST(opt2.lr() == 0.003);
  const StateDict again = opt2.state_dict();
  BOOST_TEST(again.size() == saved.size());
  for (const auto& [k, t] : saved) BOOST_TEST(equal(again.at(k), t), k);
  // Batch-norm statistics are buffers, not parameters: copy them too for the same forward.
  {
    NoGradGuard guard;
    const auto src = net.buffers(), dst = other.buffers();
    for (std::size_t i = 0; i < src.size(); ++i) dst[i].detach().copy_(src[i].detach());
  }
  train_step(ddp, opt, 3);
  train_step(ddp2, opt2, 3);
  const auto a = snapshot(net), b = snapshot(other);
  for (std::size_t i = 0; i < a.size(); ++i) BOOST_TEST(equal(a[i], b[i]), "parameter " << i);
}

// A factory that throws, and an optimizer that is destroyed, leave the wrapper averaging whole
// gradients again (every rank then holds the same .grad).
BOOST_AUTO_TEST_CASE(zero_redundancy_releases_the_wrapper) {
  manual_seed(8);
  Mlp net;
  nn::parallel::DistributedDataParallel ddp(net, {.bucket_cap_bytes = 200});
  BOOST_TEST(test::contains(test::error_of([&] {
                              nn::parallel::ZeroRedundancyOptimizer bad(
                                  ddp,
                                  [](std::vector<Tensor>) -> std::unique_ptr<optim::Optimizer> {
                                    throw Error("no optimizer today");
                                  });
                            }),
                            "no optimizer today"));
  { nn::parallel::ZeroRedundancyOptimizer opt(ddp, sharded_adam); }
  const auto b = micro_batch(0, dist::rank());
  nn::functional::cross_entropy(ddp(b.inputs), b.targets).backward();
  for (auto& p : net.parameters()) {
    const Tensor all = dist::all_gather(p.grad());
    for (int k = 1; k < dist::world_size(); ++k) BOOST_TEST(equal(all[k], all[0]));
  }
}

namespace {
void check_no_sync(bool as_view) {
  const int W = dist::world_size(), r = dist::rank();
  manual_seed(3);
  Mlp net;
  manual_seed(3);
  Mlp ref;
  nn::parallel::DistributedDataParallel ddp(net, {.gradient_as_bucket_view = as_view});
  {
    auto guard = ddp.no_sync();
    const auto a = micro_batch(1, 2 * r);
    nn::functional::cross_entropy(ddp(a.inputs), a.targets).backward();
  }
  // Not synchronised yet: rank r's gradient is its own micro-batch's.
  const auto a = micro_batch(1, 2 * r);
  nn::functional::cross_entropy(ref(a.inputs), a.targets).backward();
  BOOST_TEST(equal(net.fc2.weight.grad(), ref.fc2.weight.grad()));

  const auto b = micro_batch(1, 2 * r + 1);
  nn::functional::cross_entropy(ddp(b.inputs), b.targets).backward();  // reduces a + b over ranks

  // Reference: each rank's local sum a_k + b_k, added in rank order, divided by W.
  std::vector<Tensor> total;
  for (int k = 0; k < W; ++k) {
    ref.zero_grad();
    for (int j : {2 * k, 2 * k + 1}) {
      const auto mb = micro_batch(1, j);
      nn::functional::cross_entropy(ref(mb.inputs), mb.targets).backward();
    }
    const auto ps = ref.parameters();
    for (std::size_t i = 0; i < ps.size(); ++i) {
      if (k == 0)
        total.push_back(ps[i].grad().clone());
      else
        total[i] = total[i] + ps[i].grad();
    }
  }
  const auto ps = net.parameters();
  for (std::size_t i = 0; i < ps.size(); ++i)
    BOOST_TEST(equal(ps[i].grad(), total[i] / static_cast<double>(W)), "parameter " << i);
}
}  // namespace

BOOST_AUTO_TEST_CASE(ddp_no_sync_accumulates_locally) { check_no_sync(false); }
BOOST_AUTO_TEST_CASE(ddp_no_sync_accumulates_into_bucket_views) { check_no_sync(true); }

namespace {
struct WithUnused : nn::Module {
  nn::Linear used{4, 2}, unused{4, 2};
  WithUnused() { register_modules({{"used", used}, {"unused", unused}}); }
  Tensor forward(const Tensor& x) override { return used(x); }
};
}  // namespace

BOOST_AUTO_TEST_CASE(ddp_unused_parameters) {
  manual_seed(5);
  {
    WithUnused m;
    nn::parallel::DistributedDataParallel ddp(m, {.bucket_cap_bytes = 1});  // one per param
    ddp(ones({3, 4})).sum().backward();
    const auto msg = test::error_of([&] { ddp(ones({3, 4})); });
    BOOST_TEST(test::contains(msg, "unused.weight"));
    BOOST_TEST(test::contains(msg, "find_unused_parameters"));
  }
  {
    WithUnused m;
    nn::parallel::DistributedDataParallel ddp(m, {.find_unused_parameters = true});
    for (int i = 0; i < 3; ++i) {
      ddp.zero_grad();
      (ddp(ones({3, 4})) * static_cast<double>(dist::rank() + 1)).sum().backward();
    }
    // d/dW of sum((W x + b) * (r + 1)) averaged over ranks: mean(r + 1) * 3 per element.
    const double mean_scale = (dist::world_size() + 1) / 2.0;
    BOOST_TEST(allclose(m.used.bias.grad(), full({2}, 3.0 * mean_scale)));
    BOOST_TEST(equal(m.unused.weight.grad(), zeros({2, 4})));
  }
}

BOOST_AUTO_TEST_CASE(ddp_reports_mismatched_models) {
  manual_seed(1);
  nn::Linear m(4, dist::rank() == 0 ? 3 : 5);
  const auto msg = test::error_of([&] { nn::parallel::DistributedDataParallel ddp(m); });
  if (dist::world_size() > 1) {
    BOOST_TEST(test::contains(msg, "the model differs between ranks"));
    BOOST_TEST(test::contains(msg, "weight"));
  } else {
    BOOST_TEST(msg == "<no error>");
  }
}

BOOST_AUTO_TEST_CASE(ddp_state_dict_names_as_pytorch) {
  Mlp net;
  nn::parallel::DistributedDataParallel ddp(net);
  const auto sd = ddp.state_dict();
  BOOST_TEST(sd.count("module.fc1.weight") == 1);
  BOOST_TEST(sd.count("module.bn.running_mean") == 1);
}

// SyncBatchNorm on N ranks, each a slice of the batch, equals BatchNorm1d on the whole batch:
// outputs, input gradients, the sum of the ranks' weight gradients and the running statistics.
BOOST_AUTO_TEST_CASE(sync_batch_norm_matches_whole_batch) {
  const int W = dist::world_size(), r = dist::rank();
  for (const Shape& slice_shape : {Shape{3, 4}, Shape{2, 4, 5}}) {
    Shape whole_shape = slice_shape;
    whole_shape[0] *= W;
    Generator g(11);
    std::vector<double> xs(static_cast<std::size_t>(numel_of(whole_shape)));
    for (auto& v : xs) v = g.normal() * 2.0 + 1.0;
    Tensor whole = from_vector(xs, whole_shape).to(kFloat64);
    Tensor c = tg::cos(from_vector(xs, whole_shape).to(kFloat64));  // d loss / d y

    nn::BatchNorm1d bn(4, {.momentum = 0.1});
    nn::parallel::SyncBatchNorm sbn(4, {.momentum = 0.1});
    bn.to(kFloat64);
    sbn.to(kFloat64);
    Tensor xw = whole.clone().requires_grad_();
    (bn(xw) * c).sum().backward();

    Tensor xr = whole.narrow(0, r * slice_shape[0], slice_shape[0]).clone().requires_grad_();
    Tensor yr = sbn(xr);
    (yr * c.narrow(0, r * slice_shape[0], slice_shape[0])).sum().backward();

    bn.eval();
    sbn.eval();
    BOOST_TEST(
        allclose(xr.grad(), xw.grad().narrow(0, r * slice_shape[0], slice_shape[0]), 1e-9, 1e-12));
    Tensor dw = sbn.weight.grad().clone(), db = sbn.bias.grad().clone();
    dist::all_reduce(dw);
    dist::all_reduce(db);
    BOOST_TEST(allclose(dw, bn.weight.grad(), 1e-9, 1e-12));
    BOOST_TEST(allclose(db, bn.bias.grad(), 1e-9, 1e-12));
    BOOST_TEST(allclose(sbn.running_mean, bn.running_mean, 1e-9, 1e-12));
    BOOST_TEST(allclose(sbn.running_var, bn.running_var, 1e-9, 1e-12));
    // Eval mode: the running statistics, no communication.
    Tensor probe = ones(slice_shape, kFloat64);
    if (slice_shape.size() == 2) BOOST_TEST(allclose(sbn(probe), bn(probe), 1e-9, 1e-12));
  }
}
