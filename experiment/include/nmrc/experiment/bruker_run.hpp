// One run of the experiment exported for a Bruker console (docs/bruker.md, "An experiment
// run"): the protocol of run_protocol (protocol.hpp) with every operation played by its compiled
// pulse, one TopSpin experiment (EXPNO) per readout setting and temporal-averaging experiment,
// through compiler::export_bruker (shapes, pulse programs, acqus, queue.mac, README), plus
// weights.csv saying how the FIDs combine.
#pragma once

#include <string>

#include "nmrc/compiler/bruker_export.hpp"
#include "nmrc/experiment/program.hpp"
#include "nmrc/experiment/protocol.hpp"
#include "nmrc/experiment/pulses.hpp"

namespace nmrc::experiment {

/// The export of the run that measures collision `collision` of case `c`. Every pulse comes from
/// `pulses` (shipped, cached, or compiled now under its mode, with the program's compile
/// settings and pulse lengths). EXPNO k = s E + i + 1 plays temporal-averaging experiment i
/// (0..E-1) and readout setting s (0..S-1): PPS steps (each operation's compiled pulse, then
/// its gradient), the bath rotation and its gradient, the experiment's pi pulses, U_d, the
/// contact pulses in the case's order, the setting's readout pulses, acquisition (the
/// program's TD and SW). A gradient stronger than options.gpz_max_g_per_cm is played at that
/// maximum for proportionally longer (the same area gamma G t, so the same coherence filter).
/// Throws InputError as run_protocol and export_bruker do, and for a missing pulse under
/// CompileMode::kNever.
/// A case name as TopSpin names (pulse programs, datasets) carry it: '.' -> 'p', '-' -> 'm'
/// (c_minus_0.5 -> c_minus_0p5).
std::string topspin_case_name(const std::string& case_name);

compiler::BrukerExportResult export_run_bruker(const ExperimentProgram& p, const CaseSpec& c,
                                               int collision, PulseLibrary& pulses,
                                               const compiler::BrukerExportOptions& options,
                                               const CompileProgress& progress = {});

}  // namespace nmrc::experiment
