// The Gauss-Newton endgame's kernels (compiler/src/gauss_newton.hpp) against slow references:
// the tangent residual of each member against the GRAPE kernel's own propagator, its Jacobian
// against central finite differences of those propagators, and the Levenberg-Marquardt step
// against a dense solve of the damped normal equations.
#include "gauss_newton.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "nmrc/compiler/compile.hpp"
#include "nmrc/compiler/targets.hpp"
#include "nmrc/core/molecule.hpp"
#include "support/test_molecules.hpp"

using namespace nmrc;
using namespace nmrc::compiler;

namespace {

// The tangent rows of X, written out again: Im X_jj, then sqrt(2) (Re, Im) of
// H_ij = (X_ij - conj(X_ji)) / 2i for i < j, column by column, times s.
Eigen::VectorXd reference_rows(const Mat& x, double s) {
  const Eigen::Index d = x.rows();
  Eigen::VectorXd out(d * d);
  Eigen::Index at = 0;
  for (Eigen::Index j = 0; j < d; ++j) out(at++) = s * x(j, j).imag();
  for (Eigen::Index j = 0; j < d; ++j)
    for (Eigen::Index i = 0; i < j; ++i) {
      const cplx h = (x(i, j) - std::conj(x(j, i))) / cplx(0, 2);
      out(at++) = std::sqrt(2.0) * s * h.real();
      out(at++) = std::sqrt(2.0) * s * h.imag();
    }
  return out;
}

// The diagonal of D fitted to U: W^dag U's diagonal phases, or the phase of its trace.
Vec fitted_phases(const GrapeProblem& p, const Mat& u) {
  const Mat a = p.target.adjoint() * u;
  const auto d = u.rows();
  Vec ph(d);
  for (Eigen::Index j = 0; j < d; ++j)
    ph(j) = p.diagonal_phases ? a(j, j) / std::abs(a(j, j)) : a.trace() / std::abs(a.trace());
  return ph;
}

Mat propagator(const GrapeProblem& p, const RMat& u, int member) {
  FidelityEvaluator ev(p);
  return ev.forward(u, p.ensemble[member]);
}

// Rows of member i at u with D fixed to `phases`.
Eigen::VectorXd rows_at(const GrapeProblem& p, const RMat& u, int i, const Vec& phases, double s) {
  return reference_rows((p.target * phases.asDiagonal()).adjoint() * propagator(p, u, i), s);
}

void check_residuals(const GrapeProblem& p, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uni(-3000.0, 3000.0);
  RMat u(2 * p.channels.size(), p.steps);
  for (Eigen::Index i = 0; i < u.size(); ++i) u.data()[i] = uni(rng);
  const int first = 1, last = p.steps - 1;  // zero ends: the first and last steps are fixed
  UnitaryResiduals res;
  unitary_residuals(p, u, first, last, 1.0, 2, res);
  const int d = static_cast<int>(p.drift.rows());
  const int members = static_cast<int>(p.ensemble.size());
  const int nc = static_cast<int>(p.channels.size());
  const int per = p.diagonal_phases ? d : 1;
  REQUIRE(res.controls == (last - first) * 2 * nc);
  REQUIRE(res.r.size() == d * d * members);
  REQUIRE(res.jac.cols() == res.controls + per * members);
  std::vector<double> fid;
  ensemble_objective(p, u, nullptr, &fid, 1);
  double wsum = 0;
  for (const auto& m : p.ensemble) wsum += m.weight;
  for (int i = 0; i < members; ++i) {
    CAPTURE(i);
    CHECK(res.fidelity[i] == doctest::Approx(fid[i]).epsilon(1e-12));
    const double s = std::sqrt(p.ensemble[i].weight / wsum / (2.0 * d));
    const Vec ph = fitted_phases(p, propagator(p, u, i));
    const Eigen::VectorXd mine = res.r.segment(i * d * d, d * d);
    CHECK((mine - rows_at(p, u, i, ph, s)).norm() <= 1e-12);
    // control columns by central differences of the propagator (D held at u's)
    const double h = 1e-3;  // Hz
    const auto block = res.jac.middleRows(i * d * d, d * d);
    for (int t = 0; t < 6; ++t) {
      const int k = first + static_cast<int>(rng() % (last - first));
      const int r = static_cast<int>(rng() % (2 * nc));
      CAPTURE(k);
      CAPTURE(r);
      RMat up = u, um = u;
      up(r, k) += h;
      um(r, k) -= h;
      const Eigen::VectorXd fd = (rows_at(p, up, i, ph, s) - rows_at(p, um, i, ph, s)) / (2 * h);
      const Eigen::VectorXd col = block.col((k - first) * 2 * nc + r);
      CHECK(col.norm() > 0);
      CHECK((fd - col).norm() <= 1e-6 * col.norm());
    }
    // phase columns, by differences of D
    for (int j = 0; j < per; ++j) {
      const double hp = 1e-6;
      Vec pp = ph, pm = ph;
      for (int a = 0; a < d; ++a)
        if (!p.diagonal_phases || a == j) {
          pp(a) *= std::polar(1.0, hp);
          pm(a) *= std::polar(1.0, -hp);
        }
      const Eigen::VectorXd fd = (rows_at(p, u, i, pp, s) - rows_at(p, u, i, pm, s)) / (2 * hp);
      const Eigen::VectorXd col = block.col(res.controls + per * i + j);
      CHECK((fd - col).norm() <= 1e-7 * std::max(1.0, col.norm()));
      // only member i's rows depend on member i's phases
      CHECK(res.jac.col(res.controls + per * i + j).norm() == doctest::Approx(col.norm()));
    }
  }
}

}  // namespace

TEST_CASE("Gauss-Newton residuals: the members' tangent residuals and their exact Jacobian") {
  const Molecule croton = testing::crotonic();
  CompileOptions o;
  o.steps = 10;
  o.duration_s = 0.5e-3;
  o.b1_scale = {0.97, 1.0, 1.03};
  SUBCASE("a partial SWAP on crotonic acid (d = 16), three B1 members") {
    const GateTarget t = target_from_json(
        R"({"gate": "partial_swap", "spins": ["C1", "C4"], "theta_rad": 0.2})", croton, "test");
    const GrapeProblem p = build_problem(croton, t, o);
    REQUIRE(gauss_newton_applies(p, 1, p.steps - 1, 1e9));
    check_residuals(p, 5);
  }
  SUBCASE("up to diagonal phases, with an offset member") {
    const GateTarget t = target_from_json(
        R"({"gate": "partial_swap", "spins": ["C2", "C4"], "theta_rad": 0.3,
            "up_to": "diagonal_phases"})",
        croton, "test");
    CompileOptions od = o;
    od.offset_hz = {-20.0, 20.0};
    const GrapeProblem p = build_problem(croton, t, od);
    check_residuals(p, 6);
  }
  SUBCASE("two channels, dimension 4") {
    const Molecule m = testing::hetero_pair();
    const GateTarget t = target_from_json(R"({"gate": "cnot", "spins": ["H", "C"]})", m, "test");
    const GrapeProblem p = build_problem(m, t, o);
    check_residuals(p, 7);
  }
  SUBCASE("where the residual form does not hold") {
    const Molecule m = testing::hetero_pair();
    const GateTarget st = target_from_json(
        R"({"gate": "state_transfer", "spins": ["H"], "transfers": [{"from": "0", "to": "+"}]})", m,
        "test");
    CHECK_FALSE(gauss_newton_applies(build_problem(m, st, o), 0, o.steps, 1e9));
    const GateTarget t = target_from_json(R"({"gate": "cnot", "spins": ["H", "C"]})", m, "test");
    const GrapeProblem p = build_problem(m, t, o);
    CHECK(gauss_newton_applies(p, 0, p.steps, 1e9));
    CHECK_FALSE(gauss_newton_applies(p, 0, p.steps, 1e3));  // over the memory bound
  }
}

TEST_CASE("Levenberg-Marquardt step and Gram matrix against a dense solve") {
  std::mt19937 rng(11);
  std::normal_distribution<double> normal;
  for (const auto& shape : {std::pair{30, 50}, std::pair{50, 30}}) {
    const int rows = shape.first, cols = shape.second;
    CAPTURE(rows);
    RMat j(rows, cols);
    Eigen::VectorXd r(rows);
    for (Eigen::Index i = 0; i < j.size(); ++i) j.data()[i] = normal(rng);
    for (Eigen::Index i = 0; i < r.size(); ++i) r(i) = normal(rng);
    RMat k;
    gram(j, 2, k);
    const RMat full = rows <= cols ? RMat(j * j.transpose()) : RMat(j.transpose() * j);
    REQUIRE(k.rows() == full.rows());
    CHECK((RMat(k.triangularView<Eigen::Lower>()) - RMat(full.triangularView<Eigen::Lower>()))
              .norm() <= 1e-12 * full.norm());
    for (double lambda : {1e-3, 0.5, 20.0}) {
      CAPTURE(lambda);
      Eigen::VectorXd delta;
      REQUIRE(levenberg_marquardt_step(j, k, r, lambda, delta));
      RMat a = j.transpose() * j;
      a.diagonal().array() += lambda;
      const Eigen::VectorXd ref = -a.ldlt().solve(j.transpose() * r);
      CHECK((delta - ref).norm() <= 1e-9 * ref.norm());
    }
  }
  // not positive definite: refused, no NaN passes
  RMat j = RMat::Zero(3, 5);
  RMat k;
  gram(j, 1, k);
  Eigen::VectorXd delta;
  CHECK_FALSE(levenberg_marquardt_step(j, k, Eigen::VectorXd::Ones(3), -1.0, delta));
}
