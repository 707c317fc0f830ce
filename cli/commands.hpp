// Sub-command registration for the nmrc executable. Each command file adds its sub-command
// to the app and sets the shared `run` action when that sub-command is selected.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace nmrc::compiler {
class Team;
}

namespace nmrc::cli {

/// Options every command sees.
struct GlobalOptions {
  bool quiet = false;  ///< no progress output (also implied when stderr is not a terminal)
  /// Under mpirun with more than one process (cli/mpi_team.hpp): the processes of the job.
  compiler::Team* team = nullptr;
  /// Set by a command that shares its work with a team (nmrc compile); every other command
  /// refuses to run under mpirun -n N > 1.
  bool team_command = false;
};

/// The selected command's action; returns the process exit code (docs: 0, 1, 2, 3).
using Action = std::function<int()>;

void add_molecule_command(CLI::App& app, GlobalOptions& global, Action& run);
void add_theory_command(CLI::App& app, GlobalOptions& global, Action& run);
void add_tomography_command(CLI::App& app, GlobalOptions& global, Action& run);
/// compile and validate (compiler layer).
void add_compile_command(CLI::App& app, GlobalOptions& global, Action& run);
/// nmrc export bruker INPUT... --out DIR (cmd_export.cpp, compiler layer).
void add_export_command(CLI::App& app, GlobalOptions& global, Action& run);
#ifdef NMRC_SPECTROMETER_AVAILABLE
void add_acquire_command(CLI::App& app, GlobalOptions& global, Action& run);
/// nmrc prepare PROGRAM.yaml --out DIR (cmd_prepare.cpp).
void add_prepare_command(CLI::App& app, GlobalOptions& global, Action& run);
#endif
#ifdef NMRC_EXPERIMENT_AVAILABLE
/// nmrc experiment PROGRAM.yaml --out DIR (cmd_experiment.cpp).
void add_experiment_command(CLI::App& app, GlobalOptions& global, Action& run);
/// Channel and compile caches: $XDG_CACHE_HOME/nmrc, else ~/.cache/nmrc, else none ("").
std::string default_cache_dir();
#endif

}  // namespace nmrc::cli
