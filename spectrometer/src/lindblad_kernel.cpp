// The exact engine's kernels (lindblad_kernel.hpp): one copy per instruction set in a portable
// build, one (isa_native) in a native build. The model is dynamics.hpp's (Lindblad relaxation
// per spin, docs/spectrometer.md); the series is exact_step's (propagation.cpp).
#include "lindblad_kernel.hpp"

namespace nmrc::spectrometer::NMRC_ISA_NS {

void lindblad_rhs_kernel(const LindbladParts& p, const Mat& h, const Mat& rho, Mat& out) {
  const cplx mi(0.0, -1.0);
  out.noalias() = mi * (h * rho);
  out.noalias() -= mi * (rho * h);
  if (!p.decay) return;
  out.array() += p.decay->array() * rho.array();
  const int n = p.n, d = 1 << n;
  for (int k = 0; k < n; ++k) {
    const int mk = 1 << (n - 1 - k);
    const double wd = p.w_down[k], wu = p.w_up[k];
    for (int b = 0; b < d; ++b) {
      if (b & mk) continue;
      for (int a = 0; a < d; ++a) {
        if (a & mk) continue;
        out(a, b) += wd * rho(a | mk, b | mk);  // s- rho s+
        out(a | mk, b | mk) += wu * rho(a, b);  // s+ rho s-
      }
    }
  }
}

void taylor_steps_kernel(const LindbladParts& p, const Mat& hs, const Mat& drift, double hstep,
                         int substeps, Mat& x) {
  const Eigen::Index dim = x.rows();
  Mat term(dim, dim), next(dim, dim);
  for (int s = 0; s < substeps; ++s) {
    lindblad_rhs_kernel(p, hs, x, next);
    term = (next + drift) * hstep;
    x += term;
    for (int j = 2; j <= 60; ++j) {
      lindblad_rhs_kernel(p, hs, term, next);
      term = next * (hstep / j);
      x += term;
      if (term.norm() <= 1e-17 * x.norm()) break;
    }
  }
}

void deviation_map_step_kernel(const Mat& e, Mat& s, Vec& drift) {
  const Eigen::Index d2 = s.rows();
  drift = e.topLeftCorner(d2, d2) * drift + e.topRightCorner(d2, 1);
  s = e.topLeftCorner(d2, d2) * s;
}

}  // namespace nmrc::spectrometer::NMRC_ISA_NS
