// The channel application's kernels (channel_kernel.hpp): one copy per instruction set in a
// portable build, one (isa_native) in a native build. The method is channel.hpp's.
#include "channel_kernel.hpp"

namespace nmrc::experiment::NMRC_ISA_NS {

namespace {

using Vec4 = Eigen::Matrix<cplx, 4, 1>;

// Apply the per-spin 4x4 superoperators e[k] to x in place (x is 2^n square; superoperators on
// the column-major vec of spin k's 2 x 2 block, index row + 2 col).
void apply_spin_maps(const std::vector<Mat4>& e, int n, Mat& x) {
  const int d = 1 << n;
  for (int k = 0; k < n; ++k) {
    const int bit = 1 << (n - 1 - k);
    for (int r0 = 0; r0 < d; ++r0) {
      if (r0 & bit) continue;
      for (int c0 = 0; c0 < d; ++c0) {
        if (c0 & bit) continue;
        Vec4 v;
        v(0) = x(r0, c0);
        v(1) = x(r0 | bit, c0);
        v(2) = x(r0, c0 | bit);
        v(3) = x(r0 | bit, c0 | bit);
        const Vec4 w = e[k] * v;
        x(r0, c0) = w(0);
        x(r0 | bit, c0) = w(1);
        x(r0, c0 | bit) = w(2);
        x(r0 | bit, c0 | bit) = w(3);
      }
    }
  }
}

}  // namespace

void affine_apply(const Mat& s, const Vec& drift, const Mat& delta, Mat& out) {
  const Eigen::Index d = delta.rows();
  out.resize(d, d);
  Eigen::Map<Vec> o(out.data(), d * d);
  o.noalias() = s * Eigen::Map<const Vec>(delta.data(), d * d);
  if (drift.size() == o.size()) o += drift;
}

void affine_then(const Mat& s1, const Vec& d1, const Mat& s2, const Vec& d2, Mat& s, Vec& drift) {
  s.noalias() = s2 * s1;
  drift.noalias() = s2 * d1;
  drift += d2;
}

void propagate_steps(const std::vector<Mat>& u, const std::vector<std::vector<Mat4>>& e,
                     const std::vector<Mat>& drift, int n, bool with_drift, Mat& x) {
  Mat t(x.rows(), x.cols());
  for (size_t j = 0; j < u.size(); ++j) {
    if (!e.empty()) {
      apply_spin_maps(e[j], n, x);
      if (with_drift) x += drift[j];
    }
    t.noalias() = u[j] * x;
    x.noalias() = t * u[j].adjoint();
  }
}

}  // namespace nmrc::experiment::NMRC_ISA_NS
