// TopSpin JCAMP-DX files: the generic reader/writer and shape files, against golden files
// written by hand from the format rules (tests/data/bruker/, docs/bruker.md).
#include "nmrc/core/bruker_shape.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <sstream>

#include "nmrc/core/error.hpp"
#include "nmrc/core/hermitian_eigen.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/jcamp.hpp"
#include "support/reference.hpp"

using namespace nmrc;

namespace {

BrukerShape golden_shape() {
  BrukerShape s;
  s.title = "nmrc golden shape";
  s.date = "2026/11/30";
  s.time = "09:00:00";
  s.shape_parameters = "Type: nmrc test";
  s.totrot_deg = 90.0;
  s.type = "Excitation";
  s.amplitude_percent = {0.0, 50.0, 100.0, 25.0};
  s.phase_deg = {0.0, 90.0, 180.0, -90.0};  // written as 270
  return s;
}

}  // namespace

TEST_CASE("JCAMP-DX numbers and records") {
  SUBCASE("correctness") {
    CHECK(jcamp_shape_number(100.0) == "1.000000E02");
    CHECK(jcamp_shape_number(0.0) == "0.000000E00");
    CHECK(jcamp_shape_number(-0.0) == "0.000000E00");
    CHECK(jcamp_shape_number(0.006370927) == "6.370927E-03");
    CHECK(jcamp_shape_number(359.9617) == "3.599617E02");
    CHECK(jcamp_shape_number(1.5e-120) == "1.500000E-120");
    CHECK(jcamp_parameter_number(600.132820611) == "600.132820611");
    CHECK(jcamp_parameter_number(3e-06) == "3e-06");
    CHECK(jcamp_parameter_number(16384) == "16384");
    // A TopSpin parameter file: header records, comments, inline comments, arrays over lines,
    // strings over lines (the PROBHD of a real acqus), ##END=.
    const std::string text =
        "##TITLE= Parameter file, TopSpin 3.5 pl 7\n##JCAMPDX= 5.0\n"
        "##NPOINTS= 11\t$$ modification sequence number\n$$ /data/x/1/acqus\n"
        "##$D= (0..3)\n3e-06 1 \n0.00011 0 \n##$PROBHD= <5 mm TXI\n>\n##$NUC1= <13C>\n"
        "##$TD= 16384\n##END=\nignored\n";
    const JcampFile f = parse_jcamp(text, "acqus");
    CHECK(f.has_end);
    CHECK(f.integer("NPOINTS") == 11);
    CHECK(f.comments.size() == 1);
    CHECK(f.numbers("$D") == std::vector<double>{3e-06, 1, 0.00011, 0});
    CHECK(f.text("$PROBHD") == "5 mm TXI\n");
    CHECK(f.text("$NUC1") == "13C");
    CHECK(f.integer("$TD") == 16384);
    CHECK(f.find("$TD")->line == 11);
    // XWIN-NMR wrote the first values on the label's line: "##$QS= (0..7)83 83 ..." (nmrglue).
    CHECK(parse_jcamp("##$QS= (0..3)83 83\n22 1\n##END=\n", "a").numbers("$QS") ==
          std::vector<double>{83, 83, 22, 1});
    // Writer: TopSpin's array lines (values while the line is shorter than 70 characters).
    JcampWriter w;
    w.add_numbers("$AMP", std::vector<double>(32, 100.0));
    w.add_texts("$SPNAM", {"a", "b"});
    const auto l = ref::lines_of(w.str());
    REQUIRE(l.size() == 6);
    CHECK(l[0] == "##$AMP= (0..31)");
    CHECK(l[1].size() == 72);  // 18 values, as in TopSpin's acqus
    CHECK(l[1].back() == ' ');
    CHECK(l[2].size() == 56);
    CHECK(l[3] == "##$SPNAM= (0..1)");
    CHECK(l[4] == "<a> <b> ");
    CHECK(l[5] == "##END=");
  }
  SUBCASE("validation") {
    CHECK_THROWS_WITH_AS(parse_jcamp("##TITLE= x\n##TD 5\n", "p"),
                         doctest::Contains("p:2:1: ##TD 5: a JCAMP-DX record needs"), InputError);
    CHECK_THROWS_WITH_AS(parse_jcamp("stray\n", "p"), doctest::Contains("p:1:1: stray"),
                         InputError);
    const JcampFile f = parse_jcamp("##$TD= 12x\n##$D= (0..2)\n1 2\n##END=\n", "p");
    CHECK_THROWS_WITH_AS(f.integer("$TD"),
                         doctest::Contains("p:1:1: ##$TD= 12x: must be an integer"), InputError);
    CHECK_THROWS_WITH_AS(
        f.numbers("$D"),
        doctest::Contains("p:2:1: ##$D= (0..2): array declares 3 values but the file has 2"),
        InputError);
    CHECK_THROWS_WITH_AS(f.number("$SW_h"), doctest::Contains("p:4:1: ##$SW_h=: missing"),
                         InputError);
  }
}

TEST_CASE("TopSpin shape files") {
  const std::string golden_path = ref::source_path("tests/data/bruker/golden.shape");
  SUBCASE("correctness: written byte for byte as the hand-written golden file") {
    const std::string want = read_file(golden_path);
    const std::string got = format_bruker_shape(golden_shape());
    const auto w = ref::lines_of(want), g = ref::lines_of(got);
    REQUIRE(w.size() == g.size());
    for (size_t i = 0; i < w.size(); ++i) {
      INFO("line " << i + 1);
      CHECK(g[i] == w[i]);
    }
    CHECK(got == want);
    // INTEGFAC = |0 + 0.5 i - 1 - 0.25 i| / 4 = sqrt(1.0625) / 4
    CHECK(shape_integfac({0, 50, 100, 25}, {0, 90, 180, 270}) ==
          doctest::Approx(std::sqrt(1.0625) / 4).epsilon(1e-15));
  }
  SUBCASE("correctness: reading the golden file and a TopSpin-style file") {
    const BrukerShape s = read_bruker_shape_file(golden_path);
    CHECK(s.title == "nmrc golden shape");
    CHECK(s.amplitude_percent == std::vector<double>{0, 50, 100, 25});
    CHECK(s.phase_deg == std::vector<double>{0, 90, 180, 270});
    CHECK(s.totrot_deg == 90.0);
    CHECK(!s.bwfac50.has_value());
    CHECK(*s.integfac_read == doctest::Approx(0.2576941));
    // CRLF line ends, Bruker's origin, BWFAC given, SHAPE_MODE 1.
    const BrukerShape t =
        read_bruker_shape_file(ref::source_path("tests/data/bruker/topspin_style.shape"));
    CHECK(t.amplitude_percent.size() == 6);
    CHECK(t.origin == "Bruker BioSpin GmbH");
    CHECK(t.mode == 1);
    CHECK(*t.bwfac == doctest::Approx(2.44));
    CHECK(t.phase_deg[5] == 180.0);
    CHECK(*t.integfac_read ==
          doctest::Approx(shape_integfac(t.amplitude_percent, t.phase_deg)).epsilon(1e-6));
    // As PulseData (the form every shaped-pulse input takes): 6 steps of 1 us, 100 % = 2 kHz.
    const PulseData pd = pulse_data_from_bruker_shape(t, "13C", 6e-6, 2000.0);
    CHECK(pd.name == "topspin_style");
    CHECK(pd.source == t.path);
    CHECK(pd.dt_s == doctest::Approx(1e-6));
    REQUIRE(pd.channels.size() == 1);
    CHECK(pd.channels[0].name == "13C");
    CHECK(!pd.channels[0].carrier_hz.has_value());
    CHECK(pd.channels[0].ux_hz(2) == doctest::Approx(2000.0));
    CHECK(pd.channels[0].ux_hz(5) == doctest::Approx(-500.0));
    CHECK(std::abs(pd.channels[0].uy_hz(5)) < 1e-9);
  }
  SUBCASE("correctness: waveform -> shape -> file -> shape -> waveform") {
    const int n = 200;
    RVec ux(n), uy(n);
    for (int k = 0; k < n; ++k) {
      ux(k) = 3000.0 * std::sin(0.05 * k) + 500.0 * std::cos(0.3 * k);
      uy(k) = -2000.0 * std::cos(0.07 * k);
    }
    for (int sense : {1, -1})
      for (double spoffs : {0.0, 1234.5}) {
        const ShapeFrame frame{sense, spoffs};
        double max_rf = 0;
        BrukerShape s = bruker_shape_from_waveform(ux, uy, 2e-5, max_rf, frame);
        s.title = "rt";
        const BrukerShape r = parse_bruker_shape(format_bruker_shape(s), "rt.shape");
        const ShapedPulseElement e = shaped_pulse_from_bruker_shape(r, n * 2e-5, max_rf, 0, frame);
        REQUIRE(e.ux_hz[0].size() == n);
        CHECK(e.dt_s == doctest::Approx(2e-5));
        // The format keeps 7 significant digits: amplitude to 5e-7 of 100 %, phase to 5e-5 deg
        // (1e-4 deg above 100 deg).
        const double err = std::max((e.ux_hz[0] - ux).cwiseAbs().maxCoeff(),
                                    (e.uy_hz[0] - uy).cwiseAbs().maxCoeff());
        CHECK(err < max_rf * (5e-7 + 1e-4 * kPi / 180.0) * 1.01);
      }
  }
  SUBCASE("correctness: SPOFFS is resonant with spins at +SPOFFS (nmrc's frame)") {
    // A constant-phase shape played at SPOFFS = 800 Hz nutates a spin at +800 Hz exactly as the
    // same shape at SPOFFS 0 nutates a spin on resonance: the 2x2 propagators agree up to the
    // frame rotation exp(-i 2 pi 800 T I_z) (end) that the carrier frame adds.
    BrukerShape s;
    s.amplitude_percent.assign(400, 100.0);
    s.phase_deg.assign(400, 30.0);
    const double T = 400 * 1e-6, f = 800.0, rf = 625.0;  // a 90-degree pulse
    auto propagate = [&](const ShapedPulseElement& e, double offset_hz) {
      Mat U = Mat::Identity(2, 2);
      for (int k = 0; k < e.ux_hz[0].size(); ++k) {
        Mat H(2, 2);  // 2 pi (offset I_z + u_x I_x + u_y I_y)
        H << offset_hz / 2, cplx(e.ux_hz[0](k), -e.uy_hz[0](k)) / 2.0,
            cplx(e.ux_hz[0](k), e.uy_hz[0](k)) / 2.0, -offset_hz / 2;
        const HermitianEigen es = hermitian_eigen(kTwoPi * H);
        const Vec ph = (-cplx(0, 1) * es.values.cast<cplx>() * e.dt_s).array().exp();
        U = es.vectors * ph.asDiagonal() * es.vectors.adjoint() * U;
      }
      return U;
    };
    const Mat U_off = propagate(shaped_pulse_from_bruker_shape(s, T, rf, 0, {1, f}), f);
    const Mat U_on = propagate(shaped_pulse_from_bruker_shape(s, T, rf, 0, {1, 0.0}), 0.0);
    Mat Rz(2, 2);  // exp(-i 2 pi f T I_z)
    Rz << std::exp(cplx(0, -kPi * f * T)), 0, 0, std::exp(cplx(0, kPi * f * T));
    CHECK(std::abs((Rz * U_on).adjoint().cwiseProduct(U_off.transpose()).sum()) / 2 ==
          doctest::Approx(1.0).epsilon(1e-8));
  }
  SUBCASE("validation") {
    const std::string good = read_file(golden_path);
    auto with = [&](const std::string& from, const std::string& to) {
      std::string t = good;
      t.replace(t.find(from), from.size(), to);
      return t;
    };
    CHECK_THROWS_WITH_AS(parse_bruker_shape(with("##XYPOINTS= (XY..XY)\n", ""), "s.shape"),
                         doctest::Contains("s.shape:27:1: ##XYPOINTS=: missing"), InputError);
    CHECK_THROWS_WITH_AS(parse_bruker_shape(with("##NPOINTS= 4", "##NPOINTS= 5"), "s.shape"),
                         doctest::Contains("s.shape:22:1: ##NPOINTS= 5: the file has 4 points"),
                         InputError);
    CHECK_THROWS_WITH_AS(
        parse_bruker_shape(with("1.000000E02, 1.8", "1.000100E02, 1.8"), "s.shape"),
        doctest::Contains("s.shape:26:1: point 3: amplitude = 1.000100E02: must be in 0..100"),
        InputError);
    CHECK_THROWS_WITH_AS(parse_bruker_shape(with("5.000000E01, 9", "-5.000000E01, 9"), "s.shape"),
                         doctest::Contains("s.shape:25:1: point 2: amplitude = -5.000000E01"),
                         InputError);
    CHECK_THROWS_WITH_AS(parse_bruker_shape(with("2.500000E01, 2.700000E02", "2.5, x"), "s.shape"),
                         doctest::Contains("s.shape:27:1: point 4 = 2.5, x: must be"), InputError);
    CHECK_THROWS_WITH_AS(parse_bruker_shape(with("##END=\n", ""), "s.shape"),
                         doctest::Contains("s.shape:27:1: ##END=: missing"), InputError);
    const BrukerShape s = read_bruker_shape_file(golden_path);
    CHECK_THROWS_WITH_AS(shaped_pulse_from_bruker_shape(s, -1.0, 1000.0, 0),
                         doctest::Contains("duration_s = -1"), InputError);
    CHECK_THROWS_WITH_AS(shaped_pulse_from_bruker_shape(s, 1e-3, 0.0, 0),
                         doctest::Contains("max_rf_hz = 0"), InputError);
  }
}
