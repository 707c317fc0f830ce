#include "nmrc/spectrometer/tomography.hpp"

#include <random>

#include "nmrc/core/error.hpp"
#include "nmrc/core/information.hpp"
#include "nmrc/core/molecule.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/states.hpp"
#include "nmrc/spectrometer/acquisition.hpp"
#include "nmrc/spectrometer/lines.hpp"
#include "nmrc/spectrometer/readout.hpp"
#include "nmrc/spectrometer/tomography_run.hpp"
#include "support/reference.hpp"

using namespace nmrc;
using namespace nmrc::spectrometer;

namespace {
std::vector<ReadoutSetting> letters(std::initializer_list<const char*> l) {
  std::vector<ReadoutSetting> out;
  for (const char* s : l) out.push_back(setting_from_letters(s));
  return out;
}
}  // namespace

TEST_CASE("line observables and ideal values") {
  // Thermal-like state of one spin polarised: after X readout on spin 0 ...
  // R_y(pi/2) maps sigma_z to sigma_x: the summed x-lines of a spin give <sigma_z>.
  const int n = 3;
  const Mat rho = ref::random_density(8, 21);
  const auto v = ideal_line_values(rho, setting_from_letters("YYY"), n);
  const auto z = z_expectations_from_y_readout(v, n);
  for (int k = 0; k < n; ++k)
    CHECK(z[k] == doctest::Approx((rho * sigma('Z', k, n)).trace().real()));
  // Without a readout pulse, line (k, b) is <sigma_x^k P_b>: sum over b is <sigma_x^k>.
  const auto v0 = ideal_line_values(rho, setting_from_letters("III"), n);
  double sx1 = 0, sy1 = 0;
  for (int b = 0; b < 4; ++b) {
    sx1 += v0(2 * (4 + b));
    sy1 += v0(2 * (4 + b) + 1);
  }
  CHECK(sx1 == doctest::Approx((rho * sigma('X', 1, n)).trace().real()));
  CHECK(sy1 == doctest::Approx((rho * sigma('Y', 1, n)).trace().real()));
  // measurement_matrix reproduces the ideal values from the Pauli coefficients.
  const auto settings = letters({"III", "XYI", "YYX"});
  const RMat a = measurement_matrix(settings, n);
  RVec r(63);
  for (int p = 1; p < 64; ++p) r(p - 1) = (rho * pauli_string(p, n)).trace().real();
  const RVec pred = a * r / 8.0;
  for (size_t s = 0; s < settings.size(); ++s) {
    const RVec v1 = ideal_line_values(rho, settings[s], n);
    for (Eigen::Index i = 0; i < v1.size(); ++i)
      CHECK(pred(s * v1.size() + i) == doctest::Approx(v1(i)));
  }
}

TEST_CASE("completeness: rank, invisible strings, fewest completing settings") {
  SUBCASE("one spin") {
    auto rep = analyze_completeness(letters({"I"}), 1);
    CHECK(rep.rank == 2);  // sees X and Y, not Z
    CHECK_FALSE(rep.complete);
    REQUIRE(rep.invisible.size() == 1);
    CHECK(rep.invisible[0] == "Z");
    REQUIRE(rep.proposed.size() == 1);
    CHECK(rep.proposed[0].name != "I");
    rep = analyze_completeness(letters({"I", "X"}), 1);
    CHECK(rep.complete);
    CHECK(std::isfinite(rep.condition_number));
  }
  SUBCASE("two spins: the proposal completes the set") {
    const auto base = letters({"II", "XX"});
    const auto rep = analyze_completeness(base, 2);
    CHECK_FALSE(rep.complete);
    auto completed = base;
    completed.insert(completed.end(), rep.proposed.begin(), rep.proposed.end());
    CHECK(analyze_completeness(completed, 2).complete);
    // Minimal: no smaller addition completes it (exhaustive over all 9 settings when 2 added).
    if (rep.proposed.size() == 2) {
      for (const char* c : {"II", "IX", "IY", "XI", "XX", "XY", "YI", "YX", "YY"}) {
        auto one = base;
        one.push_back(setting_from_letters(c));
        CHECK_FALSE(analyze_completeness(one, 2).complete);
      }
    }
  }
  SUBCASE("duplicates are reported") {
    const auto rep = analyze_completeness(letters({"II", "XX", "XX"}), 2);
    REQUIRE(rep.duplicates.size() == 1);
    CHECK(rep.duplicates[0] == "XX");
  }
}

TEST_CASE("noise-free reconstruction of random 4-spin states") {
  const int n = 4;
  // The paper's set plus its proposed completion.
  const Molecule m = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
  const ReadoutSet paper = load_readout(ref::source_path("sequences/readout/paper17.yaml"), m);
  auto settings = paper.settings;
  const auto rep = analyze_completeness(settings, n);
  settings.insert(settings.end(), rep.proposed.begin(), rep.proposed.end());
  const Tomographer tomo(settings, n);
  for (unsigned seed : {1u, 2u, 3u}) {
    const Mat rho = ref::random_density(16, seed);
    std::vector<RVec> values;
    for (const auto& s : settings) values.push_back(ideal_line_values(rho, s, n));
    const auto rec = tomo.reconstruct(values);
    CHECK(uhlmann_fidelity(rec.physical, rho) >= 0.9999);
    CHECK_MAT_NEAR(rec.linear, rho, 1e-10);
    CHECK(rec.residual < 1e-12);
  }
}

TEST_CASE("projection onto density matrices") {
  Mat h = Mat::Zero(2, 2);
  h(0, 0) = 1.2;
  h(1, 1) = -0.2;
  const Mat p = project_to_density_matrix(h);
  CHECK(p(0, 0).real() == doctest::Approx(1.0));
  CHECK(p(1, 1).real() == doctest::Approx(0.0));
  const Mat rho = ref::random_density(8, 4);
  CHECK_MAT_NEAR(project_to_density_matrix(rho), rho, 1e-12);
  CHECK(validate_density_matrix(project_to_density_matrix(ref::random_hermitian(8, 3) / 8.0 +
                                                          Mat::Identity(8, 8) / 8.0))
            .ok);
}

TEST_CASE("readout files") {
  const Molecule m = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
  SUBCASE("correctness") {
    const auto set =
        parse_readout("name: t\nspins: [C4, C3, C2, C1]\nsettings: [XIIY]\n", "t.yaml", m);
    REQUIRE(set.settings.size() == 1);
    CHECK(set.settings[0].name == "YIIX");  // reordered to molecule order C1..C4
  }
  SUBCASE("validation") {
    CHECK_THROWS_WITH_AS(parse_readout("name: t\nsettings: [XIZY]\n", "t.yaml", m),
                         doctest::Contains("t.yaml:2:12: settings[0] = XIZY: readout axis 'Z'"),
                         InputError);
    CHECK_THROWS_WITH_AS(parse_readout("name: t\nsettings: [XII]\n", "t.yaml", m),
                         doctest::Contains("must have one letter per spin"), InputError);
    CHECK_THROWS_WITH_AS(
        parse_readout("name: t\nspins: [C1, C2, C3, C9]\nsettings: [XIII]\n", "t.yaml", m),
        doctest::Contains("unknown spin C9"), InputError);
    CHECK_THROWS_WITH_AS(Tomographer(letters({"IIII"}), 4), doctest::Contains("cannot reconstruct"),
                         InputError);
  }
}

TEST_CASE("line fit: factorised once, the same amplitudes as a dense least-squares solve") {
  const Molecule m = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
  const int n = m.size(), d = 1 << n;
  const double sw = default_sw_hz(m);
  const int td = 1024;
  const Mat rho = ref::random_density(d, 7);
  Fid fid;
  fid.sw_hz = sw;
  fid.points = fid_signal(m, m.hamiltonian(), rho, 0, sw, td);
  std::mt19937_64 gen(3);
  std::normal_distribution<double> nd(0.0, 0.01);
  for (auto& z : fid.points) z += cplx(nd(gen), nd(gen));
  const LineFitter fitter(m, 0, sw, td);
  const LineReadout got = fitter.fit(fid);
  // reference: the normal equations A^H A x = A^H y, solved densely (independent of the QR;
  // they square the condition number of the two C2 lines 0.5 Hz apart, hence 1e-7)
  const auto& lines = got.lines;
  Mat a(td, static_cast<Eigen::Index>(lines.size()));
  for (size_t c = 0; c < lines.size(); ++c) {
    const cplx rate(-1.0 / m.nuclei[lines[c].spin].t2star_s, kTwoPi * lines[c].frequency_hz);
    for (int j = 0; j < td; ++j) a(j, static_cast<Eigen::Index>(c)) = std::exp(rate * (j / sw));
  }
  const Vec y = Eigen::Map<const Vec>(fid.points.data(), td);
  const Vec x = (a.adjoint() * a).fullPivLu().solve(a.adjoint() * y);
  for (size_t c = 0; c < lines.size(); ++c)
    CHECK(std::abs(lines[c].amplitude - x(static_cast<Eigen::Index>(c))) < 1e-7);
  // the one-shot measure_lines gives the same
  const LineReadout once = measure_lines(m, fid);
  for (size_t c = 0; c < lines.size(); ++c)
    CHECK(std::abs(once.lines[c].amplitude - lines[c].amplitude) < 1e-13);
  // a FID of another shape is refused, not fitted
  Fid short_fid = fid;
  short_fid.points.resize(512);
  CHECK_THROWS_AS(fitter.fit(short_fid), InputError);
}

TEST_CASE("setting measurer: clean values plus noise values are the noisy measurement") {
  const Molecule m = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
  const int n = m.size(), d = 1 << n;
  const double sw = default_sw_hz(m);
  const Mat rho = ref::random_density(d, 11);
  const double sigma = tomography_noise_sigma(n, 300.0);
  for (auto src : {LineSource::kSpectrometer, LineSource::kIdeal}) {
    const SettingMeasurer meter(m, src, sw, 1024);
    for (const char* letters : {"XYII", "IIYX"}) {
      const ReadoutSetting s = setting_from_letters(letters);
      const RVec noisy = meter.measure(rho, s, sigma, 42).values;
      const RVec split = meter.clean_values(rho, s) + meter.noise_values(sigma, 42);
      CHECK((noisy - split).cwiseAbs().maxCoeff() < 1e-12);
      // and the noise is really there (not a zero vector), at the size the fit gives it
      const RVec noise = meter.noise_values(sigma, 42);
      CHECK(noise.cwiseAbs().maxCoeff() > 0.1 * sigma / std::sqrt(1024.0));
      CHECK((meter.clean_values(rho, s) - measure_setting(m, rho, s, src, sw, 1024, 0.0, 1).values)
                .cwiseAbs()
                .maxCoeff() < 1e-13);
    }
  }
}
