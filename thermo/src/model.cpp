#include "nmrc/thermo/model.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>

#include "nmrc/core/hermitian_eigen.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/parallel.hpp"

namespace nmrc::thermo {

std::optional<OptionProblem> ModelParams::check() const {
  using R = OptionRule;
  const int nn = n();
  // order: a permutation of the subsystems (each named once).
  bool permutation = static_cast<int>(order.size()) == nn;
  std::vector<int> seen(std::max(nn, 0), 0);
  for (int k : order) permutation = permutation && k >= 0 && k < nn && seen[k]++ == 0;
  bool pairs = true;
  for (const auto& c : coherences)
    pairs = pairs && c.p >= 0 && c.q >= 0 && c.p < nn && c.q < nn && c.p != c.q;
  OptionChecks c;
  c.check("subsystems", nn, R::at_least(1))
      .require(static_cast<int>(names.size()) == nn, "names", std::to_string(names.size()),
               "must name each of the " + std::to_string(nn) + " temperatures")
      .check_each("temperatures", temperatures, R::greater_than(0))
      .check("bath_temperature", bath_temperature, R::greater_than(0))
      .check("tau", tau, R::greater_than(0))
      .check("g", g, R::finite())
      .check("collisions", collisions, R::at_least(1))
      .require(permutation, "order", std::to_string(order.size()) + " entries",
               "must name every subsystem once (a permutation)")
      .require(pairs, "coherences", std::to_string(coherences.size()) + " pairs",
               "each pair must name two different subsystems");
  return c.problem();
}

void ModelParams::validate() const {
  if (const auto p = check()) throw std::invalid_argument(p->message("model"));
}

std::pair<double, double> populations(double temperature) {
  const double p0 = 1.0 / (1.0 + std::exp(-1.0 / temperature));
  return {p0, 1.0 - p0};
}

std::vector<std::vector<int>> excitation_sectors(int n) {
  std::vector<std::vector<int>> s(n + 1);
  for (int i = 0; i < (1 << n); ++i) s[std::popcount(static_cast<unsigned>(i))].push_back(i);
  return s;
}

namespace {

// True when every element outside the excitation-number blocks is below tol.
bool block_diagonal(const Mat& rho, const std::vector<int>& count, double tol) {
  const Eigen::Index dim = rho.rows();
  for (Eigen::Index j = 0; j < dim; ++j)
    for (Eigen::Index i = 0; i < dim; ++i)
      if (count[i] != count[j] && std::abs(rho(i, j)) > tol) return false;
  return true;
}

// Eigenvalues of the Hermitian matrix, by excitation sectors when it is block diagonal (the
// sectors in parallel for large matrices).
std::vector<double> eigenvalues(const Mat& rho, int n) {
  std::vector<int> count(rho.rows());
  for (Eigen::Index i = 0; i < rho.rows(); ++i) count[i] = std::popcount(static_cast<unsigned>(i));
  std::vector<double> ev;
  if (!block_diagonal(rho, count, 1e-13)) {
    const RVec w = hermitian_eigenvalues(rho);
    for (Eigen::Index i = 0; i < w.size(); ++i) ev.push_back(w(i));
    return ev;
  }
  const auto sectors = excitation_sectors(n);
  std::vector<std::vector<double>> per(sectors.size());
  auto work = [&](size_t m) {
    const auto& idx = sectors[m];
    const int d = static_cast<int>(idx.size());
    if (d == 1) {
      per[m] = {rho(idx[0], idx[0]).real()};
      return;
    }
    Mat b(d, d);
    for (int c = 0; c < d; ++c)
      for (int r = 0; r < d; ++r) b(r, c) = rho(idx[r], idx[c]);
    const RVec w = hermitian_eigenvalues(b);
    per[m].assign(w.data(), w.data() + d);
  };
  // Largest sectors first; the middle ones dominate (size C(n, n/2)).
  std::vector<size_t> order(sectors.size());
  for (size_t m = 0; m < order.size(); ++m) order[m] = m;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return sectors[a].size() > sectors[b].size(); });
  parallel_for(order.size(), default_thread_count(rho.rows()), [&](size_t i) { work(order[i]); });
  for (const auto& v : per) ev.insert(ev.end(), v.begin(), v.end());
  return ev;
}

}  // namespace

double min_eigenvalue(const Mat& rho, int n) {
  const auto ev = eigenvalues(rho, n);
  return *std::min_element(ev.begin(), ev.end());
}

double entropy(const Mat& rho, int n) {
  double s = 0.0;
  for (double l : eigenvalues(rho, n))
    if (l > 1e-15) s -= l * std::log(l);
  return s;
}

PositivityReport check_positivity(const std::vector<double>& temperatures,
                                  const std::vector<Coherence>& coh, double tol) {
  const int n = static_cast<int>(temperatures.size());
  PositivityReport r;
  double cmax = 0.0;
  for (const auto& c : coh) cmax = std::max(cmax, std::abs(c.c));
  auto min_eig = [&](double s) {
    std::vector<Coherence> scaled = coh;
    for (auto& c : scaled) c.c *= s;
    return min_eigenvalue(initial_state(temperatures, scaled), n);
  };
  r.min_eigenvalue = min_eig(1.0);
  r.ok = r.min_eigenvalue >= -tol;
  r.max_lambda = cmax;
  if (r.ok) return r;
  // The smallest eigenvalue of an affine matrix family is concave in s and positive at s = 0
  // (a product of full-rank thermal states), so {s : min_eig(s) >= 0} is an interval [0, s*].
  double lo = 0.0, hi = 1.0;
  for (int it = 0; it < 60; ++it) {
    const double mid = 0.5 * (lo + hi);
    (min_eig(mid) >= 0.0 ? lo : hi) = mid;
  }
  r.max_scale = lo;
  r.max_lambda = lo * cmax;
  return r;
}

Mat partial_swap(double theta) {
  Mat u = Mat::Zero(4, 4);
  u(0, 0) = u(3, 3) = 1.0;
  u(1, 1) = u(2, 2) = std::cos(theta);
  u(1, 2) = u(2, 1) = cplx(0.0, -std::sin(theta));
  return u;
}

}  // namespace nmrc::thermo
