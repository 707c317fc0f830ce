// The result files of a theory program other than its figures (docs/theory-format.md, "Output"):
// per trajectory run steps.csv, directions.csv, summary.json and, when asked,
// master_equation.csv, convergence.csv and convergence.md; per sweep run sweep.csv and
// summary.json; the program's summary.json. `nmrc theory --out DIR` (which adds the figures)
// and nmrc.theory(..., out=DIR) in Python both write them here, so the files are the same.
#pragma once

#include <string>
#include <vector>

#include "nmrc/thermo/analysis.hpp"
#include "nmrc/thermo/program.hpp"

namespace nmrc::thermo {

/// Writes the files of `results` (of `program`, in its order; each result's spec names its
/// run) into out_dir/<run name>/ and out_dir/summary.json, creating the folders; every file
/// atomically (core/io.hpp). Throws ResourceError when a folder or file cannot be written.
void write_theory_files(const TheoryProgram& program, const std::vector<RunResult>& results,
                        const std::string& out_dir);

/// steps.csv of a trajectory run: one row per step (step 0 the initial state).
std::string steps_csv(const RunSpec& run, const Trajectory& trajectory);

}  // namespace nmrc::thermo
