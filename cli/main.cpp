// nmrc: NMR pulse-sequence compiler and virtual spectrometer (command-line front end).
// Exit codes: 0 success; 1 ran but a target was missed; 2 bad input; 3 internal error.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "commands.hpp"
#include "nmrc/core/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"nmrc: NMR pulse-sequence compiler and virtual spectrometer"};
  app.require_subcommand(1);
  // Global options (--quiet) are accepted after the sub-command too: sub-commands created
  // below inherit fallthrough and pass options they do not know to the parent.
  app.fallthrough();
  app.set_version_flag("--version", "nmrc 0.1.0");
  nmrc::cli::GlobalOptions global;
  app.add_flag("-q,--quiet", global.quiet, "No progress output");
  nmrc::cli::Action run;
  nmrc::cli::add_molecule_command(app, global, run);
#ifdef NMRC_THERMO_AVAILABLE
  nmrc::cli::add_theory_command(app, global, run);
#endif
  nmrc::cli::add_tomography_command(app, global, run);
#ifdef NMRC_COMPILER_AVAILABLE
  nmrc::cli::add_compile_command(app, global, run);
  nmrc::cli::add_export_command(app, global, run);
#endif
#ifdef NMRC_SPECTROMETER_AVAILABLE
  nmrc::cli::add_acquire_command(app, global, run);
  nmrc::cli::add_prepare_command(app, global, run);
#endif
#ifdef NMRC_EXPERIMENT_AVAILABLE
  nmrc::cli::add_experiment_command(app, global, run);
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "nmrc: %s (see nmrc --help)\n", e.what());
    return 2;
  }
  if (!run) {
    std::fprintf(stderr, "nmrc: no command given (see nmrc --help)\n");
    return 2;
  }
  try {
    return run();
  } catch (const nmrc::InputError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nmrc: internal error: %s (please report this)\n", e.what());
    return 3;
  }
}
