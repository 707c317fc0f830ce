#include "nmrc/core/states.hpp"

#include <cmath>
#include <sstream>

#include "nmrc/core/error.hpp"
#include "nmrc/core/hermitian_eigen.hpp"
#include "nmrc/core/operators.hpp"

namespace nmrc {

StateCheck validate_density_matrix(const Mat& rho, double tol) {
  StateCheck r;
  if (rho.rows() != rho.cols() || rho.rows() == 0) {
    r.ok = false;
    r.message = "not a square matrix";
    return r;
  }
  r.hermiticity_error = (rho - rho.adjoint()).cwiseAbs().maxCoeff();
  r.trace_error = std::abs(rho.trace() - cplx(1.0, 0.0));
  const Mat h = 0.5 * (rho + rho.adjoint());
  r.min_eigenvalue = hermitian_eigenvalues(h).minCoeff();
  std::ostringstream msg;
  msg.precision(3);
  if (r.hermiticity_error > tol) {
    r.ok = false;
    msg << "not Hermitian (max |rho - rho^dag| = " << r.hermiticity_error << ")";
  } else if (r.trace_error > tol) {
    r.ok = false;
    msg << "trace is not 1 (|Tr rho - 1| = " << r.trace_error << ")";
  } else if (r.min_eigenvalue < -tol) {
    r.ok = false;
    msg << "not positive (smallest eigenvalue " << r.min_eigenvalue << ")";
  }
  r.message = msg.str();
  return r;
}

std::pair<double, double> thermal_populations(double temperature, double delta) {
  const double p0 = 1.0 / (1.0 + std::exp(-delta / temperature));
  return {p0, 1.0 - p0};
}

Mat thermal_qubit(double temperature, double delta) {
  const auto [p0, p1] = thermal_populations(temperature, delta);
  Mat m = Mat::Zero(2, 2);
  m(0, 0) = p0;
  m(1, 1) = p1;
  return m;
}

Mat thermal_state(const Mat& hamiltonian, double temperature) {
  const HermitianEigen es = hermitian_eigen(hamiltonian);
  const RVec& w = es.values;
  const double wmin = w.minCoeff();
  RVec p = (-(w.array() - wmin) / temperature).exp();
  p /= p.sum();
  return es.vectors * p.cast<cplx>().asDiagonal() * es.vectors.adjoint();
}

Mat product_state(const std::vector<Mat>& factors) { return kron_all(factors); }

Mat coherent_thermal_state(const std::vector<double>& temperatures,
                           const std::vector<PairCoherence>& coherences) {
  const int n = static_cast<int>(temperatures.size());
  if (n < 1 || n > 14)
    throw InputError("temperatures: " + std::to_string(n) + " values: must be 1..14");
  std::vector<std::pair<double, double>> pop;
  for (int k = 0; k < n; ++k) {
    if (!(temperatures[k] > 0.0) || !std::isfinite(temperatures[k])) {
      std::ostringstream v;
      v << temperatures[k];
      throw InputError("temperatures[" + std::to_string(k) + "] = " + v.str() + ": must be > 0");
    }
    pop.push_back(thermal_populations(temperatures[k]));
  }
  auto pk = [&](int k, int bit) { return bit ? pop[k].second : pop[k].first; };
  const int dim = 1 << n;
  Mat rho = Mat::Zero(dim, dim);
  for (int i = 0; i < dim; ++i) {
    double w = 1.0;
    for (int k = 0; k < n; ++k) w *= pk(k, spin_bit(i, k, n));
    rho(i, i) = w;
  }
  for (size_t ci = 0; ci < coherences.size(); ++ci) {
    const auto& c = coherences[ci];
    if (c.p < 0 || c.q < 0 || c.p >= n || c.q >= n || c.p == c.q)
      throw InputError("coherences[" + std::to_string(ci) + "] = [" + std::to_string(c.p) + ", " +
                       std::to_string(c.q) + "]: must name two different spins in 0.." +
                       std::to_string(n - 1));
    if (!std::isfinite(c.c.real()) || !std::isfinite(c.c.imag()))
      throw InputError("coherences[" + std::to_string(ci) + "].c: must be finite");
    const int bp = 1 << (n - 1 - c.p), bq = 1 << (n - 1 - c.q);
    const double amp =
        std::sqrt(pop[c.p].first * pop[c.p].second * pop[c.q].first * pop[c.q].second);
    for (int i = 0; i < dim; ++i) {
      if ((i & bp) || !(i & bq)) continue;  // row |0_p 1_q ...>
      const int j = (i | bp) & ~bq;         // column |1_p 0_q ...>, others equal
      double w = amp;
      for (int k = 0; k < n; ++k)
        if (k != c.p && k != c.q) w *= pk(k, spin_bit(i, k, n));
      rho(i, j) += c.c * w;
      rho(j, i) += std::conj(c.c) * w;
    }
  }
  return rho;
}

Mat pure_state(const Vec& psi) { return psi * psi.adjoint(); }

}  // namespace nmrc
