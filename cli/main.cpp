// nmrc: NMR pulse-sequence compiler and virtual spectrometer (command-line front end).
// Exit codes (docs/exit-codes.md): 0 success; 1 ran but a target was missed; 2 bad input;
// 3 internal error; 4 the machine refused (disk full, no permission, read-only, a symbolic
// link where nmrc writes, out of memory, gnuplot missing or killed); 130 / 143 stopped by
// SIGINT / SIGTERM.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <new>
#include <string>
#include <system_error>

#include "commands.hpp"
#include "mpi_team.hpp"
#ifdef NMRC_COMPILER_AVAILABLE
#include "nmrc/compiler/kernel_isa.hpp"
#endif
#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/text.hpp"

namespace {

// Under mpirun, ranks other than 0 stop quietly: rank 0 says it once, and mpirun ends the
// others with SIGTERM when rank 0 exits with a non-zero code (a missed target) first.
volatile std::sig_atomic_t g_stop_quietly = 0;

// SIGINT / SIGTERM: remove the temporaries of the write in progress, say what was kept, and end
// with 128 + the signal's number (the shell's convention). Only async-signal-safe calls.
extern "C" void on_stop_signal(int sig) {
  nmrc::remove_temporaries_in_progress();
  if (g_stop_quietly) ::_exit(128 + sig);
  const char* msg =
      sig == SIGINT
          ? "\nnmrc: stopped by SIGINT. Kept: every output file already written, each complete "
            "(files are written whole or not at all); the one being written was removed. Run "
            "the same command again to continue: finished experiment cases and cached pulses "
            "are reused.\n"
          : "\nnmrc: stopped by SIGTERM. Kept: every output file already written, each complete "
            "(files are written whole or not at all); the one being written was removed. Run "
            "the same command again to continue: finished experiment cases and cached pulses "
            "are reused.\n";
  const ssize_t ignored = ::write(STDERR_FILENO, msg, std::strlen(msg));
  (void)ignored;
  ::_exit(128 + sig);
}

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGINT);
  sigaddset(&sa.sa_mask, SIGTERM);
  for (int sig : {SIGINT, SIGTERM}) ::sigaction(sig, &sa, nullptr);
}

// Folders and files the user names for output are resolved once to their real path
// (nmrc::output_path): the user's own symbolic links are followed there, and nmrc follows none
// inside them (write_file_atomic).
void resolve_output_options(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    for (CLI::Option* opt : sub->get_options())
      for (const char* name : {"--out", "--bruker", "--json", "--lines-csv"})
        if (opt->check_lname(std::string(name).substr(2)))
          opt->transform([](std::string s) { return nmrc::output_path(s); }, "", "");
    resolve_output_options(*sub);
  }
}

// Resource errors carried by the standard library (std::filesystem, allocation).
bool is_resource_error(const std::system_error& e) {
  for (int err : {ENOSPC, EDQUOT, EACCES, EPERM, EROFS, EIO, ENOMEM, EMFILE, ENFILE})
    if (e.code() == std::errc(err) || e.code().value() == err) return true;
  return false;
}

constexpr int kExitResource = 4;

// The command's exit code, every error message printed by rank 0 only under mpirun (the ranks
// read the same input and fail alike) unless it is this rank's own (the machine, an internal
// error: with its rank). Errors other than bad input end every rank of the job: the others would
// wait for this one in their next collective.
int run_command(const nmrc::cli::Action& run) {
  const int rank = nmrc::cli::mpi_rank();
  const std::string who = rank == 0 ? "" : "rank " + std::to_string(rank) + ": ";
  auto fail = [&](int code, const std::string& line, bool own) {
    if (rank == 0 || own) std::fprintf(stderr, "%s%s\n", own ? who.c_str() : "", line.c_str());
    std::fflush(stderr);
    if (code != 2) nmrc::cli::abort_mpi(code);
    return code;
  };
  try {
    return run();
  } catch (const nmrc::InputError& e) {
    return fail(2, nmrc::escape_text(e.what()), false);
  } catch (const nmrc::ResourceError& e) {
    return fail(kExitResource, nmrc::escape_text(e.what()), true);
  } catch (const std::bad_alloc&) {
    return fail(kExitResource,
                "nmrc: out of memory (try a smaller problem or fewer threads; docs/limits.md)",
                true);
  } catch (const std::system_error& e) {
    if (is_resource_error(e))
      return fail(kExitResource, "nmrc: " + nmrc::escape_text(e.what()), true);
    return fail(3, "nmrc: internal error: " + nmrc::escape_text(e.what()) + " (please report this)",
                true);
  } catch (const std::exception& e) {
    return fail(3, "nmrc: internal error: " + nmrc::escape_text(e.what()) + " (please report this)",
                true);
  }
}

}  // namespace

int main_of_rank(int argc, char** argv);

int main(int argc, char** argv) {
  // Under mpirun (docs/mpi.md): MPI first; every rank parses the same command line, rank 0
  // alone prints (the others' standard output goes nowhere) and writes files.
  nmrc::cli::start_mpi();
  if (nmrc::cli::mpi_rank() != 0 && !std::freopen("/dev/null", "w", stdout)) return 4;
  const int code = main_of_rank(argc, argv);
  nmrc::cli::finish_mpi();
  return code;
}

int main_of_rank(int argc, char** argv) {
  CLI::App app{"nmrc: NMR pulse-sequence compiler and virtual spectrometer"};
  app.require_subcommand(1);
  // Global options (--quiet) are accepted after the sub-command too: sub-commands created
  // below inherit fallthrough and pass options they do not know to the parent.
  app.fallthrough();
#ifdef NMRC_COMPILER_AVAILABLE
  // The version and the instruction set of the GRAPE kernel in use (a portable build chooses it
  // at run time: baseline, avx2 or avx512).
  app.set_version_flag("--version", [] {
    return std::string("nmrc 0.1.0 (kernels: ") + nmrc::compiler::kernel_isa() + ")";
  });
#else
  app.set_version_flag("--version", "nmrc 0.1.0");
#endif
  // Where the documents that --help cites are (the Debian package's layout; man nmrc, FILES).
  app.footer(
      "Documents named docs/NAME.md are /usr/share/doc/nmrc/docs/NAME.md when nmrc is installed "
      "(docs/ in the source tree); molecules and programs are in /usr/share/nmrc; man nmrc.");
  nmrc::cli::GlobalOptions global;
  app.add_flag("-q,--quiet", global.quiet, "No progress output");
  global.team = nmrc::cli::mpi_team();
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
  resolve_output_options(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (nmrc::cli::mpi_rank() == 0)
      std::fprintf(stderr, "nmrc: %s (see nmrc --help)\n", nmrc::escape_text(e.what()).c_str());
    return 2;
  }
  if (!run) {
    if (nmrc::cli::mpi_rank() == 0)
      std::fprintf(stderr, "nmrc: no command given (see nmrc --help)\n");
    return 2;
  }
  if (global.team && !global.team_command) {
    if (nmrc::cli::mpi_rank() == 0)
      std::fprintf(stderr,
                   "nmrc: %s: runs as one process (mpirun -n N shares the work of nmrc compile "
                   "and nmrc experiment only; docs/mpi.md)\n",
                   app.get_subcommands().empty() ? "this command"
                                                 : app.get_subcommands()[0]->get_name().c_str());
    return 2;
  }
  if (nmrc::cli::mpi_rank() != 0) global.quiet = true;
  g_stop_quietly = nmrc::cli::mpi_rank() != 0;
  install_stop_handlers();
  // A cache is an optimisation: a cache that cannot be trusted or written is said once, and the
  // run goes on without it (nmrc/core/io.hpp).
  nmrc::set_cache_warning_handler([](const std::string& m) {
    // On a terminal the progress line is still open: the warning starts a line of its own.
    std::fprintf(stderr, "%snmrc: warning: %s\n", ::isatty(STDERR_FILENO) ? "\n" : "",
                 nmrc::escape_text(m).c_str());
    std::fflush(stderr);
  });
  return run_command(run);
}
