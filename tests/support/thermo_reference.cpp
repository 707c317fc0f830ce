#include "support/thermo_reference.hpp"

#include <cmath>

#include "support/reference.hpp"

namespace nmrc::ref {

namespace {

Mat m2(cplx a, cplx b, cplx c, cplx d) {
  Mat m(2, 2);
  m << a, b, c, d;
  return m;
}

Mat thermal(double t) {
  const double p0 = 1.0 / (1.0 + std::exp(-1.0 / t));
  return m2(p0, 0, 0, 1.0 - p0);
}

}  // namespace

Mat heat_flow_initial_state(const std::vector<double>& temps, const std::vector<PairCoherence>& c) {
  const int n = static_cast<int>(temps.size());
  Mat rho = Mat::Ones(1, 1);
  for (int k = 0; k < n; ++k) rho = kron(rho, thermal(temps[k]));
  for (const auto& pc : c) {
    // chi_pq = (x)_{k != p,q} rho_k^th (x) sqrt(P_p^0 P_p^1 P_q^0 P_q^1) |0_p 1_q><1_p 0_q|
    Mat chi = Mat::Ones(1, 1);
    for (int k = 0; k < n; ++k) {
      Mat f;
      if (k == pc.p) {
        const Mat th = thermal(temps[k]);
        f = std::sqrt(th(0, 0).real() * th(1, 1).real()) * m2(0, 1, 0, 0);  // |0><1|
      } else if (k == pc.q) {
        const Mat th = thermal(temps[k]);
        f = std::sqrt(th(0, 0).real() * th(1, 1).real()) * m2(0, 0, 1, 0);  // |1><0|
      } else {
        f = thermal(temps[k]);
      }
      chi = kron(chi, f);
    }
    rho += pc.c * chi + std::conj(pc.c) * chi.adjoint();
  }
  return rho;
}

std::vector<Mat> dense_cascade(const Mat& rho_s0, double t_bath, double g, double tau,
                               const std::vector<int>& order, int collisions, bool simultaneous) {
  const int n = static_cast<int>(std::lround(std::log2(static_cast<double>(rho_s0.rows()))));
  const Mat sp = m2(0, 0, 1, 0), sm = m2(0, 1, 0, 0);  // sigma+ = |1><0|, sigma- = |0><1|
  std::vector<Mat> u;
  Mat hsum = Mat::Zero(2 << n, 2 << n);
  for (int k = 0; k < n; ++k) {
    const Mat h = g * (single(sp, k, n + 1) * single(sm, n, n + 1) +
                       single(sm, k, n + 1) * single(sp, n, n + 1));
    hsum += h;
    u.push_back(expm_taylor(cplx(0, -tau) * h));
  }
  const Mat usim = expm_taylor(cplx(0, -tau) * hsum);
  std::vector<int> keep(n);
  for (int k = 0; k < n; ++k) keep[k] = k;
  std::vector<Mat> out{rho_s0};
  Mat rho_s = rho_s0;
  for (int c = 0; c < collisions; ++c) {
    Mat rho = kron(rho_s, thermal(t_bath));
    if (simultaneous) {
      rho = usim * rho * usim.adjoint();
      out.push_back(partial_trace(rho, keep, n + 1));
    } else {
      for (int k : order) {
        rho = u[k] * rho * u[k].adjoint();
        out.push_back(partial_trace(rho, keep, n + 1));
      }
    }
    rho_s = out.back();
  }
  return out;
}

}  // namespace nmrc::ref
