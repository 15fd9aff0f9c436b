#include "tapegrad/datasets/transforms.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "tapegrad/core/threading.h"
#include "tapegrad/ops/elementwise.h"

namespace tg::datasets {

Tensor standardize(const Tensor& x, double mean, double std) {
  TG_CHECK(x.defined(), "standardize: undefined tensor");
  TG_CHECK(std > 0.0 && std::isfinite(std) && std::isfinite(mean),
           "standardize: need a finite mean and std > 0, got mean ", mean, ", std ", std);
  const Tensor xf = x.is_floating_point() ? x : x.to(kFloat32);
  return (xf - mean) / std;
}

Tensor standardize(const Tensor& x, const Tensor& mean, const Tensor& std) {
  TG_CHECK(x.defined() && mean.defined() && std.defined(), "standardize: undefined tensor");
  for (double s : std.to_vector<double>())
    TG_CHECK(s > 0.0, "standardize: every std must be > 0, found ", s);
  const Tensor xf = x.is_floating_point() ? x : x.to(kFloat32);
  return (xf - mean.to(xf.dtype())) / std.to(xf.dtype());
}

MeanStd mean_std(const Tensor& x) {
  TG_CHECK(x.defined() && x.numel() > 0, "mean_std: need a non-empty tensor");
  double sum = 0.0, sq = 0.0;
  const Tensor c = x.contiguous();
  dispatch(c.dtype(), [&]<typename T>() {
    const T* p = c.data_ptr<T>();
    for (std::int64_t i = 0; i < c.numel(); ++i) {
      const auto v = static_cast<double>(p[i]);
      sum += v, sq += v * v;
    }
  });
  const double n = static_cast<double>(x.numel());
  const double mean = sum / n;
  return {mean, std::sqrt(std::max(0.0, sq / n - mean * mean))};
}

namespace {

// How one image is resampled: output pixel q takes the input at flip(rot^-1(q - shift)).
struct Warp {
  double cos = 1.0, sin = 0.0;
  std::int64_t dx = 0, dy = 0;
  bool flip = false;
  bool rotates() const { return sin != 0.0 || cos != 1.0; }
};

struct Geometry {
  std::int64_t n, h, w;
};

Geometry geometry(const char* op, const Tensor& images, std::int64_t h, std::int64_t w) {
  TG_CHECK(images.defined() && images.is_floating_point() && images.dim() >= 2, op,
           ": expected a float32/float64 image batch [N, H*W] or [..., H, W], got ",
           images.defined()
               ? detail::concat(dtype_name(images.dtype()), " ", shape_str(images.shape()))
               : std::string("an undefined tensor"));
  if (images.dim() == 2) {
    const std::int64_t d = images.size(1);
    if (h == 0 && w == 0) {
      const auto s = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(d))));
      TG_CHECK(s * s == d, op, ": cannot infer the image size of rows of ", d,
               " pixels (not a square); pass height and width");
      h = w = s;
    }
    TG_CHECK(h > 0 && w > 0 && h * w == d, op, ": height ", h, " x width ", w,
             " does not match rows of ", d, " pixels");
  } else {
    const std::int64_t ih = images.size(-2), iw = images.size(-1);
    TG_CHECK((h == 0 || h == ih) && (w == 0 || w == iw), op, ": height ", h, " x width ", w,
             " does not match images of shape ", shape_str(images.shape()));
    h = ih, w = iw;
  }
  return {h > 0 && w > 0 ? images.numel() / (h * w) : 0, h, w};
}

// Whole-pixel moves (shifts, flips): exact copies, zeros where the source is outside.
template <typename T>
void copy_image(const T* in, T* out, std::int64_t h, std::int64_t w, const Warp& p) {
  for (std::int64_t r = 0; r < h; ++r) {
    T* o = out + r * w;
    const std::int64_t sr = r - p.dy;
    if (sr < 0 || sr >= h) {
      std::fill(o, o + w, T(0));
      continue;
    }
    const T* row = in + sr * w;
    for (std::int64_t c = 0; c < w; ++c) {
      std::int64_t sc = c - p.dx;
      if (p.flip) sc = w - 1 - sc;
      o[c] = sc >= 0 && sc < w ? row[sc] : T(0);
    }
  }
}

// Rotations: bilinear sampling. Along a row the source point moves linearly, so it is stepped
// rather than recomputed; interior points skip the bounds checks.
template <typename T>
void rotate_image(const T* in, T* out, std::int64_t h, std::int64_t w, const Warp& p) {
  const double xc = 0.5 * static_cast<double>(w - 1), yc = 0.5 * static_cast<double>(h - 1);
  auto pixel = [&](std::int64_t y, std::int64_t x) -> double {
    return y >= 0 && y < h && x >= 0 && x < w ? static_cast<double>(in[y * w + x]) : 0.0;
  };
  for (std::int64_t r = 0; r < h; ++r) {
    const double v = static_cast<double>(r - p.dy) - yc, u0 = static_cast<double>(-p.dx) - xc;
    double sx0 = p.cos * u0 - p.sin * v + xc, ax = p.cos;
    const double sy0 = p.sin * u0 + p.cos * v + yc, ay = p.sin;
    if (p.flip) sx0 = static_cast<double>(w - 1) - sx0, ax = -ax;
    for (std::int64_t c = 0; c < w; ++c) {
      const double sx = sx0 + ax * static_cast<double>(c), sy = sy0 + ay * static_cast<double>(c);
      const double flx = std::floor(sx), fly = std::floor(sy);
      const double fx = sx - flx, fy = sy - fly;
      const auto x0 = static_cast<std::int64_t>(flx), y0 = static_cast<std::int64_t>(fly);
      double val;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h) {
        const T* q = in + y0 * w + x0;
        val = (1 - fy) * ((1 - fx) * q[0] + fx * q[1]) + fy * ((1 - fx) * q[w] + fx * q[w + 1]);
      } else if (x0 < -1 || y0 < -1 || x0 >= w || y0 >= h) {
        val = 0.0;
      } else {
        val = (1 - fy) * ((1 - fx) * pixel(y0, x0) + fx * pixel(y0, x0 + 1)) +
              fy * ((1 - fx) * pixel(y0 + 1, x0) + fx * pixel(y0 + 1, x0 + 1));
      }
      out[r * w + c] = static_cast<T>(val);
    }
  }
}

Tensor apply_warps(const Tensor& images_in, const Geometry& g, const std::vector<Warp>& warps) {
  const Tensor images = images_in.detach().contiguous();
  Tensor out = empty(images.shape(), images.dtype());
  const std::int64_t px = g.h * g.w;
  dispatch_floating(images.dtype(), "augment", [&]<typename T>() {
    const T* in = images.data_ptr<T>();
    T* o = out.data_ptr<T>();
    detail::parallel_for(g.n, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(px, 1)),
                         [&](std::int64_t b, std::int64_t e) {
                           for (std::int64_t i = b; i < e; ++i)
                             (warps[i].rotates() ? rotate_image<T> : copy_image<T>)(in + i * px,
                                                                                    o + i * px, g.h,
                                                                                    g.w, warps[i]);
                         });
  });
  return out;
}

Warp rotation(double degrees) {
  const double a = degrees * std::numbers::pi / 180.0;
  return {std::cos(a), std::sin(a), 0, 0, false};
}

void check_augment(const AugmentOptions& o) {
  TG_CHECK(std::isfinite(o.max_degrees) && o.max_degrees >= 0.0,
           "augment: max_degrees must be finite and >= 0, got ", o.max_degrees);
  TG_CHECK(o.max_shift >= 0, "augment: max_shift must be >= 0, got ", o.max_shift);
  TG_CHECK(o.hflip_prob >= 0.0 && o.hflip_prob <= 1.0,
           "augment: hflip_prob must be in [0, 1], got ", o.hflip_prob);
}

}  // namespace

Tensor shift(const Tensor& images, std::int64_t dx, std::int64_t dy) {
  const Geometry g = geometry("shift", images, 0, 0);
  Warp p;
  p.dx = dx, p.dy = dy;
  return apply_warps(images, g, std::vector<Warp>(static_cast<std::size_t>(g.n), p));
}

Tensor rotate(const Tensor& images, double degrees) {
  TG_CHECK(std::isfinite(degrees), "rotate: degrees must be finite, got ", degrees);
  const Geometry g = geometry("rotate", images, 0, 0);
  return apply_warps(images, g,
                     std::vector<Warp>(static_cast<std::size_t>(g.n), rotation(degrees)));
}

Tensor hflip(const Tensor& images) {
  const Geometry g = geometry("hflip", images, 0, 0);
  Warp p;
  p.flip = true;
  return apply_warps(images, g, std::vector<Warp>(static_cast<std::size_t>(g.n), p));
}

Tensor augment(const Tensor& images, const AugmentOptions& o, Generator& gen) {
  check_augment(o);
  const Geometry g = geometry("augment", images, o.height, o.width);
  std::vector<Warp> warps(static_cast<std::size_t>(g.n));
  for (auto& p : warps) {  // drawn serially, in image order: repeatable for a seed
    if (o.max_degrees > 0) p = rotation((2.0 * gen.uniform() - 1.0) * o.max_degrees);
    if (o.max_shift > 0) {
      p.dx = gen.randint(-o.max_shift, o.max_shift + 1);
      p.dy = gen.randint(-o.max_shift, o.max_shift + 1);
    }
    if (o.hflip_prob > 0) p.flip = gen.uniform() < o.hflip_prob;
  }
  return apply_warps(images, g, warps);
}

Tensor random_rotation(const Tensor& images, double max_degrees, Generator& gen) {
  return augment(images, {.max_degrees = max_degrees}, gen);
}

Tensor random_shift(const Tensor& images, std::int64_t max_shift, Generator& gen) {
  return augment(images, {.max_shift = max_shift}, gen);
}

Tensor random_hflip(const Tensor& images, double prob, Generator& gen) {
  return augment(images, {.hflip_prob = prob}, gen);
}

}  // namespace tg::datasets
