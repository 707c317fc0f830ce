// Export for a Bruker console: nmrc sequences (compiled programs or pulse files) as TopSpin
// shape files (lists/wave), pulse programs (lists/pp), per-experiment parameter sets (acqu,
// acqus) and a README saying where each file goes and what to calibrate (docs/bruker.md).
// The library computes every file's text; the CLI writes them (nothing is written when any
// element cannot be expressed).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "nmrc/core/bruker_shape.hpp"
#include "nmrc/core/molecule.hpp"
#include "nmrc/core/sequence.hpp"

namespace nmrc::compiler {

/// 1H decoupling on a channel of its own (f2) during every experiment: WALTZ-16 (Shaka, Keeler
/// & Freeman, J. Magn. Reson. 53, 313 (1983)) or GARP (Shaka, Barker & Freeman, J. Magn.
/// Reson. 64, 547 (1985)) from before the first pulse of the sequence to the end of the
/// acquisition ("cpds2:f2" ... "do:f2"), as Bruker's zgdc/zgpg programs switch it.
struct BrukerDecoupling {
  std::string program = "waltz16";  ///< CPDPRG2: waltz16 or garp
  double pcpd_us = 90.0;            ///< PCPD2: the sequence's 90-degree pulse (2.78 kHz)
  /// The calibrated hard 1H 90 on f2 (p90_us at plw_w watts): PLW12 = plw_w (p90/PCPD2)^2.
  /// Both or neither; without them PLW12 is left for the user (README) and f2 is not checked.
  std::optional<double> p90_us, plw_w;
  double o2_ppm = 5.0;  ///< the 1H carrier O2 / BF2 (set it to the middle of the protons)
  /// What f2 plays during a shaped pulse at least cw_min_s long (docs/console-physics.md: the
  /// CPD program at PCPD2 loses 1-2 % of a 2 ms rotation and 8-40 % of a 17-45 ms GRAPE pulse
  /// to the C-H couplings the pulse recouples; CW at 25 kHz keeps them within 1e-4 and 4e-3):
  ///  - "cw" (default): CW at cw_b2_hz on pl13, switched as Bruker's programs switch f2
  ///    ("4u do:f2", "4u pl13:f2", "4u cw:f2" before, "4u do:f2", "4u pl12:f2",
  ///    "4u cpds2:f2" after; CW stays on through consecutive such pulses). The readout
  ///    (BrukerExperimentInput::readout_from, by default the element just before the
  ///    acquisition) plays under CW throughout when any of its elements would (no switch
  ///    between its pulses) and f2 switches back to the CPD program right before go=2: 12 us of
  ///    free evolution before the first point, the pre-acquisition delay that the dataset
  ///    reader takes from the pulseprogram (spectrometer::preacquisition_delay_s) and the line
  ///    fit evolves back (Fid::start_s);
  ///  - "cpd": the CPD program throughout (the export before the switching decoupler).
  std::string pulses = "cw";
  double cw_b2_hz = 25000.0;  ///< CW amplitude (the 1H channel's max_rf_hz in crotonic_acid_7)
  /// Shortest shaped pulse played under CW: every shipped shaped pulse (2 ms and longer) gains
  /// (gate table, docs/console-physics.md); a hard pulse (tens of us) is shorter than the
  /// 24 us of switching it would need.
  double cw_min_s = 1e-3;
};

/// What f2 plays during one interval of an exported experiment, from the statement that starts
/// the decoupler to go=2 (the acquisition, under the CPD program, is not listed): the timeline a
/// simulation of the console's decoupler plays (spectrometer::DecoupledEvolution::switch_to).
struct BrukerDecouplerStep {
  enum class F2 { kOff, kCpd, kCw };
  F2 f2 = F2::kOff;
  double duration_s = 0.0;
  /// The sequence element played meanwhile; -1: a switching statement (4u, the carbons free).
  int element = -1;
};

/// What the probe takes, in watts; every exported experiment is checked against them
/// (docs/bruker.md, "Power"). nmrc's defaults, not a probe's rating: give your probe's.
struct ProbeLimits {
  double peak_w_f1 = 100.0, peak_w_f2 = 50.0;     ///< largest power level on each channel
  double average_w_f1 = 1.0, average_w_f2 = 1.0;  ///< energy per scan / scan time
};

struct BrukerExportOptions {
  /// Calibrated hard 90-degree pulse on f1: p90_us at plw_w watts, so nu1 = 1 / (4 p90).
  /// Shape powers then follow as SPW = PLW (nu_shape / nu1)^2, SPdB = -10 log10(SPW)
  /// (power is proportional to the square of the nutation frequency). Both or neither; without
  /// them the powers are left for the user (README).
  std::optional<double> p90_us, plw_w;
  int ns = 1;
  int ds = 0;
  double d1_s = -1.0;              ///< relaxation delay; < 0: 5 x the longest T1 of the molecule
  double d16_s = 200e-6;           ///< gradient recovery after each gradient (Bruker's d16)
  double gpz_max_g_per_cm = 53.5;  ///< gradient strength at GPZ = 100 % (calibrate!)
  /// The console's standard parameter set setup.mac loads into every experiment before
  /// nmrc's values (`rpar NAME all`): Bruker's 13C set with 1H CPD decoupling by default.
  std::string rpar = "C13CPD";
  int phase_sense = 1;  ///< see nmrc::ShapeFrame
  /// CYCLOPS on the whole sequence: every pulse (phase lists, ph30 for the shapes) and the
  /// receiver (ph31) turn by 90 degrees per scan; ns must be a multiple of 4.
  bool cyclops = false;
  std::string date = "1970/01/01", time = "00:00:00";  ///< stamped into the shape files
  std::string source = "nmrc";  ///< what the pulse programs say they were made from
  /// 1H decoupling (on unless the molecule observes or has a 1H channel; empty: none).
  std::optional<BrukerDecoupling> decouple = BrukerDecoupling{};
  ProbeLimits probe;
};

/// A gradient shape the export writes to lists/gp and names in GPNAM (so the area a console
/// plays is the one nmrc integrated, not a guess about the console's own file): 100 points in
/// the shape-file layout (amplitude %, phase 0).
///  - "nmrc_sine.100": a half sine, 100 sin(pi t_k), t_k = (k + 1/2)/100 (the profile of
///    Bruker's SINE.100), for GradientElement::shape_factor = 2/pi;
///  - "nmrc_smsq10.100": a smoothed rectangle, the first and last 10 points rising and falling
///    as 100 sin(pi/2 (k + 1/2)/10), 100 in between (the 10 % edges of Bruker's SMSQ10.100), for
///    every other gradient.
/// The console plays the area GPZ/100 x G(GPZ 100 %) x area_factor x duration, with
/// area_factor = shape_integfac of the file's points (its ##$SHAPE_INTEGFAC), so the export
/// writes GPZ = 100 G shape_factor / (G(100 %) area_factor): the model's area G shape_factor t.
struct BrukerGradientShape {
  std::string name;
  BrukerShape shape;
  double area_factor = 1.0;
};
BrukerGradientShape bruker_gradient_shape(bool sine);
/// The gradient shape a GradientElement of this shape factor is played with.
BrukerGradientShape bruker_gradient_shape_for(double shape_factor);

/// One experiment (one EXPNO): a flattened sequence whose last element is its acquisition.
struct BrukerExperimentInput {
  std::string name;  ///< pulse program name (PULPROG), also the EXPNO's title
  Sequence sequence;
  /// "file:line:col" of element k, for messages (empty: the name only).
  std::function<std::string(size_t)> locate;
  /// The first element of the readout: from it to the acquisition f2 is not switched (a
  /// switching statement between the readout pulses would be free evolution the tomography
  /// does not model): CW throughout when one of its elements is a shaped pulse CW would play
  /// (BrukerDecoupling::pulses "cw"), else the CPD program; the one switch back to the CPD
  /// program comes before go=2. Default (npos): the element just before the acquisition; the
  /// acquisition's index: none.
  size_t readout_from = static_cast<size_t>(-1);
};

struct ExportFile {
  std::string path;  ///< relative to the export folder
  std::string content;
};

struct BrukerExportResult {
  std::vector<ExportFile> files;
  std::vector<std::string> summary;  ///< one line per shape/experiment, for the CLI
  /// Per experiment (with 1H decoupling): what f2 plays, interval by interval.
  std::vector<std::vector<BrukerDecouplerStep>> decoupler;
};

/// Builds the export of `experiments` on `molecule` (all share its channels). Files:
/// lists/wave/<shape> (one per distinct shaped pulse, TopSpin layout, 100 % = the pulse's
/// largest nutation frequency), lists/pp/<name> (pulse program: shaped pulses
/// "(p11:sp1 ph0):f1", hard pulses with their own power level, delays, gradients
/// "p16:gp1" + d16 inside UNBLKGRAD/BLKGRAD, repeated blocks as "lo to N times k",
/// "go=2 ph31", phase lists, Bruker-style comment lines for every p, sp, spnam, d, gpz, gpnam),
/// lists/gp/<shape> (the gradient shapes played, see BrukerGradientShape),
/// <k>/acqu, <k>/acqus, <k>/pulseprogram (EXPNO k = 1, 2, ...), setup.mac (a TopSpin macro:
/// per experiment "re k", "rpar <options.rpar> all", then every value nmrc set: pulprog, td,
/// swh, o1, ns, ds, dN, pN, plwN (the levels nmrc set: PLW12 only with the 1H calibration),
/// spnamN/spwN/spoffsN, gpzN/gpnamN, o2/cpdprg2/pcpd2),
/// queue.mac (a TopSpin macro
/// running the experiments in turn) and README.txt.
/// With options.decouple, every experiment decouples 1H on f2 (NUC2 1H, BF2 = the molecule's
/// proton frequency, O2, CPDPRG2, PCPD2, PLW12; "cpds2:f2" before the first element, "do:f2"
/// after the acquisition), and with decouple->pulses "cw" switches to CW at PLW13 around the
/// long shaped pulses (BrukerDecoupling::pulses; every switching statement's 4 us is in the
/// sequence's timing). Every experiment's powers are checked against options.probe: the
/// largest level on f1 and f2 (PLW12, and PLW13 when CW is played), and each channel's energy
/// per scan (hard pulses PLW t, shapes SPW <A^2> t, the decoupler PLW12 for its time on the
/// CPD program plus PLW13 for its time on CW) over the scan's length (d11, d1, the sequence
/// with its gradient delays and switching statements, the acquisition TD/(2 SW), d11). The
/// summary carries one "power" line per experiment.
/// Throws InputError naming the element (locate(k)) for what a pulse program cannot play:
/// ideal rotations, uncompiled gates (UnitaryElement), a missing or non-final acquisition,
/// and for more shapes, pulses or delays than TopSpin's arrays hold; InputError with the
/// numbers for a power above a probe limit; InputError from console_text (core/jcamp.hpp) for
/// a name or text that cannot be written into a console file (a line break, "##", ...).
BrukerExportResult export_bruker(const std::vector<BrukerExperimentInput>& experiments,
                                 const Molecule& molecule, const BrukerExportOptions& options);

/// "file:line:col" of every element of the flattened sequence `load_program(path)` returns
/// (loops unrolled as the front end unrolls them), for BrukerExperimentInput::locate.
std::vector<std::string> program_element_locations(const std::string& program_path);

}  // namespace nmrc::compiler
