// Export for a TopSpin console: a compiled partial SWAP as a shape file keeps its fidelity
// (re-simulated by the spectrometer), the pulse program and parameters follow Bruker's
// syntax, and what a pulse program cannot play is refused with a located message.
// GCC 12 at -O3 reports moves of sequence elements (std::variant) into vectors as "may be used
// uninitialized", a known false positive on variant moves (e.g. boostorg/variant2 issue 55).
// Silenced for this file only, so -Wall -Wextra -Werror stays on everywhere else.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "nmrc/compiler/bruker_export.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>

#include "nmrc/compiler/bruker_playback.hpp"
#include "nmrc/compiler/compile.hpp"
#include "nmrc/compiler/program.hpp"
#include "nmrc/core/bruker_shape.hpp"
#include "nmrc/core/error.hpp"
#include "nmrc/core/jcamp.hpp"
#include "nmrc/spectrometer/acquisition.hpp"
#include "nmrc/spectrometer/bruker_dataset.hpp"
#include "nmrc/spectrometer/decoupling.hpp"
#include "nmrc/spectrometer/propagation.hpp"
#include "nmrc/spectrometer/sample.hpp"
#include "support/reference.hpp"

using namespace nmrc;
using namespace nmrc::compiler;
namespace fs = std::filesystem;

namespace {

std::map<std::string, std::string> files_of(const BrukerExportResult& r) {
  std::map<std::string, std::string> m;
  for (const auto& f : r.files) m[f.path] = f.content;
  return m;
}

double ensemble_min(const Molecule& m, const ShapedPulseElement& e, const Mat& target) {
  const auto f = spectrometer::ensemble_fidelity(m, e, target, {0.97, 1.0, 1.03}, {1, 1, 1}, false);
  return *std::min_element(f.gate.begin(), f.gate.end());
}

// The acquisition of these tests' sequences: 13C at 15 kHz.
AcquireElement acquisition(int td) {
  AcquireElement a;
  a.channel = 0;
  a.sw_hz = 15000;
  a.td = td;
  return a;
}

// Calibrated on both channels: 13C hard 90 of 20 us at 50 W, 1H of 10 us at 15 W (25 kHz, so CW
// at B2 25 kHz is PLW13 = 15 W and WALTZ-16 at PCPD2 90 us is PLW12 = 15 (10/90)^2 W).
BrukerExportOptions calibrated() {
  BrukerExportOptions o;
  o.p90_us = 20.0;
  o.plw_w = 50.0;
  o.decouple->p90_us = 10.0;
  o.decouple->plw_w = 15.0;
  return o;
}

}  // namespace

TEST_CASE("Bruker export: a compiled partial SWAP through a shape file keeps its fidelity") {
  const Molecule m = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
  const CompiledPulse cp =
      read_pulse_file(ref::source_path("sequences/gates/compiled/swap_c3_c4.json"));
  const Mat target = target_from_json(cp.target_json, m, "swap_c3_c4.json").full(m.size());
  const ShapedPulseElement original = cp.element(m);
  for (int sense : {1, -1}) {
    CAPTURE(sense);
    double nu = 0;
    BrukerShape s = bruker_shape_from_waveform(cp.channels[0].ux_hz, cp.channels[0].uy_hz, cp.dt_s,
                                               nu, ShapeFrame{sense, 0.0});
    s.title = "swap_c3_c4";
    const BrukerShape back = parse_bruker_shape(format_bruker_shape(s), "swap_c3_c4");
    const ShapedPulseElement e =
        shaped_pulse_from_bruker_shape(back, cp.duration_s(), nu, 0, ShapeFrame{sense, 0.0});
    const double f0 = ensemble_min(m, original, target), f1 = ensemble_min(m, e, target);
    MESSAGE("swap_c3_c4: ensemble-min fidelity " << std::setprecision(10) << f0 << " -> " << f1
                                                 << " through the file (difference "
                                                 << std::abs(f1 - f0) << ")");
    CHECK(std::abs(f1 - f0) < 1e-4);
    CHECK(f1 > 0.99);
  }
}

TEST_CASE("Bruker export: pulse program, parameters, shapes") {
  const Molecule m = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
  const CompiledPulse cp =
      read_pulse_file(ref::source_path("sequences/gates/compiled/swap_c1_c4.json"));
  Sequence seq;
  HardPulseElement h;
  h.channel = 0;
  h.angle_rad = kPi / 2;
  h.phase_rad = kPi / 2;
  h.rf_hz = 12500.0;  // = 1 / (4 x 20 us): the calibrated power
  seq.elements.push_back(h);
  for (int r = 0; r < 3; ++r) {  // a repeated block becomes a loop
    seq.elements.push_back(DelayElement{0.001});
    seq.elements.push_back(cp.element(m));
  }
  seq.elements.push_back(GradientElement{0.001, 20.0, 2.0 / kPi});
  seq.elements.push_back(acquisition(8192));
  BrukerExportOptions o = calibrated();
  o.ns = 4;
  SUBCASE("correctness") {
    const auto r = export_bruker({{"nmrc_test", seq, {}}}, m, o);
    const auto f = files_of(r);
    for (const char* p : {"lists/pp/nmrc_test", "1/acqus", "1/acqu", "1/pulseprogram",
                          "lists/wave/swap_c1_c4", "queue.mac", "README.txt"})
      CHECK_MESSAGE(f.count(p) == 1, p);
    const std::string& pp = f.at("lists/pp/nmrc_test");
    // The decoupler: off during d1, on (cpds2) before the first pulse, off after go (zgdc's
    // statements); the hard 90 uses the calibrated power pl1, set once (4 us) before it.
    CHECK(pp.find("1 ze\n  d11 pl12:f2\n2 d11 do:f2\n  d1\n  4u cpds2:f2\n  4u pl1:f1\n"
                  "  (p11 ph1):f1\n") != std::string::npos);
    CHECK(pp.find("  go=2 ph31\n  d11 do:f2 mc #0 to 2 F0(zd)\nexit\n") != std::string::npos);
    CHECK(pp.find(";cpd2: decoupling according to sequence defined by cpdprg2 [waltz16]") !=
          std::string::npos);
    // CW at pl13 around each 18 ms shape, the CPD program back in the delays (a loop of both).
    CHECK(pp.find("  d2\n3 4u do:f2\n  4u pl13:f2\n  4u cw:f2\n  (p12:sp1 ph0):f1\n"
                  "  4u do:f2\n  4u pl12:f2\n  4u cpds2:f2\n  d2\n  lo to 3 times 2\n") !=
          std::string::npos);
    CHECK(pp.find("  4u UNBLKGRAD\n  p16:gp1\n  d16\n  4u BLKGRAD\n") != std::string::npos);
    CHECK(pp.find("  go=2 ph31\n") != std::string::npos);
    CHECK(pp.find("ph1=(360) 90\n") != std::string::npos);
    CHECK(pp.find(";spnam1: swap_c1_c4\n") != std::string::npos);
    CHECK(pp.find(";gpnam1: nmrc_sine.100 (area factor 0.636") != std::string::npos);
    // The gradient shape played is written (lists/gp) and its area factor is its own integral:
    // a half sine sampled at the 100 midpoints, sum_k sin(pi (k + 1/2)/100)/100 =
    // 1/(100 sin(pi/200)); the smoothed square, 80 points at 100 % and 2 x 10 quarter-sine
    // edges, 0.8 + 2 (sin^2(pi/4)/sin(pi/40))/100.
    REQUIRE(f.count("lists/gp/nmrc_sine.100") == 1);
    const BrukerShape gp = parse_bruker_shape(f.at("lists/gp/nmrc_sine.100"), "gp");
    CHECK(gp.amplitude_percent.size() == 100u);
    CHECK(gp.integfac_read.value() ==
          doctest::Approx(1.0 / (100 * std::sin(kPi / 200))).epsilon(1e-9));
    CHECK(bruker_gradient_shape(true).area_factor ==
          doctest::Approx(1.0 / (100 * std::sin(kPi / 200))).epsilon(1e-14));
    CHECK(bruker_gradient_shape(false).area_factor ==
          doctest::Approx(0.8 + 0.01 / std::sin(kPi / 40)).epsilon(1e-14));
    CHECK(pp.find("#include <Avance.incl>") != std::string::npos);
    // setup.mac: the standard parameter set, then every value nmrc set, in TopSpin's units
    REQUIRE(f.count("setup.mac") == 1);
    const std::string& mac = f.at("setup.mac");
    CHECK(mac.rfind("re 1\nrpar C13CPD all\npulprog nmrc_test\ntd 16384\nswh ", 0) == 0);
    for (const char* line : {"\nns 4\n", "\nd1 51\n", "\nd16 0.0002\n", "\np1 20\n", "\nplw1 50\n",
                             "\nspnam1 swap_c1_c4\n", "\ngpnam1 nmrc_sine.100\n",
                             "\ncpdprg2 waltz16\n", "\npcpd2 90\n"})
      CHECK_MESSAGE(mac.find(line) != std::string::npos, line);
    // Powers: nu1 = 1 / (4 p90) = 12500 Hz; SPW = PLW (nu_shape / nu1)^2.
    const JcampFile acqus = parse_jcamp(f.at("1/acqus"), "acqus");
    const double nu_shape = [&] {
      double mx = 0;
      for (int k = 0; k < cp.channels[0].ux_hz.size(); ++k)
        mx = std::max(mx, std::hypot(cp.channels[0].ux_hz(k), cp.channels[0].uy_hz(k)));
      return mx;
    }();
    const auto spw = acqus.numbers("$SPW");
    CHECK(spw[1] == doctest::Approx(50.0 * std::pow(nu_shape / 12500.0, 2)).epsilon(1e-12));
    CHECK(acqus.numbers("$P")[12] == doctest::Approx(cp.duration_s() * 1e6).epsilon(1e-14));
    CHECK(acqus.numbers("$P")[11] == doctest::Approx(20.0).epsilon(1e-14));
    CHECK(acqus.numbers("$D")[2] == doctest::Approx(0.001).epsilon(1e-14));
    CHECK(acqus.numbers("$D")[1] == doctest::Approx(5 * 10.2).epsilon(1e-14));  // 5 T1(C1)
    // GPZ so that the console's area GPZ/100 x 53.5 G/cm x area factor x 1 ms is the model's
    // 20 G/cm x 2/pi x 1 ms
    CHECK(acqus.numbers("$GPZ")[1] ==
          doctest::Approx(100 * 20.0 * (2 / kPi) / (53.5 / (100 * std::sin(kPi / 200))))
              .epsilon(1e-12));
    CHECK(acqus.integer("$TD") == 16384);
    CHECK(acqus.integer("$NS") == 4);
    CHECK(acqus.text("$PULPROG") == "nmrc_test");
    CHECK(acqus.number("$O1") ==
          doctest::Approx(m.channels[0].frame_ppm * m.channels[0].larmor_mhz).epsilon(1e-14));
    // f2: 1H at the molecule's proton frequency, O2 = 5 ppm, WALTZ-16 with PCPD2 = 90 us and
    // PLW12 = PLW_H (p90_H / PCPD2)^2 = 15 (10/90)^2 W.
    CHECK(acqus.text("$NUC2") == "1H");
    CHECK(acqus.number("$BF2") == 300.13);
    CHECK(acqus.number("$O2") == doctest::Approx(5 * 300.13).epsilon(1e-14));
    CHECK(acqus.number("$SFO2") == doctest::Approx(300.13 + 5 * 300.13e-6).epsilon(1e-14));
    CHECK(parse_jcamp(f.at("1/acqus"), "a").find("$CPDPRG")->continuation[0].find("<waltz16>") !=
          std::string::npos);
    CHECK(acqus.numbers("$PCPD")[2] == 90.0);
    CHECK(acqus.numbers("$PLW")[12] == doctest::Approx(15.0 * std::pow(10.0 / 90.0, 2)));
    // The power line: f1 peak 50 W (pl1); f2 PLW12 on for 4 us + the sequence + AQ.
    bool power_line = false;
    for (const auto& l : r.summary)
      power_line = power_line || (l.rfind("power nmrc_test: scan ", 0) == 0 &&
                                  l.find("f1 peak 50 W") != std::string::npos &&
                                  l.find("f2 (1H decoupling") != std::string::npos);
    CHECK(power_line);
    // CYCLOPS: the hard pulse's list, the shapes' ph30 and the receiver turn together.
    BrukerExportOptions cyc = o;
    cyc.cyclops = true;
    const std::string cpp =
        files_of(export_bruker({{"nmrc_test", seq, {}}}, m, cyc)).at("lists/pp/nmrc_test");
    CHECK(cpp.find("ph1=(360) 90 180 270 0\n") != std::string::npos);
    CHECK(cpp.find("(p12:sp1 ph30):f1") != std::string::npos);
    CHECK(cpp.find("ph30=0 1 2 3\n") != std::string::npos);
    CHECK(cpp.find("ph31=0 1 2 3\n") != std::string::npos);
    cyc.ns = 6;
    CHECK_THROWS_WITH_AS(export_bruker({{"nmrc_test", seq, {}}}, m, cyc),
                         doctest::Contains("CYCLOPS needs a multiple of 4 scans"), InputError);
    // Without decoupling: no f2 at all.
    BrukerExportOptions plain = o;
    plain.decouple.reset();
    const auto fp = files_of(export_bruker({{"nmrc_test", seq, {}}}, m, plain));
    CHECK(fp.at("lists/pp/nmrc_test").find("cpd") == std::string::npos);
    CHECK(fp.at("1/acqus").find("NUC2") == std::string::npos);
    // The shape file re-reads into the same pulse, 100 % = nu_shape.
    const BrukerShape s = parse_bruker_shape(f.at("lists/wave/swap_c1_c4"), "swap_c1_c4");
    const auto e = shaped_pulse_from_bruker_shape(s, cp.duration_s(), nu_shape, 0);
    // 7 significant digits: amplitude to 5e-7 of 100 %, phase to 1e-4 degrees.
    CHECK((e.ux_hz[0] - cp.channels[0].ux_hz).cwiseAbs().maxCoeff() <
          nu_shape * (5e-7 + 1e-4 * kPi / 180.0) * 1.01);
    CHECK(f.at("README.txt").find("lists/wave/*   -> <ts>/exp/stan/nmr/lists/wave/user/") !=
          std::string::npos);
  }
  SUBCASE("validation") {
    Sequence bad = seq;
    RotationElement rot;
    rot.spins = {0};
    rot.angle_rad = kPi;
    bad.elements.insert(bad.elements.begin() + 1, rot);
    auto locate = [](size_t k) { return "p.yaml:" + std::to_string(10 + k) + ":5"; };
    CHECK_THROWS_WITH_AS(export_bruker({{"x", bad, locate}}, m, o),
                         doctest::Contains("p.yaml:11:5: elements[1] = rotation: an ideal, "
                                           "instantaneous rotation cannot be played"),
                         InputError);
    Sequence noacq = seq;
    noacq.elements.pop_back();
    CHECK_THROWS_WITH_AS(export_bruker({{"x", noacq, {}}}, m, o),
                         doctest::Contains("must end with an acquire element"), InputError);
    BrukerExportOptions half = o;
    half.plw_w.reset();
    CHECK_THROWS_WITH_AS(export_bruker({{"x", seq, {}}}, m, half),
                         doctest::Contains("--p90 and --plw: give both"), InputError);
    Sequence strong = seq;
    strong.elements.insert(strong.elements.begin(), GradientElement{0.001, 80.0, 1.0});
    CHECK_THROWS_WITH_AS(export_bruker({{"x", strong, {}}}, m, o),
                         doctest::Contains("elements[0].strength_g_per_cm = 80: needs GPZ 161.2"),
                         InputError);
    // The probe's limits, with the numbers.
    BrukerExportOptions weak = o;
    weak.probe.peak_w_f1 = 40.0;
    CHECK_THROWS_WITH_AS(export_bruker({{"x", seq, {}}}, m, weak),
                         "x: f1 peak power 50 W exceeds the probe's 40 W (--probe-max-w-f1)",
                         InputError);
    weak = o;
    weak.probe.peak_w_f2 = 0.1;
    CHECK_THROWS_WITH_AS(export_bruker({{"x", seq, {}}}, m, weak),
                         doctest::Contains("f2 CW decoupling power PLW13 15 W exceeds the "
                                           "probe's 0.1 W (--probe-max-w-f2)"),
                         InputError);
    weak.decouple->pulses = "cpd";  // the CPD program throughout: PLW12 is the peak
    CHECK_THROWS_WITH_AS(export_bruker({{"x", seq, {}}}, m, weak),
                         doctest::Contains("f2 decoupling power PLW12 0.185185 W exceeds"),
                         InputError);
    weak = o;
    weak.probe.average_w_f2 = 1e-5;
    CHECK_THROWS_WITH_AS(export_bruker({{"x", seq, {}}}, m, weak),
                         doctest::Contains("f2 average power"), InputError);
  }
  SUBCASE("validation: text that would break a console file (issue 26, vectors 3-8)") {
    // Hand-built structs: the writers are the second wall behind the loaders' name checks.
    auto refused = [&](const std::vector<BrukerExperimentInput>& ex, const Molecule& mol,
                       const std::string& what) {
      CHECK_THROWS_WITH_AS(export_bruker(ex, mol, o), doctest::Contains(what.c_str()), InputError);
    };
    Sequence named = seq;  // a pulse named "x\n##END=" (its shape file's title and name)
    std::get<ShapedPulseElement>(named.elements[2]).name = "x\n##END=";
    refused({{"nmrc_test", named, {}}}, m, "shaped pulse name = \"x\\x0A##END=\"");
    Molecule mm = m;  // a molecule name that carries a pulse and a loop
    mm.name = "m\n  (p1 pl1 ph0):f1\n  lo to 2 times 1000\n";
    refused({{"nmrc_test", seq, {}}}, mm, "molecule name = \"m\\x0A  (p1 pl1 ph0):f1");
    Molecule mi = m;  // an isotope that carries a second PLW record
    mi.channels[0].isotope = "13C\n##$PLW= (0..63)";
    refused({{"nmrc_test", seq, {}}}, mi, "##$NUC1 = \"13C\\x0A##$PLW= (0..63)\"");
    // A case name that carries NS: the pulse program and PULPROG name.
    refused({{"c\n##$NS=99999_m1_e1_IIII", seq, {}}}, m,
            "pulse program name = \"c\\x0A##$NS=99999_m1_e1_IIII\"");
  }
}

// The switching 1H decoupler (BrukerDecoupling::pulses, docs/bruker.md "1H decoupling"): CW at
// pl13 around the long shaped pulses, the CPD program elsewhere; the switching statements are
// Bruker's (zgpr's "plN:fF" / "cw:fF" / "do:fF" on delays of their own) and their 4 us are in the
// timing the export writes; the probe check counts the CW.
TEST_CASE("Bruker export: the switching 1H decoupler, its timing and its power") {
  const Molecule m = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
  auto pulse = [&](const char* name) {
    return read_pulse_file(
               ref::source_path(std::string("sequences/gates/compiled/") + name + ".json"))
        .element(m);
  };
  Sequence seq;
  HardPulseElement h;
  h.channel = 0;
  h.angle_rad = kPi / 2;
  h.rf_hz = 12500.0;
  seq.elements.push_back(h);                     // 0: hard 90 (CPD)
  seq.elements.push_back(pulse("swap_c1_c4"));   // 1: 18.5 ms (CW)
  seq.elements.push_back(pulse("swap_c2_c4"));   // 2: 17.6 ms, CW without a switch between
  seq.elements.push_back(DelayElement{0.001});   // 3: CPD
  ShapedPulseElement shortp = pulse("rx90_c1");  // 4: 10 steps of 20 us = 200 us (CPD)
  shortp.name = "short";
  shortp.ux_hz[0] = RVec(shortp.ux_hz[0].head(10));
  shortp.uy_hz[0] = RVec(shortp.uy_hz[0].head(10));
  seq.elements.push_back(shortp);
  seq.elements.push_back(GradientElement{0.001, 20.0, 2.0 / kPi});  // 5: CPD
  seq.elements.push_back(pulse("rx90_c1"));  // 6: 2 ms, the readout: CW, back before go=2
  seq.elements.push_back(acquisition(8192));
  const BrukerExportOptions o = calibrated();
  const auto r = export_bruker({{"sw", seq, {}}}, m, o);
  const auto f = files_of(r);
  const std::string& pp = f.at("lists/pp/sw");
  CHECK(pp.find("  d1\n  4u cpds2:f2\n  4u pl1:f1\n  (p11 ph1):f1\n  4u do:f2\n  4u pl13:f2\n"
                "  4u cw:f2\n  (p12:sp1 ph0):f1\n  (p13:sp2 ph0):f1\n  4u do:f2\n"
                "  4u pl12:f2\n  4u cpds2:f2\n  d2\n  (p14:sp3 ph0):f1\n  4u UNBLKGRAD\n"
                "  p16:gp1\n  d16\n  4u BLKGRAD\n  4u do:f2\n  4u pl13:f2\n  4u cw:f2\n"
                "  (p15:sp4 ph0):f1\n  4u do:f2\n  4u pl12:f2\n  4u cpds2:f2\n  go=2 ph31\n") !=
        std::string::npos);
  CHECK(pp.find(";pl13: f2 channel - power level for CW decoupling during the shaped pulses of "
                "at least 1000 usec [15 W = PLW_H (4 p90_H B2)^2, B2 25000 Hz]") !=
        std::string::npos);
  const JcampFile acqus = parse_jcamp(f.at("1/acqus"), "acqus");
  CHECK(acqus.numbers("$PLW")[13] == doctest::Approx(15.0).epsilon(1e-12));
  CHECK(f.at("setup.mac").find("\nplw13 15\n") != std::string::npos);

  // The timing adds up: the pulse program's statements from cpds2 to go=2 (4u, pN, dN, d16
  // with acqus' values) = f2's timeline = the elements' lengths + 4 us per switching statement
  // and the gradient's 4u + d16 + 4u; the power line's scan = d11 + d1 + that + AQ + d11.
  const auto P = acqus.numbers("$P"), D = acqus.numbers("$D");
  double pp_s = 0.0;
  int four_u = 0;
  {
    std::istringstream in(
        pp.substr(pp.find("  d1\n") + 5, pp.find("  go=2") - pp.find("  d1\n") - 5));
    for (std::string tok; in >> tok;) {
      if (tok == "4u") {
        pp_s += 4e-6;
        ++four_u;
      } else if (tok == "d16") {
        pp_s += D[16];
      } else if (tok[0] == 'd' && tok.find_first_not_of("0123456789", 1) == std::string::npos) {
        pp_s += D[std::stoi(tok.substr(1))];
      } else if (tok.rfind("(p", 0) == 0 ||
                 (tok[0] == 'p' && tok.find(":gp") != std::string::npos)) {
        pp_s += 1e-6 * P[std::stoi(tok.substr(tok[0] == '(' ? 2 : 1))];
      }
    }
  }
  Sequence body = seq;
  body.elements.pop_back();  // the acquisition
  const double elements_s = body.duration_s();
  // cpds2, pl1, to CW (3), back (3), UNBLKGRAD, BLKGRAD, to CW (3) and back (3) around the readout
  CHECK(four_u == 3 + 2 + 3 + 1 + 1 + 3 + 3);
  CHECK(pp_s == doctest::Approx(elements_s + four_u * 4e-6 + D[16]).epsilon(1e-12));
  REQUIRE(r.decoupler.size() == 1u);
  double steps_s = 0.0, cw_s = 0.0, cpd_s = 0.0;
  std::vector<std::pair<BrukerDecouplerStep::F2, int>> timeline;
  for (const auto& st : r.decoupler[0]) {
    steps_s += st.duration_s;
    if (st.f2 == BrukerDecouplerStep::F2::kCw) cw_s += st.duration_s;
    if (st.f2 == BrukerDecouplerStep::F2::kCpd) cpd_s += st.duration_s;
    timeline.emplace_back(st.f2, st.element);
  }
  CHECK(steps_s == doctest::Approx(pp_s).epsilon(1e-12));
  using F2 = BrukerDecouplerStep::F2;
  const std::vector<std::pair<F2, int>> expected = {
      {F2::kCpd, -1}, {F2::kCpd, 0}, {F2::kOff, -1}, {F2::kOff, -1}, {F2::kCw, -1},
      {F2::kCw, 1},   {F2::kCw, 2},  {F2::kOff, -1}, {F2::kOff, -1}, {F2::kCpd, -1},
      {F2::kCpd, 3},  {F2::kCpd, 4}, {F2::kCpd, 5},  {F2::kOff, -1}, {F2::kOff, -1},
      {F2::kCw, -1},  {F2::kCw, 6},  {F2::kOff, -1}, {F2::kOff, -1}, {F2::kCpd, -1}};
  CHECK(timeline == expected);
  // The pre-acquisition delay: the 12 us of the switch back before go=2, as the dataset reader
  // takes it from the pulse program (and the playback plays it).
  CHECK(spectrometer::preacquisition_delay_s(pp) == doctest::Approx(12e-6).epsilon(1e-12));
  const double t_cw_swaps = std::get<ShapedPulseElement>(seq.elements[1]).duration_s() +
                            std::get<ShapedPulseElement>(seq.elements[2]).duration_s() + 4e-6;
  const double t_cw =
      t_cw_swaps + std::get<ShapedPulseElement>(seq.elements[6]).duration_s() + 4e-6;
  CHECK(cw_s == doctest::Approx(t_cw).epsilon(1e-12));
  const double aq = 8192 / 15000.0, d1 = 5 * 10.2;
  const double scan = 0.06 + d1 + pp_s + aq;
  const double avg_f2 = (15.0 * std::pow(10.0 / 90.0, 2) * (cpd_s + aq) + 15.0 * t_cw) / scan;
  std::string power;
  for (const auto& l : r.summary)
    if (l.rfind("power sw: ", 0) == 0) power = l;
  MESSAGE(power);
  CHECK(power.find("scan " + fmt::format("{:.6g}", scan) + " s") != std::string::npos);
  // one CW interval: both shapes without a switch between them
  CHECK(power.find("of which CW " + fmt::format("{:.6g}", t_cw) + " s, the longest CW interval " +
                   fmt::format("{:.6g}", t_cw_swaps) + " s)") != std::string::npos);
  CHECK(power.find("peak 15 W, average " + fmt::format("{:.6g}", avg_f2) + " W") !=
        std::string::npos);

  // The probe check counts the CW: an average limit the CPD program alone meets refuses it.
  BrukerExportOptions tight = o;
  tight.probe.average_w_f2 = 15.0 * std::pow(10.0 / 90.0, 2) * 0.6 / scan;
  CHECK_THROWS_WITH_AS(export_bruker({{"sw", seq, {}}}, m, tight),
                       doctest::Contains(("sw: f2 average power " + fmt::format("{:.6g}", avg_f2) +
                                          " W (PLW12 0.185185 W for ")
                                             .c_str()),
                       InputError);
  CHECK_THROWS_WITH_AS(
      export_bruker({{"sw", seq, {}}}, m, tight),
      doctest::Contains((" + PLW13 15 W for " + fmt::format("{:.6g}", t_cw) + " s of a ").c_str()),
      InputError);
  tight.decouple->pulses = "cpd";
  const auto cpd_only = files_of(export_bruker({{"sw", seq, {}}}, m, tight));
  CHECK(cpd_only.at("lists/pp/sw").find("cw:f2") == std::string::npos);
  CHECK(cpd_only.at("lists/pp/sw").find("pl13") == std::string::npos);
  CHECK(spectrometer::preacquisition_delay_s(cpd_only.at("lists/pp/sw")) == 0.0);
  // A higher B2 is a higher PLW13: 50 kHz is 60 W, above the default 50 W peak.
  BrukerExportOptions hot = o;
  hot.decouple->cw_b2_hz = 50000.0;
  CHECK_THROWS_WITH_AS(export_bruker({{"sw", seq, {}}}, m, hot),
                       "sw: f2 CW decoupling power PLW13 60 W exceeds the probe's 50 W "
                       "(--probe-max-w-f2)",
                       InputError);
  // The threshold: no shape of 20 ms or more, no CW.
  BrukerExportOptions longer = o;
  longer.decouple->cw_min_s = 0.02;
  const auto no_cw = files_of(export_bruker({{"sw", seq, {}}}, m, longer));
  CHECK(no_cw.at("lists/pp/sw").find("cw:f2") == std::string::npos);
  CHECK(no_cw.at("setup.mac").find("plw13") == std::string::npos);
  CHECK(spectrometer::preacquisition_delay_s(no_cw.at("lists/pp/sw")) == 0.0);
  // A readout of several elements (readout_from): CW through all of them, a hard pulse and a
  // delay included, with no switch between them; one switch into CW (the element before was
  // CPD) and one back before go=2.
  Sequence ro;
  ro.elements = {DelayElement{0.001}, pulse("rx90_c1"), h,
                 DelayElement{20e-6}, pulse("ry90_c2"), acquisition(8192)};
  const auto rr = export_bruker({{"ro", ro, {}, 1}}, m, o);
  const std::string rpp = files_of(rr).at("lists/pp/ro");
  CHECK(rpp.find("  d2\n  4u do:f2\n  4u pl13:f2\n  4u cw:f2\n  (p11:sp1 ph0):f1\n"
                 "  4u pl1:f1\n  (p12 ph1):f1\n  d3\n  (p13:sp2 ph0):f1\n  4u do:f2\n"
                 "  4u pl12:f2\n  4u cpds2:f2\n  go=2 ph31\n") != std::string::npos);
  const std::vector<std::pair<F2, int>> ro_expected = {
      {F2::kCpd, -1}, {F2::kCpd, 0},  {F2::kOff, -1}, {F2::kOff, -1},
      {F2::kCw, -1},  {F2::kCw, 1},   {F2::kCw, 2},   {F2::kCw, 3},
      {F2::kCw, 4},   {F2::kOff, -1}, {F2::kOff, -1}, {F2::kCpd, -1}};
  std::vector<std::pair<F2, int>> ro_timeline;
  for (const auto& st : rr.decoupler[0]) ro_timeline.emplace_back(st.f2, st.element);
  CHECK(ro_timeline == ro_expected);
  CHECK(spectrometer::preacquisition_delay_s(rpp) == doctest::Approx(12e-6).epsilon(1e-12));
  // --decoupler-pulses cpd: the old export, the readout under the CPD program, no delay.
  BrukerExportOptions ro_cpd = o;
  ro_cpd.decouple->pulses = "cpd";
  const std::string cpp = files_of(export_bruker({{"ro", ro, {}, 1}}, m, ro_cpd)).at("lists/pp/ro");
  CHECK(cpp.find("(p13:sp2 ph0):f1\n  go=2 ph31\n") != std::string::npos);
  CHECK(spectrometer::preacquisition_delay_s(cpp) == 0.0);
  // Bad values, with the option's name.
  BrukerExportOptions bad = o;
  bad.decouple->pulses = "both";
  CHECK_THROWS_WITH_AS(export_bruker({{"sw", seq, {}}}, m, bad),
                       "--decoupler-pulses = both: must be cw or cpd", InputError);
  bad = o;
  bad.decouple->cw_b2_hz = std::nan("");
  CHECK_THROWS_WITH_AS(export_bruker({{"sw", seq, {}}}, m, bad),
                       "--cw-b2-hz = nan: must be in (0, 100000] Hz", InputError);
  bad = o;
  bad.decouple->cw_min_s = -1e-6;
  CHECK_THROWS_WITH_AS(export_bruker({{"sw", seq, {}}}, m, bad),
                       "--cw-min-us = -1: must be in [0, 1e6] us", InputError);
}

// What the virtual spectrometer plays of the switching decoupler: the export's f2 timeline
// (BrukerExportResult::decoupler) on the 7-spin molecule, switched by DecoupledEvolution::
// switch_to, against the 4-spin model of the same timeline (the switching statements as delays).
// The shipped 2 ms rx90_c1 between two 10 us delays (short: a delay that is a fraction of a
// WALTZ-16 cycle is not decoupled) keeps its decoupled figure under the switching decoupler (CW
// 25 kHz during the pulse), and loses 1-2 % under the CPD program throughout
// (docs/console-physics.md's gate table: 0.9834 at WALTZ-16 90 us, started on a cycle).
TEST_CASE("Bruker export: the switching decoupler played on the 7-spin molecule") {
  const Molecule m4 = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
  const Molecule m7 = load_molecule(ref::source_path("molecules/crotonic_acid_7.yaml"));
  Sequence seq;
  seq.elements.push_back(DelayElement{10e-6});
  seq.elements.push_back(
      read_pulse_file(ref::source_path("sequences/gates/compiled/rx90_c1.json")).element(m4));
  seq.elements.push_back(DelayElement{10e-6});
  seq.elements.push_back(acquisition(1024));
  const spectrometer::Dynamics dyn4(m4);  // the 4-spin propagator of a timeline: exact_unitary
  for (const char* mode : {"cw", "cpd"}) {
    CAPTURE(mode);
    BrukerExportOptions o;
    o.decouple->pulses = mode;
    const auto r = export_bruker({{"sw7", seq, {}}}, m4, o);
    REQUIRE(r.decoupler.size() == 1u);
    const Sequence tl = exported_timeline(seq, r.decoupler[0]);
    // cw: cpds2, d, do, pl13, cw, shape, do, pl12, cpds2, d; cpd: cpds2, d, shape, d
    CHECK(tl.elements.size() == (std::string(mode) == "cw" ? 10u : 4u));
    double steps_s = 0.0;
    for (const auto& st : r.decoupler[0]) steps_s += st.duration_s;
    CHECK(tl.duration_s() == doctest::Approx(steps_s).epsilon(1e-12));
    const Mat u7 = decoupled_unitary_as_exported(m7, seq, r.decoupler[0], *o.decouple);
    const double f = spectrometer::subsystem_gate_fidelity(u7, 7, {0, 1, 2, 3},
                                                           spectrometer::exact_unitary(dyn4, tl));
    Sequence plain = seq;
    plain.elements.pop_back();
    const double f_plain = spectrometer::subsystem_gate_fidelity(
        u7, 7, {0, 1, 2, 3}, spectrometer::exact_unitary(dyn4, plain));
    MESSAGE(std::string(mode) << ": F7 against the 4-spin timeline " << std::setprecision(6) << f
                              << ", against the sequence without the switching statements "
                              << f_plain);
    if (std::string(mode) == "cw") {
      CHECK(f > 0.9995);
      CHECK(f_plain < f - 0.01);  // 24 us of free evolution at the carbons' kHz offsets
    } else {
      CHECK(f < 0.99);
    }
  }
  // A timeline that is not the sequence's is refused.
  BrukerExportOptions o;
  const auto r = export_bruker({{"sw7", seq, {}}}, m4, o);
  Sequence other = seq;
  other.elements.erase(other.elements.begin());
  CHECK_THROWS_AS(exported_timeline(other, r.decoupler[0]), InputError);
}

TEST_CASE("Bruker export played back: the folder alone gives the sequence's state") {
  // Export a sequence with every element kind a pulse program plays (a hard 90 at the
  // calibrated power and one at another, a repeated delay + shape block, a sine gradient), write
  // the folder, read it back with read_bruker_experiment (pulse program, acqus, shapes only) and
  // run both on the virtual spectrometer: the same state at the acquisition.
  const Molecule m = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
  const CompiledPulse cp =
      read_pulse_file(ref::source_path("sequences/gates/compiled/swap_c1_c4.json"));
  Sequence seq;
  seq.name = "playback";
  HardPulseElement h;
  h.channel = 0;
  h.angle_rad = kPi / 2;
  h.phase_rad = kPi / 2;
  h.rf_hz = 12500.0;  // = 1 / (4 x 20 us)
  seq.elements.push_back(h);
  for (int r = 0; r < 3; ++r) {
    seq.elements.push_back(DelayElement{0.001});
    seq.elements.push_back(cp.element(m));
  }
  HardPulseElement h2 = h;  // another power level and phase
  h2.rf_hz = 5000.0;
  h2.angle_rad = kPi;
  h2.phase_rad = 0.0;
  seq.elements.push_back(h2);
  seq.elements.push_back(GradientElement{0.001, 20.0, 2.0 / kPi});
  AcquireElement a;
  a.channel = 0;
  a.sw_hz = 15000;
  a.td = 4096;
  seq.elements.push_back(a);
  BrukerExportOptions o;
  o.p90_us = 20.0;
  o.plw_w = 50.0;
  for (int sense : {1, -1}) {
    CAPTURE(sense);
    o.phase_sense = sense;
    o.cyclops = sense == -1;  // scan 0 of a CYCLOPS cycle is the plain sequence
    o.ns = sense == -1 ? 4 : 1;
    const fs::path dir =
        fs::temp_directory_path() /
        ("nmrc_playback_" + std::to_string(::getpid()) + "_" + std::to_string(sense + 1));
    fs::remove_all(dir);
    for (const auto& f : export_bruker({{"playback", seq, {}}}, m, o).files) {
      fs::create_directories((dir / f.path).parent_path());
      std::ofstream((dir / f.path).string(), std::ios::binary) << f.content;
    }
    const Sequence back = read_bruker_experiment(dir.string(), 1, m, sense);
    // One element per element: loops unrolled, the same kinds and lengths.
    REQUIRE(back.elements.size() == seq.elements.size());
    for (size_t k = 0; k < seq.elements.size(); ++k)
      CHECK(back.elements[k].index() == seq.elements[k].index());
    const auto& hb = std::get<HardPulseElement>(back.elements[7]);
    CHECK(hb.rf_hz == doctest::Approx(5000.0).epsilon(1e-12));
    CHECK(hb.angle_rad == doctest::Approx(kPi).epsilon(1e-12));
    const auto& gb = std::get<GradientElement>(back.elements[8]);
    // the area the console plays, from GPZ and the shape file's own area factor
    CHECK(gb.shape_factor == doctest::Approx(1.0 / (100 * std::sin(kPi / 200))).epsilon(1e-9));
    CHECK(gb.strength_g_per_cm * gb.shape_factor == doctest::Approx(20.0 * 2 / kPi).epsilon(1e-9));
    spectrometer::Sample sample;
    sample.molecule = m;
    Mat rho0 = Mat::Zero(16, 16);
    rho0(0, 0) = 1.0;  // |0000>: every coherence the pulses make is visible
    const Mat r0 = spectrometer::run_experiment(sample, seq, rho0).rho_acquired;
    const Mat r1 = spectrometer::run_experiment(sample, back, rho0).rho_acquired;
    const double d = (r0 - r1).cwiseAbs().maxCoeff();
    MESSAGE("played back from the exported folder (sense " << sense
                                                           << "): max |rho - rho_back| = " << d);
    CHECK(d < 1e-5);  // the shapes' 7 significant digits
    fs::remove_all(dir);
  }
  // A statement nmrc does not play is refused with its line.
  const fs::path bad =
      fs::temp_directory_path() / ("nmrc_playback_bad_" + std::to_string(::getpid()));
  fs::remove_all(bad);
  o.phase_sense = 1;
  o.cyclops = false;
  for (const auto& f : export_bruker({{"playback", seq, {}}}, m, o).files) {
    fs::create_directories((bad / f.path).parent_path());
    std::string text = f.content;
    if (f.path == "1/pulseprogram") text.replace(text.find("  go=2 ph31"), 0, "  trigg\n");
    std::ofstream((bad / f.path).string(), std::ios::binary) << text;
  }
  CHECK_THROWS_WITH_AS(read_bruker_experiment(bad.string(), 1, m),
                       doctest::Contains("trigg: a statement nmrc does not play back"), InputError);
  fs::remove_all(bad);
}
