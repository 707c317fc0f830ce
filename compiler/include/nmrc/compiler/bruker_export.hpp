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

#include "nmrc/core/molecule.hpp"
#include "nmrc/core/sequence.hpp"

namespace nmrc::compiler {

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
  int phase_sense = 1;             ///< see nmrc::ShapeFrame
  std::string date = "1970/01/01", time = "00:00:00";  ///< stamped into the shape files
  std::string source = "nmrc";  ///< what the pulse programs say they were made from
};

/// One experiment (one EXPNO): a flattened sequence whose last element is its acquisition.
struct BrukerExperimentInput {
  std::string name;  ///< pulse program name (PULPROG), also the EXPNO's title
  Sequence sequence;
  /// "file:line:col" of element k, for messages (empty: the name only).
  std::function<std::string(size_t)> locate;
};

struct ExportFile {
  std::string path;  ///< relative to the export folder
  std::string content;
};

struct BrukerExportResult {
  std::vector<ExportFile> files;
  std::vector<std::string> summary;  ///< one line per shape/experiment, for the CLI
};

/// Builds the export of `experiments` on `molecule` (all share its channels). Files:
/// lists/wave/<shape> (one per distinct shaped pulse, TopSpin layout, 100 % = the pulse's
/// largest nutation frequency), lists/pp/<name> (pulse program: shaped pulses
/// "(p11:sp1 ph0):f1", hard pulses with their own power level, delays, gradients
/// "p16:gp1" + d16 inside UNBLKGRAD/BLKGRAD, repeated blocks as "lo to N times k",
/// "go=2 ph31", phase lists, Bruker-style comment lines for every p, sp, spnam, d, gpz, gpnam),
/// <k>/acqu, <k>/acqus, <k>/pulseprogram (EXPNO k = 1, 2, ...), queue.mac (a TopSpin macro
/// running the experiments in turn) and README.txt.
/// Throws InputError naming the element (locate(k)) for what a pulse program cannot play:
/// ideal rotations, uncompiled gates (UnitaryElement), a missing or non-final acquisition,
/// and for more shapes, pulses or delays than TopSpin's arrays hold.
BrukerExportResult export_bruker(const std::vector<BrukerExperimentInput>& experiments,
                                 const Molecule& molecule, const BrukerExportOptions& options);

/// "file:line:col" of every element of the flattened sequence `load_program(path)` returns
/// (loops unrolled as the front end unrolls them), for BrukerExperimentInput::locate.
std::vector<std::string> program_element_locations(const std::string& program_path);

}  // namespace nmrc::compiler
