// The result files of an experiment program other than its figures (docs/experiment-format.md,
// "Output"): per case rho_m<M>.json and rho_system_m<M>.json (the reconstructed states),
// measurements.csv and summary.json; the program's summary.json. `nmrc experiment --out DIR`
// (which adds the figures, the table and TopSpin datasets) and nmrc.experiment(..., out=DIR)
// in Python both write them here.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "nmrc/experiment/program.hpp"
#include "nmrc/experiment/run.hpp"

namespace nmrc::experiment {

/// What a finished case's summary.json records of the settings it ran with: a case whose
/// summary has the same key (and "complete": true) is not run again (`nmrc experiment` resumes).
std::string settings_key(const ExperimentProgram& program, bool error_budget);

/// A case's summary.json (format nmrc-experiment-case/2). `error_budget`: the budget ran
/// (RunSettings::error_budget and the program's error_budget).
nlohmann::ordered_json case_summary(const ExperimentProgram& program, const CaseResult& result,
                                    bool error_budget);

/// A case's measurements.csv: one row per measured collision (collision 0 first).
std::string measurements_csv(const CaseResult& result);

/// Writes a case's rho_m<M>.json, rho_system_m<M>.json and measurements.csv into `dir`
/// (created), each atomically (core/io.hpp). Its summary.json is written last, by
/// write_case_summary: it marks the case complete.
void write_case_data(const std::string& dir, const ExperimentProgram& program,
                     const CaseResult& result);
/// The files write_case_data writes, as (file name, text) in the order it writes them (`mpirun
/// nmrc experiment`: a rank sends them to rank 0, which writes them).
std::vector<std::pair<std::string, std::string>> case_data_files(const ExperimentProgram& program,
                                                                 const CaseResult& result);
void write_case_summary(const std::string& dir, const nlohmann::ordered_json& summary);

/// The program's summary.json (format nmrc-experiment/2) from its cases' summaries, in order:
/// each case's headline keys and the verdicts summed over the cases. `figure`: the path of the
/// program's figure, recorded when not empty.
nlohmann::ordered_json program_summary(const ExperimentProgram& program,
                                       const std::vector<nlohmann::ordered_json>& cases,
                                       const std::string& figure);

/// Every file above for `results` (the cases of `program`, in order) under out_dir: what
/// nmrc.experiment(..., out=DIR) writes (no figure, so the program summary names none).
void write_experiment_files(const std::string& out_dir, const ExperimentProgram& program,
                            const std::vector<CaseResult>& results, bool error_budget);

}  // namespace nmrc::experiment
