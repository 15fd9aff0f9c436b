// Transforms: standardize and the image augmentations (shift, rotation, flip) — zero
// moves are the identity, a shift by one moves every pixel by one, flips undo themselves,
// rotations match their closed forms, and random ones repeat for a seed.
#define BOOST_TEST_MODULE transforms
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include <numbers>
#include "error_text.h"

using namespace tg;
using namespace tg::test;
using namespace tg::datasets;

namespace {

// n distinct 28x28 images [n, 784]: pixel (r, c) of image i = (i + 1) * (r * 28 + c + 1) / 1000.
Tensor numbered_images(std::int64_t n, std::int64_t h = 28, std::int64_t w = 28) {
  std::vector<float> v;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t p = 0; p < h * w; ++p) v.push_back(float((i + 1) * (p + 1)) / 1000.0f);
  return from_vector(v, {n, h * w});
}

float px(const Tensor& img, std::int64_t i, std::int64_t r, std::int64_t c, std::int64_t w = 28) {
  return img.at<float>({i, r * w + c});
}

// A radially symmetric blob centred in a 28x28 image.
Tensor blob() {
  std::vector<float> v;
  for (int r = 0; r < 28; ++r)
    for (int c = 0; c < 28; ++c) {
      const double d2 = (r - 13.5) * (r - 13.5) + (c - 13.5) * (c - 13.5);
      v.push_back(static_cast<float>(std::exp(-d2 / 30.0)));
    }
  return from_vector(v, {1, 784});
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  double m = 0;
  for (std::size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

}  // namespace

BOOST_AUTO_TEST_CASE(zero_moves_are_the_identity) {
  const Tensor x = numbered_images(3);
  BOOST_TEST(equal(shift(x, 0, 0), x));
  BOOST_TEST(equal(rotate(x, 0.0), x));
  Generator gen(1);
  BOOST_TEST(equal(augment(x, {}, gen), x));
  BOOST_TEST(equal(random_rotation(x, 0.0, gen), x));
  BOOST_TEST(equal(random_shift(x, 0, gen), x));
  BOOST_TEST(equal(random_hflip(x, 0.0, gen), x));
  BOOST_TEST(max_abs_diff(rotate(x, 360.0), x) < 1e-4);  // sin(2 pi) is not exactly 0
}

BOOST_AUTO_TEST_CASE(a_shift_by_one_moves_every_pixel_by_one) {
  const Tensor x = numbered_images(2);
  const Tensor right = shift(x, 1, 0), down = shift(x, 0, 1), up_left = shift(x, -2, -1);
  for (std::int64_t i = 0; i < 2; ++i)
    for (std::int64_t r = 0; r < 28; ++r)
      for (std::int64_t c = 0; c < 28; ++c) {
        BOOST_REQUIRE(px(right, i, r, c) == (c >= 1 ? px(x, i, r, c - 1) : 0.0f));
        BOOST_REQUIRE(px(down, i, r, c) == (r >= 1 ? px(x, i, r - 1, c) : 0.0f));
        BOOST_REQUIRE(px(up_left, i, r, c) ==
                      (r + 1 < 28 && c + 2 < 28 ? px(x, i, r + 1, c + 2) : 0.0f));
      }
  // Shifting everything out leaves zeros; the 3-D layout gives the same pixels.
  BOOST_TEST(max_abs_diff(shift(x, 28, 0), zeros({2, 784})) == 0.0);
  const Tensor x3 = x.reshape({2, 28, 28});
  const Tensor s3 = shift(x3, 1, 0);
  BOOST_TEST(s3.shape() == (Shape{2, 28, 28}));
  BOOST_TEST(equal(s3.reshape({2, 784}), right));
}

BOOST_AUTO_TEST_CASE(flips_mirror_and_undo_themselves) {
  const Tensor x = numbered_images(2);
  const Tensor f = hflip(x);
  for (std::int64_t r = 0; r < 28; r += 5)
    for (std::int64_t c = 0; c < 28; ++c) BOOST_REQUIRE(px(f, 1, r, c) == px(x, 1, r, 27 - c));
  BOOST_TEST(equal(hflip(f), x));
  Generator gen(5);
  BOOST_TEST(equal(random_hflip(x, 1.0, gen), f));
  // Non-square images [N, H, W] flip along W.
  const Tensor y = numbered_images(1, 3, 5).reshape({1, 3, 5});
  BOOST_TEST(hflip(y).at<float>({0, 2, 0}) == y.at<float>({0, 2, 4}));
  BOOST_TEST(equal(hflip(hflip(y)), y));
}

BOOST_AUTO_TEST_CASE(rotations_match_closed_forms) {
  const Tensor x = numbered_images(1);
  // 90 degrees counter-clockwise: out(r, c) = in(c, 27 - r).
  const Tensor q = rotate(x, 90.0);
  double worst = 0;
  for (std::int64_t r = 0; r < 28; ++r)
    for (std::int64_t c = 0; c < 28; ++c)
      worst = std::max(worst, double(std::abs(px(q, 0, r, c) - px(x, 0, c, 27 - r))));
  BOOST_TEST(worst < 1e-4);
  BOOST_TEST(max_abs_diff(rotate(rotate(rotate(q, 90.0), 90.0), 90.0), x) < 1e-4);
  BOOST_TEST(max_abs_diff(rotate(x, -90.0), rotate(q, 180.0)) < 1e-4);

  // A radially symmetric blob barely changes under any rotation; a shifted one does.
  const Tensor b = blob();
  BOOST_TEST(max_abs_diff(rotate(b, 17.0), b) < 0.02);
  const Tensor off = shift(b, 6, 0);
  BOOST_TEST(max_abs_diff(rotate(off, 17.0), off) > 0.2);

  // Bilinear: rotating a constant image keeps the inside constant and zeros the far corners.
  const Tensor ones_img = ones({1, 784});
  const Tensor r45 = rotate(ones_img, 45.0);
  BOOST_TEST(px(r45, 0, 13, 13) == 1.0f, boost::test_tools::tolerance(1e-6f));
  BOOST_TEST(px(r45, 0, 0, 0) == 0.0f);
  BOOST_TEST(px(r45, 0, 27, 27) == 0.0f);
  // A pixel that lands between two source pixels gets their linear blend: for a horizontal
  // ramp in(r, c) = c, out(r, c) = x-coordinate of the source = cos t (c - xc) - sin t (r - yc) +
  // xc.
  std::vector<float> ramp;
  for (int r = 0; r < 28; ++r)
    for (int c = 0; c < 28; ++c) ramp.push_back(float(c));
  const Tensor rr = rotate(from_vector(ramp, {1, 784}), 10.0);
  const double t = 10.0 * std::numbers::pi / 180.0;
  const double expect = std::cos(t) * (16 - 13.5) - std::sin(t) * (12 - 13.5) + 13.5;
  BOOST_TEST(px(rr, 0, 12, 16) == expect, boost::test_tools::tolerance(1e-5));
}

BOOST_AUTO_TEST_CASE(random_augmentation_repeats_by_seed_and_varies_per_image) {
  // Eight copies of one image: each gets its own draw.
  const Tensor one = numbered_images(1);
  std::vector<float> copies;
  for (int i = 0; i < 8; ++i) {
    const auto v = one.to_vector<float>();
    copies.insert(copies.end(), v.begin(), v.end());
  }
  const Tensor x = from_vector(copies, {8, 784});
  const AugmentOptions opts{.max_degrees = 10.0, .max_shift = 2, .hflip_prob = 0.5};
  Generator g1(123), g2(123), g3(124);
  const Tensor a = augment(x, opts, g1), b = augment(x, opts, g2), c = augment(x, opts, g3);
  BOOST_TEST(equal(a, b));
  BOOST_TEST(!equal(a, c));
  BOOST_TEST(!equal(a.select(0, 0), a.select(0, 1)));
  // The same generator continues its stream: the next batch differs from the first.
  BOOST_TEST(!equal(augment(x, opts, g1), a));
  // Thread count does not change the result.
  const int threads = get_num_threads();
  set_num_threads(1);
  Generator g4(123);
  BOOST_TEST(equal(augment(x, opts, g4), a));
  set_num_threads(threads);

  // random_shift produces whole-pixel shifts within the range.
  Generator gs(9);
  const Tensor s = random_shift(x, 2, gs);
  for (std::int64_t i = 0; i < 8; ++i) {
    bool found = false;
    for (std::int64_t dx = -2; dx <= 2 && !found; ++dx)
      for (std::int64_t dy = -2; dy <= 2 && !found; ++dy)
        found = equal(shift(one, dx, dy), s.select(0, i).reshape({1, 784}));
    BOOST_TEST(found, "image " << i);
  }
  // float64 batches work too, shaped [N, H, W].
  Generator gd(123);
  const Tensor d = augment(x.to(kFloat64).reshape({8, 28, 28}), opts, gd);
  BOOST_TEST(d.dtype() == kFloat64);
  BOOST_TEST(d.shape() == (Shape{8, 28, 28}));
  BOOST_TEST(max_abs_diff(d.reshape({8, 784}), a) < 1e-5);
}

BOOST_AUTO_TEST_CASE(augmentation_errors) {
  Generator gen(1);
  BOOST_TEST(contains(error_of([&] {
                        shift(zeros({2, 784}, kInt64), 1, 0);
                      }),
                      "shift: expected a float32/float64 image batch"));
  BOOST_TEST(contains(error_of([&] {
                        rotate(zeros({2, 50}), 3.0);
                      }),
                      "cannot infer the image size of rows of 50 pixels"));
  BOOST_TEST(contains(error_of([&] {
                        augment(zeros({2, 50}), {.height = 5, .width = 9}, gen);
                      }),
                      "height 5 x width 9 does not match rows of 50 pixels"));
  BOOST_TEST(augment(zeros({2, 50}), {.max_shift = 1, .height = 5, .width = 10}, gen).numel() ==
             100);
  BOOST_TEST(contains(error_of([&] {
                        augment(zeros({2, 784}), {.max_degrees = -1}, gen);
                      }),
                      "max_degrees must be finite and >= 0, got -1"));
  BOOST_TEST(contains(error_of([&] {
                        augment(zeros({2, 784}), {.hflip_prob = 1.5}, gen);
                      }),
                      "hflip_prob must be in [0, 1], got 1.5"));
  BOOST_TEST(contains(error_of([&] { hflip(zeros({784})); }), "hflip"));
}

BOOST_AUTO_TEST_CASE(standardize_and_statistics) {
  const Tensor x = from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  BOOST_TEST(standardize(x, 2.0, 0.5).to_vector<float>() == (std::vector<float>{-2, 0, 2, 4}),
             boost::test_tools::per_element());
  const Tensor per = standardize(x, tensor({1.0f, 2.0f}), tensor({1.0f, 2.0f}));
  BOOST_TEST(per.to_vector<float>() == (std::vector<float>{0, 0, 2, 1}),
             boost::test_tools::per_element());
  BOOST_TEST(standardize(from_vector(std::vector<std::uint8_t>{0, 255}), 0.0, 255.0).dtype() ==
             kFloat32);
  BOOST_TEST(contains(error_of([&] { standardize(x, 0.0, 0.0); }), "std > 0"));
  BOOST_TEST(contains(error_of([&] { standardize(x, tensor({0.0f}), tensor({-1.0f})); }),
                      "every std must be > 0"));

  const MeanStd ms = mean_std(x);
  BOOST_TEST(ms.mean == 2.5);
  BOOST_TEST(ms.std == std::sqrt(1.25), boost::test_tools::tolerance(1e-12));
}
