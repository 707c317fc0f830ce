// TopSpin JCAMP-DX files: the generic reader/writer and shape files, against golden files
// written by hand from the format rules (tests/data/bruker/, docs/bruker.md).
#include "nmrc/core/bruker_shape.hpp"

#include <doctest/doctest.h>

#include <algorithm>
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
    CHECK(jcamp_shape_number(100.0) == "1.000000000E02");
    CHECK(jcamp_shape_number(0.0) == "0.000000000E00");
    CHECK(jcamp_shape_number(-0.0) == "0.000000000E00");
    CHECK(jcamp_shape_number(0.006370927) == "6.370927000E-03");
    CHECK(jcamp_shape_number(359.96171234) == "3.599617123E02");
    CHECK(jcamp_shape_number(1.5e-120) == "1.500000000E-120");
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
        parse_bruker_shape(with("1.000000000E02, 1.8", "1.000100000E02, 1.8"), "s.shape"),
        doctest::Contains("s.shape:26:1: point 3: amplitude = 1.000100000E02: must be in 0..100"),
        InputError);
    CHECK_THROWS_WITH_AS(
        parse_bruker_shape(with("5.000000000E01, 9", "-5.000000000E01, 9"), "s.shape"),
        doctest::Contains("s.shape:25:1: point 2: amplitude = -5.000000000E01"), InputError);
    CHECK_THROWS_WITH_AS(
        parse_bruker_shape(with("2.500000000E01, 2.700000000E02", "2.5, x"), "s.shape"),
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

TEST_CASE("TopSpin shape files as TopSpin writes them (##END without =, CRLF, $$ comments)") {
  const auto path = [](const char* name) {
    return ref::source_path(std::string("tests/data/bruker/") + name);
  };
  SUBCASE("correctness") {
    // Gaus1_90-like (make_topspin_files.py): 512 points exp(-ln(100) x^2), CRLF, "##END".
    const BrukerShape g = read_bruker_shape_file(path("Gaus1_90"));
    REQUIRE(g.amplitude_percent.size() == 512);
    CHECK(g.exmode == "Excitation");
    CHECK(*g.totrot_deg == 90.0);
    CHECK(*g.bwfac == doctest::Approx(2.122));
    const double x0 = -1.0 + 1.0 / 512;  // middle of the first step
    CHECK(g.amplitude_percent[0] == doctest::Approx(100 * std::exp(-std::log(100.0) * x0 * x0)));
    CHECK(*g.integfac_read ==
          doctest::Approx(shape_integfac(g.amplitude_percent, g.phase_deg)).epsilon(1e-6));
    // Played for T with 100 % = nu such that 2 pi nu T INTEGFAC = pi/2, an on-resonance
    // amplitude-only pulse turns a spin about x by the sum of its steps' angles: 90 degrees.
    // The reference is that sum (exact for steps that share an axis); the check is that the
    // reader's points give it.
    const double T = 2e-3, nu = 1.0 / (4.0 * T * *g.integfac_read);
    const ShapedPulseElement e = shaped_pulse_from_bruker_shape(g, T, nu, 0);
    double angle = 0.0;
    for (Eigen::Index k = 0; k < e.ux_hz[0].size(); ++k) {
      CHECK(e.uy_hz[0](k) == doctest::Approx(0.0).scale(1.0));
      angle += kTwoPi * e.ux_hz[0](k) * e.dt_s;
    }
    CHECK(angle == doctest::Approx(kPi / 2).epsilon(2e-6));  // the file's 7-digit INTEGFAC
    // Reburp-like: phases 0/180 (signs of a cosine series), CRLF; Eburp2-like: LF line ends.
    const BrukerShape r = read_bruker_shape_file(path("Reburp_like"));
    const BrukerShape b = read_bruker_shape_file(path("Eburp2_like"));
    for (const BrukerShape* s : {&r, &b}) {
      REQUIRE(s->amplitude_percent.size() == 512);
      CHECK(*std::max_element(s->amplitude_percent.begin(), s->amplitude_percent.end()) == 100.0);
      CHECK(std::count(s->phase_deg.begin(), s->phase_deg.end(), 180.0) > 0);
      CHECK(std::count(s->phase_deg.begin(), s->phase_deg.end(), 0.0) +
                std::count(s->phase_deg.begin(), s->phase_deg.end(), 180.0) ==
            512);
      CHECK(*s->integfac_read ==
            doctest::Approx(shape_integfac(s->amplitude_percent, s->phase_deg)).epsilon(1e-6));
    }
    CHECK(r.exmode == "Refocusing");
    // The generic reader: "##END" ends the file, an inline "$$" comment leaves the value.
    const JcampFile f = parse_jcamp("##A= 1 $$ one\r\n$$ note\r\n##END\r\n##B= 2\r\n", "x");
    CHECK(f.has_end);
    CHECK(f.find("B") == nullptr);
    CHECK(f.text("A") == "1");
    CHECK(f.comments == std::vector<std::string>{"note"});
    CHECK(parse_jcamp("\xEF\xBB\xBF##A= 1\n##END=", "bom").text("A") == "1");
  }
  SUBCASE("validation") {
    // A "##" line without "=" that is not END stays an error, its text escaped.
    CHECK_THROWS_WITH_AS(parse_jcamp("##A= 1\n##ENDX\r\n", "x"),
                         "x:2:1: ##ENDX: a JCAMP-DX record needs \"##LABEL= value\"", InputError);
    // Without the end line the shape is truncated.
    std::string text = read_file(path("Gaus1_90"));
    text.resize(text.rfind("##END"));
    CHECK_THROWS_WITH_AS(parse_bruker_shape(text, "cut.shape"),
                         doctest::Contains("##END=: missing"), InputError);
  }
}

TEST_CASE("console files: one sanitiser for every value and comment") {
  SUBCASE("correctness") {
    CHECK(console_text("13C", ConsoleText::kJcampString, "##$NUC1") == "13C");
    CHECK(console_text("<nmrc>", ConsoleText::kJcampValue, "##OWNER") == "<nmrc>");
    CHECK(console_text("Type: Gauss ; Level [%] = 1.0", ConsoleText::kJcampValue, "x") ==
          "Type: Gauss ; Level [%] = 1.0");
    CHECK(console_text("swap_c1_c4", ConsoleText::kName, "SPNAM") == "swap_c1_c4");
    JcampWriter w;
    w.add_commented("NPOINTS", "1", "modification sequence number");
    CHECK(w.str() == "##NPOINTS= 1\t$$ modification sequence number\n##END=\n");
  }
  SUBCASE("validation") {
    // Issue 26's vectors 4, 5 and 7: a line break, "##" or "$$" in any value of any JCAMP file.
    CHECK_THROWS_WITH_AS(
        console_text("13C\n##$PLW= (0..63)", ConsoleText::kJcampString, "##$NUC1"),
        doctest::Contains("##$NUC1 = \"13C\\x0A##$PLW= (0..63)\": cannot be written into a TopSpin "
                          "file"),
        InputError);
    JcampWriter w;
    CHECK_THROWS_WITH_AS(w.add("TITLE", "x\n##END="),
                         doctest::Contains("##TITLE = \"x\\x0A##END=\""), InputError);
    CHECK_THROWS_WITH_AS(w.add("TITLE", "x ##END="),
                         doctest::Contains("would start a JCAMP-DX record"), InputError);
    CHECK_THROWS_WITH_AS(w.add_text("$PULPROG", "zg>"),
                         doctest::Contains("delimit a JCAMP-DX string"), InputError);
    CHECK_THROWS_WITH_AS(w.add("OWNER", "<a"), doctest::Contains("may only enclose"), InputError);
    CHECK_THROWS_WITH_AS(w.add_texts("$SPNAM", {"a", "b $$ c"}),
                         doctest::Contains("would start a JCAMP-DX comment"), InputError);
    CHECK_THROWS_WITH_AS(w.comment("x\r##$NS= 99999"), doctest::Contains("\\x0D"), InputError);
    CHECK(w.str() == "##END=\n");  // nothing of a refused value was written
    CHECK_THROWS_WITH_AS(console_text("a \\", ConsoleText::kPulseProgramComment, "comment"),
                         doctest::Contains("backslash"), InputError);
    CHECK_THROWS_WITH_AS(console_text("a /* b", ConsoleText::kPulseProgramComment, "comment"),
                         doctest::Contains("preprocessor"), InputError);
    CHECK_THROWS_WITH_AS(
        console_text("m\n  (p1 pl1 ph0):f1\n", ConsoleText::kPulseProgramComment, "molecule name"),
        doctest::Contains("molecule name = \"m\\x0A  (p1 pl1 ph0):f1\\x0A\""), InputError);
    CHECK_THROWS_WITH_AS(console_text("a b", ConsoleText::kName, "PULPROG"),
                         doctest::Contains("must be 1-64 characters"), InputError);
    // A shape whose title would end the file early: nothing is formatted.
    BrukerShape s = golden_shape();
    s.title = "x\n##END=";
    CHECK_THROWS_AS(format_bruker_shape(s), InputError);
  }
}
