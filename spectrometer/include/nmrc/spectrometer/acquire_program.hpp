// Acquisition programs for `nmrc acquire` (format: docs/acquire-format.md): a molecule, the
// sample (relaxation, B1 ensemble, offsets, gradient mode), a list of elements (hard pulses,
// ideal rotations, delays, gradients, shaped pulses from nmrc-pulse/1 JSON files) and the
// acquisition and processing parameters. Everything is validated at load time; each violation
// throws InputError "file:line:col: field = value: rule". The general pulse-program language
// of the compiler (docs/program-format.md) is separate.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "nmrc/core/molecule.hpp"
#include "nmrc/core/sequence.hpp"
#include "nmrc/spectrometer/acquisition.hpp"
#include "nmrc/spectrometer/dynamics.hpp"
#include "nmrc/spectrometer/lines.hpp"
#include "nmrc/spectrometer/sample.hpp"

namespace nmrc::spectrometer {

struct AcquireProgram {
  std::string path;           ///< the program file
  std::string molecule_path;  ///< resolved relative to the program file
  Sample sample;
  Sequence sequence;  ///< ends with the AcquireElement
  AcquisitionOptions acquisition;
  ProcessingOptions processing;
  RunOptions run;
};

/// Loads and validates an acquisition program (and the molecule and pulse files it names).
AcquireProgram load_acquire_program(const std::string& path);
/// Same from text; `name` stands for the file name, relative paths resolve against base_dir.
AcquireProgram parse_acquire_program(const std::string& text, const std::string& name,
                                     const std::string& base_dir);

/// What `nmrc acquire` computes from a program (nmrc.acquire in Python likewise).
struct AcquireRun {
  ThermalState thermal;     ///< the starting state
  ExperimentResult result;  ///< result.fid is the recorded FID when one was given
  Spectrum spectrum;        ///< result.fid processed with the program's processing options
  LineReadout fit;          ///< the lines fitted in result.fid
  LineReadout truth;        ///< the lines of the simulated acquired state, for comparison
};

/// Runs an acquisition program: thermal equilibrium, the sequence on the sample, processing and
/// line fits. With `recorded` (a TopSpin FID read by the caller), that FID replaces the simulated
/// one for processing and fitting; the simulation stays as the prediction (`truth`).
/// `progress`, when set, is told each stage as it begins.
AcquireRun run_acquire_program(const AcquireProgram& program, const Fid* recorded = nullptr,
                               const std::function<void(const std::string&)>& progress = {});

}  // namespace nmrc::spectrometer
