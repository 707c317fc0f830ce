// A Bruker export from files, as `nmrc export bruker INPUT... --out DIR` and
// nmrc.export_bruker(...) in Python both make it (docs/bruker.md): pulse programs (YAML, one
// experiment each, their gates from the folder nmrc compile wrote) and nmrc-pulse/1 files (one
// experiment: played in order, then acquired) assembled into export_bruker's experiments, and
// the resulting files written into a folder.
#pragma once

#include <string>
#include <vector>

#include "nmrc/compiler/bruker_export.hpp"

namespace nmrc::compiler {

struct BrukerExportInputs {
  /// Pulse programs (YAML) and nmrc-pulse/1 files (.json), in order.
  std::vector<std::string> inputs;
  std::string molecule;  ///< molecule YAML: required when the inputs are pulse files only
  std::string pulses;    ///< the programs' compiled gates (nmrc compile --out DIR)
  double sw_hz = 0.0;    ///< pulse files: acquisition width, Hz (0: the lines + 20 %, 1 kHz steps)
  int td = 16384;        ///< pulse files: complex points acquired (1 to 2^24)
};

/// The export of `inputs` (export_bruker on the experiments they make; options.source becomes
/// their file names). Throws InputError (file:line:col where known) for an input that cannot
/// be read or exported: a gate without its compiled pulse, a pulse or program for another
/// molecule, pulse files without a molecule, bad numbers (check_export_options, td).
BrukerExportResult export_bruker_inputs(const BrukerExportInputs& inputs,
                                        BrukerExportOptions options);

/// InputError for options no console takes: ns < 1, ds < 0.
void check_export_options(const BrukerExportOptions& options);

/// Stamps options.date and options.time (UTC): SOURCE_DATE_EPOCH when the environment sets it
/// (seconds since 1970, the reproducible-builds convention: two exports of the same inputs are
/// then the same bytes), else now.
void stamp_export_time(BrukerExportOptions& options);

/// Writes every file of `result` under out_dir (folders created, each file atomically,
/// core/io.hpp). Nothing is written before the whole export was computed.
void write_export_files(const BrukerExportResult& result, const std::string& out_dir);

}  // namespace nmrc::compiler
