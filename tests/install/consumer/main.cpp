// A downstream project: one call into every layer, each checked against a closed form, with
// matrices made on one side of the package boundary and freed on the other.
#include <cmath>
#include <complex>
#include <cstdio>
#include <nmrc/compiler/targets.hpp>
#include <nmrc/core/information.hpp>
#include <nmrc/core/molecule.hpp>
#include <nmrc/core/operators.hpp>
#include <nmrc/core/propagators.hpp>
#include <nmrc/spectrometer/acquisition.hpp>
#include <nmrc/thermo/model.hpp>

namespace {
int failures = 0;
void check(bool ok, const char* what, double value) {
  std::printf("consumer: %-48s %.12g %s\n", what, value, ok ? "ok" : "FAILED");
  failures += ok ? 0 : 1;
}
}  // namespace

int main() {
  // core: exp(-i pi I_x) on spin 0 of 2 is X on that spin up to a global phase.
  const nmrc::Mat u = nmrc::expm_hermitian(nmrc::spin_op('x', 0, 2), nmrc::kPi);
  const nmrc::Mat x = nmrc::embed(nmrc::pauli('X'), {0}, 2);
  const double f = nmrc::gate_fidelity(u, x);
  check(std::abs(f - 1.0) < 1e-12, "core: gate fidelity of a pi pulse to X", f);

  // thermo: ground population of a thermal qubit, P0 = 1 / (1 + exp(-1/T)).
  const double p0 = nmrc::thermo::populations(0.9).first;
  check(std::abs(p0 - 1.0 / (1.0 + std::exp(-1.0 / 0.9))) < 1e-15, "thermo: P0 at T = 0.9", p0);

  // compiler: the CNOT target is unitary and squares to the identity.
  const nmrc::Mat cnot = nmrc::compiler::cnot_unitary();
  const double d = (cnot * cnot - nmrc::Mat::Identity(4, 4)).norm();
  check(nmrc::compiler::is_unitary(cnot) && d < 1e-15, "compiler: CNOT^2 = I", d);

  // spectrometer (FFTW): a 16-point line at +sw/4 lands in bin +sw/4 of the spectrum.
  const nmrc::Molecule m = nmrc::parse_molecule(R"(
name: one
spectrometer: {proton_mhz: 400.0}
channels: [{name: 13C, max_rf_hz: 10000}]
nuclei: [{label: C, isotope: 13C, offset_hz: 0, t1_s: 2, t2_s: 1, t2star_s: 1}]
sources: [consumer test]
)",
                                                "one.yaml");
  nmrc::spectrometer::Fid fid;
  fid.sw_hz = 1000.0;
  for (int j = 0; j < 16; ++j)
    fid.points.push_back(std::polar(1.0, 2 * nmrc::kPi * 250.0 * j / 1000.0));
  nmrc::spectrometer::ProcessingOptions po;
  po.halve_first_point = false;
  const nmrc::spectrometer::Spectrum s = nmrc::spectrometer::process(m, fid, po);
  size_t peak = 0;
  for (size_t i = 0; i < s.values.size(); ++i)
    if (std::abs(s.values[i]) > std::abs(s.values[peak])) peak = i;
  check(s.hz[peak] == 250.0 && std::abs(std::abs(s.values[peak]) - 16.0) < 1e-9,
        "spectrometer: peak of a 250 Hz line at (Hz)", s.hz[peak]);
  return failures == 0 ? 0 : 1;
}
