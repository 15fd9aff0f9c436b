// Sequence-model ops and layers: forward values against PyTorch 1.13's (numbers printed by
// tests/gen_seq_reference.py), a MultiheadAttention and a TransformerEncoderLayer loaded from
// state dicts in PyTorch's names, embedding's gradient (padding_idx, bit-identical on 1 and 2
// threads), multinomial's draws, the modules' printing, and the error messages.
#define BOOST_TEST_MODULE seq
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include <map>
#include <sstream>

#include "misuse_table.h"

using namespace tg;
using namespace tg::test;
namespace F = tg::nn::functional;

namespace {

// sin(1 + i) * scale + offset: the inputs gen_seq_reference.py builds too.
Tensor vals(std::int64_t n, double scale = 0.1, double offset = 0.0, Shape shape = {}) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    v[static_cast<std::size_t>(i)] = std::sin(1.0 + static_cast<double>(i)) * scale + offset;
  return from_vector(v, shape.empty() ? Shape{n} : shape);
}

void check_close(const Tensor& got, const std::vector<double>& want, double tol = 1e-8) {
  const auto g = got.to_vector<double>();
  BOOST_TEST_REQUIRE(g.size() == want.size());
  for (std::size_t i = 0; i < g.size(); ++i)
    BOOST_TEST(std::abs(g[i] - want[i]) <= tol,
               "element " << i << ": " << g[i] << " vs " << want[i]);
}

Tensor u8(std::vector<std::uint8_t> v, Shape shape) { return from_vector(v, shape); }

struct RestoreThreads {
  int n = get_num_threads();
  ~RestoreThreads() { set_num_threads(n); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(layer_norm_gelu_tanh_and_causal_attention_match_pytorch) {
  const Tensor x = vals(12, 1.0, 0.0, {3, 4});
  check_close(
      F::layer_norm(x, {4}, vals(4, 0.5, 1.0), vals(4, 0.3)),
      {1.4317984011, 1.6271528974, -0.1849742974, -1.1897938683, -1.70719525, -0.4485429422,
       0.8147851755, 0.4900694478, 2.543423363, -0.0861877677, -1.1710986731, -0.3714352731});
  check_close(gelu(x * 3.0, "tanh"), {2.5102327158, 2.7196710068, 0.2810948375, -0.0259990072,
                                      -0.0053287353, -0.1685387322, 1.9230116993, 2.964050949,
                                      1.1024060945, -0.0839484035, -0.0036377324, -0.0866695416});
  const Tensor q = vals(24, 0.1, 0.0, {1, 2, 3, 4}) * 10.0;
  const Tensor k = vals(24, 1.0, 0.2, {1, 2, 3, 4}) * 3.0;
  const Tensor v = vals(24, 1.0, -0.1, {1, 2, 3, 4});
  const std::vector<double> want = {
      0.7414709848, 0.8092974268, 0.0411200081, -0.8568024953, -1.0552325872, -0.3769780575,
      0.5559288209, 0.8857777663, 0.3352595978, -0.5279429422, -0.9976967147, -0.6421122677,
      0.3201670368, 0.8906073557, 0.5502878402, -0.3879033167, -1.0556964354, -0.8438005182,
      0.0519421652, 0.8079899226, 0.717144532,  -0.0743064389, -0.8893799515, -0.978701177};
  check_close(F::scaled_dot_product_attention(q, k, v, {.is_causal = true}), want);
  // The same causal mask given as a boolean (true = may attend) and as a float bias.
  const Tensor keep = u8({1, 0, 0, 1, 1, 0, 1, 1, 1}, {3, 3});
  check_close(F::scaled_dot_product_attention(q, k, v, {.attn_mask = keep}), want);
  check_close(
      F::scaled_dot_product_attention(q, k, v, {.attn_mask = F::mask_to_bias(keep, kFloat64)}),
      want);
  // float32 follows float64 closely.
  check_close(F::layer_norm(x.to(kFloat32), {4}), F::layer_norm(x, {4}).to_vector<double>(), 1e-5);
}

BOOST_AUTO_TEST_CASE(layer_norm_backward_paths_agree_and_rms_norm_matches_its_definition) {
  manual_seed(3);
  const Tensor x = randn({5, 6}, kFloat64).requires_grad_();
  const Tensor w = randn({6}, kFloat64).requires_grad_(), b = randn({6}, kFloat64).requires_grad_();
  Tensor g = randn({5, 6}, kFloat64);
  const Tensor y = F::layer_norm(x, {6}, w, b);
  const auto fused = grad({y}, {x, w, b}, {g}, true);  // fused kernel
  const auto composed = grad({y}, {x, w, b}, {g.clone().requires_grad_()}, true, true);  // formula
  for (std::size_t i = 0; i < 3; ++i) BOOST_TEST(allclose(fused[i], composed[i], 1e-10, 1e-12));
  // rms_norm = x / sqrt(mean(x^2) + eps) * w.
  const Tensor r = F::rms_norm(x, {6}, w, 1e-6);
  const Tensor want = x / sqrt(mean(x * x, {1}, true) + 1e-6) * w;
  BOOST_TEST(allclose(r, want, 1e-12, 1e-12));
}

BOOST_AUTO_TEST_CASE(embedding_gradient_adds_rows_skips_padding_and_is_thread_independent) {
  const Tensor w = vals(12, 1.0, 0.0, {4, 3}).requires_grad_();
  const Tensor idx = from_vector(std::vector<std::int64_t>{1, 3, 1, 0, 3, 3}, {2, 3});
  const Tensor y = F::embedding(w, idx, 3);
  BOOST_TEST(equal(y.select(0, 0).select(0, 1), w.detach().select(0, 3)));  // the row itself
  y.backward(ones_like(y));
  // Row 1 picked twice, row 0 once, row 3 is padding, row 2 never.
  check_close(w.grad(), {1, 1, 1, 2, 2, 2, 0, 0, 0, 0, 0, 0}, 0.0);

  // Many repeated indices and a wide row (several column blocks): the same bits on 1 and 2
  // threads.
  RestoreThreads restore;
  manual_seed(5);
  const Tensor big = randn({50, 700}).requires_grad_();
  const Tensor many = randint(0, 50, {4000});
  const Tensor g = randn({4000, 700});
  std::vector<Tensor> results;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    results.push_back(grad({F::embedding(big, many)}, {big}, {g})[0]);
  }
  BOOST_TEST(equal(results[0], results[1]));
}

BOOST_AUTO_TEST_CASE(multihead_attention_loads_pytorch_state_dict_and_matches_its_output) {
  nn::MultiheadAttention mha(4, 2, {.batch_first = true});
  mha.to(kFloat64);
  // PyTorch's parameter names in its order, values sin(1 + i) * 0.5 + 0.01 * (parameter index).
  StateDict state;
  const std::vector<std::pair<std::string, Shape>> names = {{"in_proj_weight", {12, 4}},
                                                            {"in_proj_bias", {12}},
                                                            {"out_proj.weight", {4, 4}},
                                                            {"out_proj.bias", {4}}};
  for (std::size_t i = 0; i < names.size(); ++i)
    state.insert_or_assign(names[i].first,
                           vals(numel_of(names[i].second), 0.5, 0.01 * double(i), names[i].second));
  mha.load_state_dict(state);
  mha.eval();
  const Tensor x = vals(24, 1.0, 0.0, {2, 3, 4});
  const Tensor kpm = u8({0, 0, 1, 0, 0, 0}, {2, 3});
  auto [out, weights] = mha(x, x, x, {.key_padding_mask = kpm});
  check_close(
      out, {0.443693594,  0.340506102,  0.2067935764, -0.432380553,  0.5275706716, -0.1590172602,
            0.856347744,  -0.70160034,  0.2895008755, 0.4214897401,  0.2957897057, -0.5890354077,
            0.4092064268, 0.3149170293, 0.2938410424, -0.5014794914, 0.331462981,  -0.0240937416,
            0.8601319791, -0.857410602, 0.1956384212, 0.4927269289,  0.2724559212, -0.6538374085});
  check_close(weights,
              {0.2219360428, 0.7780639572, 0.0, 0.8109874699, 0.1890125301, 0.0, 0.4721903062,
               0.5278096938, 0.0, 0.1878094527, 0.564885871, 0.2473046763, 0.3352836279,
               0.0891149408, 0.5756014313, 0.3391091512, 0.5167332976, 0.1441575512});
  // Without weights (the scaled_dot_product_attention path) the output is the same; [T, B, E]
  // input gives the transposed output.
  BOOST_TEST(allclose(mha(x, x, x, {.key_padding_mask = kpm, .need_weights = false}).first, out,
                      1e-10, 1e-12));
  nn::MultiheadAttention seq_first(4, 2);
  seq_first.to(kFloat64);
  seq_first.load_state_dict(state);
  const Tensor xt = x.transpose(0, 1);
  BOOST_TEST(allclose(seq_first(xt, xt, xt, {.key_padding_mask = kpm}).first.transpose(0, 1), out,
                      1e-10, 1e-12));
}

BOOST_AUTO_TEST_CASE(pre_ln_encoder_layer_matches_pytorch_and_encoder_copies_it) {
  nn::TransformerEncoderLayer layer(4, 2,
                                    {.dim_feedforward = 6,
                                     .dropout = 0.0,
                                     .activation = "gelu",
                                     .batch_first = true,
                                     .norm_first = true});
  layer.to(kFloat64);
  const std::vector<std::string> names = {"self_attn.in_proj_weight",
                                          "self_attn.in_proj_bias",
                                          "self_attn.out_proj.weight",
                                          "self_attn.out_proj.bias",
                                          "linear1.weight",
                                          "linear1.bias",
                                          "linear2.weight",
                                          "linear2.bias",
                                          "norm1.weight",
                                          "norm1.bias",
                                          "norm2.weight",
                                          "norm2.bias"};
  const auto params = layer.named_parameters();
  BOOST_TEST_REQUIRE(params.size() == names.size());
  StateDict state;
  for (std::size_t i = 0; i < names.size(); ++i) {
    BOOST_TEST(params[i].first == names[i]);  // PyTorch's names, in PyTorch's order
    const Shape& s = params[i].second.shape();
    state.insert_or_assign(names[i], vals(numel_of(s), 0.4, 0.02 * double(i), s));
  }
  layer.load_state_dict(state);
  layer.eval();
  const Tensor x = vals(24, 1.0, 0.0, {2, 3, 4});
  const Tensor causal = triu(full({3, 3}, -INFINITY, kFloat64), 1);
  const std::vector<double> want = {
      2.2857624714, 2.0964148344, 1.3365445779, -1.0394517162, 0.349230721,  0.8090801648,
      1.7167247019, 0.7229608437, 1.8321043758, 0.6401037891,  0.0846088303, -0.8475689103,
      1.883588616,  2.1664151732, 1.8333185931, -0.5162961983, 0.3159085581, 0.2957648676,
      1.162070841,  0.6178596716, 2.2810629895, 1.1813818397,  0.2583038105, -1.1944659861};
  check_close(layer(x, {.src_mask = causal}), want);
  check_close(layer(x, {.is_causal = true}), want);
  // The encoder holds copies named layers.0 ... with the layer's values.
  nn::TransformerEncoder enc(layer, 2);
  BOOST_TEST(enc.state_dict().count("layers.1.linear2.bias") == 1);
  BOOST_TEST(equal(enc.state_dict().at("layers.1.norm2.weight"), layer.norm2->weight));
  std::ostringstream os;
  os << nn::LayerNorm({8}) << "\n" << nn::Embedding(5, 3, {.padding_idx = 0});
  BOOST_TEST(contains(os.str(), "LayerNorm((8,), eps=1e-05, elementwise_affine=true)"));
  BOOST_TEST(contains(os.str(), "Embedding(5, 3, padding_idx=0)"));
}

BOOST_AUTO_TEST_CASE(embedding_module_padding_and_from_pretrained) {
  manual_seed(1);
  nn::Embedding e(6, 4, {.padding_idx = -2});
  BOOST_TEST(*e.padding_idx == 4);
  BOOST_TEST(sum(abs(e.weight.detach().select(0, 4))).item() == 0.0);
  BOOST_TEST(e(from_vector(std::vector<std::int64_t>{4, 1})).shape() == (Shape{2, 4}));
  const Tensor table = vals(6, 1.0, 0.0, {3, 2});
  auto frozen = nn::Embedding::from_pretrained(table);
  BOOST_TEST(!frozen.weight.requires_grad());
  BOOST_TEST(equal(frozen(from_vector(std::vector<std::int64_t>{2})), table.slice(0, 2, 3)));
  auto trainable = nn::Embedding::from_pretrained(table, false);
  BOOST_TEST(trainable.weight.requires_grad());
}

BOOST_AUTO_TEST_CASE(multinomial_draws_are_seeded_and_follow_the_weights) {
  const Tensor p = tensor({0.1f, 0.0f, 0.6f, 0.3f});
  manual_seed(9);
  const Tensor a = multinomial(p, 4000, true);
  manual_seed(9);
  BOOST_TEST(equal(a, multinomial(p, 4000, true)));
  std::map<std::int64_t, int> counts;
  for (auto v : a.to_vector<std::int64_t>()) ++counts[v];
  BOOST_TEST(counts[1] == 0);  // a zero weight is never drawn
  BOOST_TEST(std::abs(counts[2] / 4000.0 - 0.6) < 0.03);
  BOOST_TEST(std::abs(counts[0] / 4000.0 - 0.1) < 0.02);
  // Without replacement: every non-zero category once, per row.
  const Tensor rows = tensor({{1.0f, 2.0f, 0.0f, 3.0f}, {5.0f, 0.0f, 1.0f, 1.0f}});
  const Tensor d = multinomial(rows, 3, false);
  BOOST_TEST(d.shape() == (Shape{2, 3}));
  for (std::int64_t r = 0; r < 2; ++r) {
    auto v = d.select(0, r).to_vector<std::int64_t>();
    std::sort(v.begin(), v.end());
    BOOST_TEST(
        (v == (r == 0 ? std::vector<std::int64_t>{0, 1, 3} : std::vector<std::int64_t>{0, 2, 3})));
  }
}

BOOST_AUTO_TEST_CASE(seq_misuse) {
  using misuse::run_table;
  const Tensor w = ones({5, 3});
  const Tensor i64 = from_vector(std::vector<std::int64_t>{1, 7});
  const Tensor q = ones({1, 2, 3, 4}), k = ones({1, 2, 5, 4}), v = ones({1, 2, 5, 4});
  run_table({
      {"embedding index out of range",
       [&] { F::embedding(w, i64); },
       {"embedding", "index 7", "num_embeddings 5"}},
      {"embedding negative index",
       [&] { F::embedding(w, from_vector(std::vector<std::int64_t>{-1})); },
       {"index -1", "num_embeddings 5"}},
      {"embedding float indices", [&] { F::embedding(w, ones({2})); }, {"embedding", "int64"}},
      {"embedding padding_idx out of range",
       [&] { F::embedding(w, i64.slice(0, 0, 1), 5); },
       {"padding_idx 5", "num_embeddings 5"}},
      {"Embedding module padding_idx",
       [] { nn::Embedding(3, 2, {.padding_idx = -4}); },
       {"padding_idx -4", "num_embeddings 3"}},
      {"layer_norm shape mismatch",
       [] {
         F::layer_norm(ones({2, 5}), {4});
       },
       {"layer_norm", "[2, 5]", "[4]"}},
      {"layer_norm weight shape",
       [] {
         F::layer_norm(ones({2, 4}), {4}, ones({3}));
       },
       {"layer_norm", "weight", "[3]", "[4]"}},
      {"rms_norm shape mismatch",
       [] {
         F::rms_norm(ones({3}), {2, 3});
       },
       {"rms_norm", "[3]", "[2, 3]"}},
      {"attention head size mismatch",
       [&] {
         F::scaled_dot_product_attention(q, ones({1, 2, 5, 3}), v);
       },
       {"scaled_dot_product_attention", "[1, 2, 3, 4]", "[1, 2, 5, 3]"}},
      {"attention key/value length",
       [&] {
         F::scaled_dot_product_attention(q, k, ones({1, 2, 4, 4}));
       },
       {"[1, 2, 5, 4]", "[1, 2, 4, 4]"}},
      {"attention mask shape",
       [&] {
         F::scaled_dot_product_attention(q, k, v, {.attn_mask = ones({3, 4})});
       },
       {"attn_mask", "[3, 4]", "[1, 2, 3, 5]"}},
      {"attention causal and mask",
       [&] {
         F::scaled_dot_product_attention(q, k, v, {.attn_mask = ones({3, 5}), .is_causal = true});
       },
       {"either attn_mask or is_causal"}},
      {"attention int mask",
       [&] {
         F::scaled_dot_product_attention(q, k, v, {.attn_mask = ones({3, 5}, kInt64)});
       },
       {"attn_mask", "int64"}},
      {"MHA embed_dim", [] { nn::MultiheadAttention(6, 4); }, {"embed_dim (6)", "num_heads (4)"}},
      {"MHA input width",
       [] {
         nn::MultiheadAttention m(4, 2);
         m(ones({3, 2, 5}), ones({3, 2, 5}), ones({3, 2, 5}));
       },
       {"MultiheadAttention", "[3, 2, 5]"}},
      {"MHA key padding mask",
       [] {
         nn::MultiheadAttention m(4, 2);
         m(ones({3, 2, 4}), ones({3, 2, 4}), ones({3, 2, 4}),
           {.key_padding_mask = u8({0, 0}, {1, 2})});
       },
       {"key_padding_mask", "[1, 2]", "[2, 3]"}},
      {"MHA attn_mask",
       [] {
         nn::MultiheadAttention m(4, 2);
         m(ones({3, 2, 4}), ones({3, 2, 4}), ones({3, 2, 4}), {.attn_mask = ones({3, 4})});
       },
       {"attn_mask", "[3, 4]", "[3, 3]"}},
      {"encoder activation",
       [] { nn::TransformerEncoderLayer(4, 2, {.activation = "tanh"}); },
       {"activation", "tanh"}},
      {"tril of a vector", [] { tril(ones({3})); }, {"tril", "[3]"}},
      {"gelu approximate", [] { gelu(ones({2}), "fast"); }, {"gelu", "fast"}},
      {"multinomial negative",
       [] {
         multinomial(tensor({0.5f, -0.1f}), 1);
       },
       {"multinomial", "-0.1"}},
      {"multinomial too many without replacement",
       [] {
         multinomial(tensor({0.5f, 0.0f, 1.0f}), 3);
       },
       {"multinomial", "3 samples", "2 non-zero"}},
      {"multinomial all zero",
       [] {
         multinomial(zeros({2, 3}), 1, true);
       },
       {"row 0", "zero"}},
  });
}

// Without a mask attention runs the fused kernel (causal: only the lower triangle). It must
// agree with the composed path (forced here by the same causal mask given as a boolean
// attn_mask) in values and gradients, its create_graph backward with its fused backward, and it
// must give the same bits on 1 and 2 threads.
BOOST_AUTO_TEST_CASE(fused_attention_matches_composed_and_is_thread_independent) {
  manual_seed(11);
  // Head views as MultiheadAttention makes them: [B, T, H, D] storage read as [B, H, T, D].
  const Tensor ql = randn({2, 5, 3, 4}, kFloat64).requires_grad_();
  const Tensor kl = randn({2, 5, 3, 4}, kFloat64).requires_grad_();
  const Tensor vl = randn({2, 5, 3, 6}, kFloat64).requires_grad_();
  const Tensor q = ql.transpose(1, 2), k = kl.transpose(1, 2), v = vl.transpose(1, 2);
  const Tensor g = randn({2, 3, 5, 6}, kFloat64);
  const Tensor lower = tril(ones({5, 5}, kUInt8));
  for (const bool causal : {false, true}) {
    const Tensor fused = F::scaled_dot_product_attention(q, k, v, {.is_causal = causal});
    const Tensor composed = F::scaled_dot_product_attention(
        q, k, v, {.attn_mask = causal ? lower : ones({5, 5}, kUInt8)});
    BOOST_TEST(allclose(fused, composed, 1e-12, 1e-12));
    const auto gf = grad({fused}, {ql, kl, vl}, {g}, true);
    const auto gc = grad({composed}, {ql, kl, vl}, {g}, true);
    const auto gcg = grad({fused}, {ql, kl, vl}, {g.clone().requires_grad_()}, true, true);
    for (std::size_t i = 0; i < 3; ++i) {
      BOOST_TEST(allclose(gf[i], gc[i], 1e-12, 1e-12), "causal " << causal << " input " << i);
      BOOST_TEST(allclose(gf[i], gcg[i], 1e-12, 1e-12), "causal " << causal << " input " << i);
    }
  }

  // float32 at the char_lm model's head size, many heads (several tasks per thread).
  RestoreThreads restore;
  const Tensor q32 = randn({4, 4, 32, 32}).requires_grad_();
  const Tensor k32 = randn({4, 4, 32, 32}).requires_grad_();
  const Tensor v32 = randn({4, 4, 32, 32}).requires_grad_();
  const Tensor g32 = randn({4, 4, 32, 32});
  std::vector<std::vector<Tensor>> results;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    const Tensor y = F::scaled_dot_product_attention(q32, k32, v32, {.is_causal = true});
    auto r = grad({y}, {q32, k32, v32}, {g32});
    r.push_back(y.detach());
    results.push_back(r);
  }
  for (std::size_t i = 0; i < 4; ++i) BOOST_TEST(equal(results[0][i], results[1][i]));
}
