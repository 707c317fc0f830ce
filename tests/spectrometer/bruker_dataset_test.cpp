// TopSpin experiment folders: byte-for-byte against golden files written from the format rules
// (tests/data/bruker/make_golden.py), every header line, round trips in all four data
// layouts, a TopSpin-style dataset with a digital filter, and bad input.
#include "nmrc/spectrometer/bruker_dataset.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <complex>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>
#include <sstream>

#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/jcamp.hpp"
#include "nmrc/core/molecule.hpp"
#include "nmrc/spectrometer/readout.hpp"
#include "nmrc/spectrometer/tomography_run.hpp"
#include "support/reference.hpp"

using namespace nmrc;
using namespace nmrc::spectrometer;
namespace fs = std::filesystem;

namespace {

Molecule golden_molecule() {
  Molecule m;
  m.name = "golden";
  m.temperature_k = 298.0;
  Channel c;
  c.name = c.isotope = "13C";
  c.larmor_mhz = 100.0;
  c.frame_ppm = 25.0;  // O1 = 25 ppm x 100 MHz = 2500 Hz
  c.carrier_hz = 0.0;
  c.max_rf_hz = 10000.0;
  m.channels = {c};
  return m;
}

Fid golden_fid() {
  Fid f;
  f.channel = 0;
  f.sw_hz = 1000.0;
  f.scans = 4;
  for (int j = 0; j < 4; ++j) f.points.push_back(cplx(0.125 + 0.25 * j, -0.25 - 0.25 * j));
  return f;
}

// 0.7 I/d + 0.3 |psi><psi| with psi drawn from a seeded complex Gaussian: a full-rank state
// with every Pauli coefficient nonzero.
Mat mixed_random_state(int n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0.0, 1.0);
  Vec psi(1 << n);
  for (int i = 0; i < psi.size(); ++i) psi(i) = cplx(nd(rng), nd(rng));
  psi.normalize();
  return 0.7 * Mat::Identity(1 << n, 1 << n) / double(1 << n) + 0.3 * psi * psi.adjoint();
}

fs::path scratch(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("nmrc_bruker_test_" + name);
  fs::remove_all(d);
  return d;
}

}  // namespace

TEST_CASE("Bruker datasets: golden files") {
  const fs::path dir = scratch("x") / "golden_expno";
  BrukerWriteOptions o;
  o.pulprog = "nmrc_test";
  o.date_comment = "2026-11-30 09:00:00.000 +0000  nmrc";
  o.d1_s = 1.5;
  o.processed = false;
  write_bruker_dataset(dir.string(), golden_molecule(), golden_fid(), o);
  const std::string gold = ref::source_path("tests/data/bruker/golden_expno");
  SUBCASE("correctness: acqus line by line and fid byte for byte") {
    const auto want = ref::lines_of(read_file(gold + "/acqus"));
    const auto got = ref::lines_of(read_file((dir / "acqus").string()));
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      INFO("acqus line " << i + 1);
      CHECK(got[i] == want[i]);
    }
    CHECK(read_file((dir / "acqu").string()) == read_file(gold + "/acqus"));
    const std::string fid = read_file((dir / "fid").string());
    CHECK(fid.size() == 1024);  // 8 values of 4 bytes, padded to one 1024-byte block
    CHECK(fid == read_file(gold + "/fid"));
    CHECK(fs::exists(dir / "pulseprogram"));
  }
  SUBCASE("correctness: every header line follows TopSpin's rules") {
    const std::string text = read_file((dir / "acqus").string());
    const auto l = ref::lines_of(text);
    CHECK(l[0] == "##TITLE= Parameter file, nmrc 0.1.0");
    CHECK(l[1] == "##JCAMPDX= 5.0");
    CHECK(l[2] == "##DATATYPE= Parameter Values");
    CHECK(l[3] == "##NPOINTS= 1\t$$ modification sequence number");
    CHECK(l[4] == "##ORIGIN= nmrc");
    CHECK(l[5] == "##OWNER= nmrc");
    CHECK(l[6].rfind("$$ ", 0) == 0);
    CHECK(l.back() == "##END=");
    std::vector<std::string> labels;
    for (const auto& line : l) {
      CHECK(!line.empty());  // no blank lines
      if (line.rfind("##$", 0) == 0) labels.push_back(line.substr(0, line.find('=')));
    }
    CHECK(std::is_sorted(labels.begin(), labels.end()));  // ASCII order, as TopSpin
    const JcampFile a = parse_jcamp(text, "acqus");
    for (const char* k : {"$TD", "$SW_h", "$SW", "$SFO1", "$BF1", "$O1", "$NUC1", "$DTYPA",
                          "$BYTORDA", "$AQ_mod", "$DECIM", "$DSPFVS", "$GRPDLY", "$NS", "$PULPROG"})
      CHECK_MESSAGE(a.find(k) != nullptr, k);
    CHECK(a.number("$SFO1") ==
          doctest::Approx(a.number("$BF1") + a.number("$O1") * 1e-6).epsilon(1e-14));
    CHECK(a.number("$SW") == doctest::Approx(a.number("$SW_h") / a.number("$SFO1")).epsilon(1e-14));
    CHECK(a.integer("$TD") == 8);
    CHECK(a.text("$NUC1") == "13C");
  }
}

TEST_CASE("Bruker datasets: round trips") {
  const Molecule m = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
  std::mt19937_64 rng(7);
  std::normal_distribution<double> nd(0.0, 1.0);
  Fid f;
  f.channel = 0;
  f.sw_hz = 15000.0;
  f.scans = 2;
  f.receiver_phase_rad = 0.5;
  for (int j = 0; j < 1000; ++j) f.points.push_back(3e-6 * cplx(nd(rng), nd(rng)));
  double max_abs = 0;
  for (auto z : f.points) max_abs = std::max({max_abs, std::abs(z.real()), std::abs(z.imag())});
  for (int dtypa : {0, 2})
    for (int bytorda : {0, 1}) {
      CAPTURE(dtypa);
      CAPTURE(bytorda);
      const fs::path dir = scratch("rt" + std::to_string(dtypa) + std::to_string(bytorda));
      BrukerWriteOptions o;
      o.dtypa = dtypa;
      o.bytorda = bytorda;
      o.processing.zero_fill = 1024;
      write_bruker_dataset(dir.string(), m, f, o);
      // 2000 values x 4 or 8 bytes, in 1024-byte blocks.
      CHECK(fs::file_size(dir / "fid") == (dtypa == 0 ? 8192u : 16384u));
      const BrukerDataset d = read_bruker_dataset(dir.string());
      CHECK(d.grpdly_points == 0.0);
      const Fid back = fid_from_bruker(d, m);
      REQUIRE(back.points.size() == f.points.size());
      CHECK(back.sw_hz == f.sw_hz);
      CHECK(back.scans == 2);
      CHECK(back.receiver_phase_rad == doctest::Approx(0.5).epsilon(1e-14));
      double err = 0;
      for (size_t j = 0; j < f.points.size(); ++j)
        err = std::max({err, std::abs(back.points[j].real() - f.points[j].real()),
                        std::abs(back.points[j].imag() - f.points[j].imag())});
      // int32: one rounding of value / 2^NC with max |value| < 2^29 2^NC; float64: exact.
      if (dtypa == 0)
        CHECK(err <= max_abs * std::ldexp(1.0, -29) * 1.000001);
      else
        CHECK(err == 0.0);
      // pdata/1: 1r x 2^NC_proc is the real part of the processed spectrum, highest frequency
      // first, OFFSET the shift of that first point.
      const JcampFile procs = read_jcamp((dir / "pdata/1/procs").string());
      const Spectrum sp = process(m, f, o.processing);
      CHECK(procs.integer("$SI") == 1024);
      // TopSpin's first point is +SW/2 (nmrglue's unit conversion: O1 + SW/2): one point above
      // nmrc's highest, the Nyquist bin nmrc's grid holds at -SW/2.
      CHECK(
          procs.number("$OFFSET") ==
          doctest::Approx(sp.ppm.back() + (sp.ppm.back() - sp.ppm.front()) / 1023).epsilon(1e-13));
      const double o1_ppm =
          m.channels[0].frame_ppm + m.channels[0].carrier_hz / m.channels[0].larmor_mhz;
      CHECK(procs.number("$OFFSET") ==
            doctest::Approx(o1_ppm + f.sw_hz / 2 / m.channels[0].larmor_mhz).epsilon(1e-12));
      const std::string r1 = read_file((dir / "pdata/1/1r").string());
      REQUIRE(r1.size() == 4096u);
      const double s = std::ldexp(1.0, static_cast<int>(procs.integer("$NC_proc")));
      double smax = 0, rerr = 0;
      for (int i = 0; i < 1024; ++i) {
        std::int32_t x;
        std::memcpy(&x, r1.data() + 4 * i, 4);
        smax = std::max(smax, std::abs(sp.values[(1024 - i) % 1024].real()));
        rerr = std::max(rerr, std::abs(x * s - sp.values[(1024 - i) % 1024].real()));
      }
      CHECK(rerr <= s);
      CHECK(rerr < 1e-8 * smax);
    }
}

TEST_CASE("Bruker datasets: a TopSpin dataset with a digital filter") {
  SUBCASE("correctness") {
    const BrukerDataset d =
        read_bruker_dataset(ref::source_path("tests/data/bruker/topspin_expno"));
    CHECK(d.td == 500);
    CHECK(d.bytorda == 1);
    CHECK(d.nc == -2);
    CHECK(d.grpdly_points == 71.625);  // DSPFVS 12, DECIM 16
    CHECK(d.grpdly_source == "DSPFVS/DECIM table");
    // nmrglue's count: floor(g) + 2 = 73 points dropped.
    CHECK(d.dropped_points == 73);
    REQUIRE(d.points.size() == 177u);
    // make_golden.py stored A e^{2 pi i m (j - g)/N} lines (N = 250, periodic); with g removed
    // they start at j = 0.
    const double A = std::ldexp(1.0, 20) * 0.25;  // x 2^NC
    const auto line = [&](int j) {
      return A * std::polar(1.0, kTwoPi * 20 * j / 250.0) +
             A / 2 * std::polar(1.0, kTwoPi * -37 * j / 250.0);
    };
    double err = 0;
    for (int j = 0; j < 177; ++j) {
      err = std::max(err, std::abs(d.points[j] - line(j)));
    }
    CHECK(err < 1e-5 * A);  // int32 rounding of the stored values only
    // In crotonic acid's frame: NUC1 13C is channel 0; O1 7142.01 Hz vs the molecule's
    // 94.635 ppm x larmor shifts every point by exp(2 pi i dO1 t).
    const Molecule m = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
    const Fid f = fid_from_bruker(d, m);
    const double dO1 = 7142.01 - m.channels[0].frame_ppm * m.channels[0].larmor_mhz;
    CHECK(std::abs(f.points[10] - d.points[10] * std::polar(1.0, kTwoPi * dO1 * 10 / 15000.0)) <
          1e-9 * A);
    // remove_group_delay with g = 0 is the identity.
    CHECK(remove_group_delay(d.points, 0.0) == d.points);
    CHECK(bruker_group_delay_table(10, 2048) == 70.492431640625);
    CHECK(bruker_group_delay_table(12, 5) < 0);
    CHECK(group_delay_skip(67.9842376708984, 4096) == 69);
    CHECK(group_delay_skip(0.0, 4096) == 0);
  }
  SUBCASE("validation") {
    const std::string gold = ref::source_path("tests/data/bruker/golden_expno");
    const std::string acqus = read_file(gold + "/acqus");
    const std::string fid = read_file(gold + "/fid");
    auto with = [&](const std::string& name, const std::string& from, const std::string& to,
                    const std::string& fid_bytes) {
      const fs::path dir = scratch(name);
      fs::create_directories(dir);
      std::string t = acqus;
      if (!from.empty()) t.replace(t.find(from), from.size(), to);
      write_file_atomic((dir / "acqus").string(), t);
      write_file_atomic((dir / "fid").string(), fid_bytes);
      return dir.string();
    };
    CHECK_THROWS_WITH_AS(read_bruker_dataset(with("notd", "##$TD= 8\n", "", fid)),
                         doctest::Contains("acqus:32:1: ##$TD=: missing"), InputError);
    CHECK_THROWS_WITH_AS(read_bruker_dataset(with("dtypa", "##$DTYPA= 0", "##$DTYPA= 1", fid)),
                         doctest::Contains("acqus:19:1: ##$DTYPA= 1: unknown data type"),
                         InputError);
    CHECK_THROWS_WITH_AS(read_bruker_dataset(with("trunc", "", "", fid.substr(0, 20))),
                         doctest::Contains("fid: truncated: 20 bytes, but TD = 8 values"),
                         InputError);
    CHECK_THROWS_WITH_AS(read_bruker_dataset(with("oddtd", "##$TD= 8", "##$TD= 7", fid)),
                         doctest::Contains("##$TD= 7: must be an even number"), InputError);
    CHECK_THROWS_WITH_AS(read_bruker_dataset(with("aqmod", "##$AQ_mod= 3", "##$AQ_mod= 2", fid)),
                         doctest::Contains("##$AQ_mod= 2: only complex acquisition"), InputError);
    CHECK_THROWS_WITH_AS(read_bruker_dataset((scratch("none")).string()),
                         doctest::Contains("acqus: cannot read file"), InputError);
    const Molecule m = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
    const BrukerDataset d = read_bruker_dataset(gold);  // BF1 100 MHz, not 75.47
    CHECK_THROWS_WITH_AS(fid_from_bruker(d, m), doctest::Contains("##$BF1= 100: differs"),
                         InputError);
  }
}

TEST_CASE("Bruker datasets: tomography from recorded FIDs") {
  // FIDs of a known state after each readout setting are written as TopSpin folders (one
  // EXPNO each), read back and reconstructed: the same state as from the simulated FIDs.
  const Molecule m = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
  const int n = m.size();
  const ReadoutSet set =
      load_readout(ref::source_path("sequences/readout/paper17_completed.yaml"), m);
  const Mat rho = mixed_random_state(n, 3);
  const double sw = default_sw_hz(m);
  std::vector<Fid> recorded;
  for (size_t k = 0; k < set.settings.size(); ++k) {
    const Mat r = readout_unitary(set.settings[k], n);
    Fid f;
    f.channel = 0;
    f.sw_hz = sw;
    f.points = fid_signal(m, m.hamiltonian(), r * rho * r.adjoint(), 0, sw, 4096);
    const fs::path dir = scratch("tomo") / std::to_string(k + 1);
    BrukerWriteOptions o;
    o.processed = false;
    write_bruker_dataset(dir.string(), m, f, o);
    recorded.push_back(fid_from_bruker(read_bruker_dataset(dir.string()), m));
  }
  const Reconstruction rec = reconstruct_from_fids(m, set.settings, recorded);
  MESSAGE("tomography through " << recorded.size() << " TopSpin folders: max |rho_lin - rho| = "
                                << ref::max_abs_diff(rec.linear, rho));
  CHECK(ref::max_abs_diff(rec.linear, rho) < 1e-6);
  CHECK_THROWS_WITH_AS(reconstruct_from_fids(m, set.settings, {recorded[0]}),
                       doctest::Contains("1 FIDs for"), InputError);
}

// The pre-acquisition delay (nmrc's export: the 1H decoupler's 12 us switch back to its CPD
// program after a readout under CW, before go=2): read from the folder's pulseprogram, the FID
// starts after that free evolution, and the line fit evolves the lines back by it. Reference:
// the state after each readout evolved by exp(-i H t0) densely (the full Hamiltonian, strong
// coupling included), then fid_signal; the reconstruction recovers the state as well as
// without the delay, and without the correction (start_s 0) it does not.
TEST_CASE("Bruker datasets: tomography through a pre-acquisition delay") {
  CHECK(preacquisition_delay_s("1 ze\n2 d11 do:f2\n  d1\n  (p11:sp1 ph0):f1\n  4u do:f2\n"
                               "  4u pl12:f2\n  4u cpds2:f2\n  go=2 ph31\n  4u do:f2\n") ==
        doctest::Approx(12e-6).epsilon(1e-12));
  // a pulse, a dN or a gradient after the fixed delays sets the sum back; labels are read
  CHECK(preacquisition_delay_s("  4u do:f2\n  (p1 ph1):f1\n  go=2 ph31\n") == 0.0);
  CHECK(preacquisition_delay_s("  4u\n  d2\n4 2.5u\n  go=2 ph31\n") ==
        doctest::Approx(2.5e-6).epsilon(1e-12));
  CHECK(preacquisition_delay_s("; 4u\n  4u do:f2\n") == 0.0);  // no go=2
  CHECK(preacquisition_delay_s("  p16:gp1\n  d16\n  4u BLKGRAD\n  go=2 ph31\n") == 0.0);
  CHECK_THROWS_WITH_AS(preacquisition_delay_s("  2e6u\n  go=2 ph31\n", "pp"),
                       "pp:1:   2e6u: a delay before go=2 must be finite and the sum at most 1 s",
                       InputError);

  const Molecule m = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
  const int n = m.size();
  const ReadoutSet set =
      load_readout(ref::source_path("sequences/readout/paper17_completed.yaml"), m);
  const Mat rho = mixed_random_state(n, 5);
  const double sw = default_sw_hz(m), t0 = 12e-6;
  const std::string pp =
      "1 ze\n  (p11:sp1 ph0):f1\n  4u do:f2\n  4u pl12:f2\n  4u cpds2:f2\n  go=2 ph31\n";
  const fs::path base[2] = {scratch("nodelay"), scratch("predelay")};
  // The FIDs after each readout without and with the delay (the Hamiltonian of the FID and of the
  // delay: the weak-coupling one the line list is exact for, or the full one), read back.
  auto record = [&](bool strong, std::vector<Fid>& plain, std::vector<Fid>& delayed) {
    const Mat h = m.hamiltonian(strong);
    const Mat u0 = ref::expm_taylor(Mat(cplx(0.0, -t0) * h));  // exp(-i H t0), dense
    for (size_t k = 0; k < set.settings.size(); ++k) {
      const Mat r = readout_unitary(set.settings[k], n);
      const Mat after = r * rho * r.adjoint();
      for (int d = 0; d < 2; ++d) {
        Fid f;
        f.channel = 0;
        f.sw_hz = sw;
        f.points = fid_signal(m, h, d ? Mat(u0 * after * u0.adjoint()) : after, 0, sw, 4096);
        const fs::path dir = base[d] / std::to_string(k + 1);
        BrukerWriteOptions o;
        o.processed = false;
        write_bruker_dataset(dir.string(), m, f, o);
        if (d) write_file_atomic((dir / "pulseprogram").string(), pp);  // as TopSpin keeps it
        (d ? delayed : plain).push_back(fid_from_bruker(read_bruker_dataset(dir.string()), m));
      }
    }
  };
  auto error = [&](const std::vector<Fid>& fids) {
    return ref::max_abs_diff(reconstruct_from_fids(m, set.settings, fids).linear, rho);
  };
  std::vector<Fid> plain_s, delayed_s, plain, delayed;
  record(true, plain_s, delayed_s);
  const double e_plain_s = error(plain_s), e_delay_s = error(delayed_s);
  record(false, plain, delayed);
  REQUIRE(delayed[0].start_s == doctest::Approx(t0).epsilon(1e-12));
  CHECK(plain[0].start_s == 0.0);
  const double e_plain = error(plain), e_delay = error(delayed);
  std::vector<Fid> uncorrected = delayed;
  for (auto& f : uncorrected) f.start_s = 0.0;
  const double e_none = error(uncorrected);
  MESSAGE("max |rho_lin - rho|: no delay "
          << e_plain << ", 12 us delay corrected " << e_delay << ", not corrected " << e_none
          << "; strong coupling: no delay " << e_plain_s << ", corrected " << e_delay_s);
  CHECK(e_plain < 1e-6);
  CHECK(e_delay < 1e-6);
  CHECK(e_none > 1e-2);
  CHECK(std::abs(e_delay_s - e_plain_s) < 1e-4);
  // Folders of one setting with different delays, added with weights: each sum fitted with its
  // own delay, the line values added (both folders hold the same setting of the same state).
  std::vector<std::string> one, both;
  for (size_t k = 0; k < set.settings.size(); ++k) {
    one.push_back((base[0] / std::to_string(k + 1)).string());
    both.push_back(one.back());
    both.push_back((base[1] / std::to_string(k + 1)).string());
  }
  const auto single = tomography_from_bruker(m, set.settings, one);
  const auto mixed = tomography_from_bruker(m, set.settings, both, 1.0, {0.5, 0.5});
  CHECK((mixed.outcomes[3].values - single.outcomes[3].values).cwiseAbs().maxCoeff() < 1e-9);
  CHECK(ref::max_abs_diff(mixed.reconstruction.linear, single.reconstruction.linear) < 1e-9);
}

TEST_CASE(
    "Bruker datasets: a TopSpin 3 folder with its own nucleus names and a fractional group delay") {
  const std::string dir = ref::source_path("tests/data/bruker/topspin3_13c");
  SUBCASE("correctness") {
    // make_topspin_files.py: 4 lines through a 1088-tap linear-phase FIR at DECIM 8 (group
    // delay 67.9375 points), big-endian int32, NC -24, NUC1 <13C>, NUC2 <1H>, NUC3 <off>.
    const BrukerDataset d = read_bruker_dataset(dir);
    CHECK(d.nuc1 == "13C");
    CHECK(d.isotope == "13C");
    CHECK(d.grpdly_points == 67.9375);
    CHECK(d.grpdly_source == "GRPDLY");
    CHECK(d.dropped_points == 69);
    REQUIRE(d.points.size() == 4096u - 69u);
    // With the delay removed the FID is the lines' signal from t = 0: the reference is the sum
    // the generator filtered, at the same times (a one-point error would turn the C1 line's
    // phase by 139 degrees). Up to the filter's passband ripple and the noise (sigma 0.01).
    const double lines[4][3] = {
        {5783.5, 0.6, 0.24}, {2053.7, 1.0, 0.21}, {4101.2, 0.8, 0.23}, {-5783.7, 0.7, 0.21}};
    double err = 0, big = 0;
    for (int j = 40; j < 400; ++j) {
      const double t = j / 15000.0;
      cplx s = 0;
      for (const auto& l : lines) s += l[1] * std::exp(cplx(-t / l[2], kTwoPi * l[0] * t));
      err = std::max(err, std::abs(d.points[j] - s));
      big = std::max(big, std::abs(s));
    }
    MESSAGE("TopSpin 3 folder, group delay 67.9375 removed: max |fid - signal| = "
            << err << " (largest " << big << ")");
    CHECK(err < 0.05 * big);
    // In crotonic acid's frame (channel 13C, BF1 75.4677).
    const Molecule m = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
    const Fid f = fid_from_bruker(d, m);
    CHECK(f.channel == 0);
    CHECK(f.points.size() == d.points.size());
    // TopSpin's nucleus names.
    CHECK(topspin_isotope("<13C>") == "13C");
    CHECK(topspin_isotope("1H") == "1H");
    CHECK(topspin_isotope("D") == "2H");
    CHECK(topspin_isotope("2H") == "2H");
    CHECK(topspin_isotope("C13") == "13C");
    CHECK(topspin_isotope("n15") == "15N");
    CHECK(topspin_isotope("off") == "");
    CHECK(topspin_isotope("13C x") == "");
    // A TopSpin 3 acqus says NUC1 = <D> for deuterium: it finds a channel of isotope 2H.
    const Molecule dm = parse_molecule(R"(
name: d2o
spectrometer: {proton_mhz: 400.0}
channels:
  - {name: deut, isotope: 2H, frame_ppm: 4.7, max_rf_hz: 1000}
nuclei:
  - {label: D1, isotope: 2H, offset_hz: 0.0, t1_s: 1.0, t2_s: 0.5, t2star_s: 0.2}
sources: ["a test molecule: one deuteron"]
)",
                                       "d2o.yaml");
    BrukerDataset dd = d;
    dd.nuc1 = "D";
    dd.isotope = topspin_isotope("D");
    dd.bf1_mhz = dm.channels[0].larmor_mhz;
    CHECK(fid_from_bruker(dd, dm).channel == 0);
  }
  SUBCASE("validation") {
    const std::string acqus = read_file(dir + "/acqus");
    const std::string fid = read_file(dir + "/fid");
    auto with = [&](const std::string& name, const std::string& from, const std::string& to) {
      const fs::path out = scratch(name);
      fs::create_directories(out);
      std::string t = acqus;
      t.replace(t.find(from), from.size(), to);
      write_file_atomic((out / "acqus").string(), t);
      write_file_atomic((out / "fid").string(), fid);
      return out.string();
    };
    CHECK_THROWS_WITH_AS(read_bruker_dataset(with("off", "##$NUC1= <13C>", "##$NUC1= <off>")),
                         doctest::Contains("##$NUC1= <off>: the observe channel is switched off"),
                         InputError);
    CHECK_THROWS_WITH_AS(read_bruker_dataset(with("junk", "##$NUC1= <13C>", "##$NUC1= <13C\x1b>")),
                         doctest::Contains("<13C\\x1B>: not a nucleus name"), InputError);
    CHECK_THROWS_WITH_AS(read_bruker_dataset(with("g", "##$GRPDLY= 67.9375", "##$GRPDLY= 4095")),
                         doctest::Contains("##$GRPDLY= 4095: removing the group delay"),
                         InputError);
    // A 1H molecule has no channel for <13C>.
    const Molecule hm = parse_molecule(R"(
name: water
spectrometer: {proton_mhz: 300.13}
channels:
  - {name: 1H, isotope: 1H, frame_ppm: 4.7, max_rf_hz: 1000}
nuclei:
  - {label: H1, isotope: 1H, offset_hz: 0.0, t1_s: 1.0, t2_s: 0.5, t2star_s: 0.2}
sources: ["a test molecule: one proton"]
)",
                                       "water.yaml");
    CHECK_THROWS_WITH_AS(fid_from_bruker(read_bruker_dataset(dir), hm),
                         doctest::Contains("has no channel for this nucleus"), InputError);
  }
}
