// The compiled pulses an experiment needs: found among the shipped pulses of the program's
// `compiled` directory (matched by target and length, not by name), else compiled on first use
// through the compiler (compile_target with its cache) and written there with provenance (program
// hash, nmrc version, fidelities), so that the next run on any machine needs no GRAPE.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nmrc/compiler/compile.hpp"
#include "nmrc/core/molecule.hpp"

namespace nmrc::experiment {

enum class CompileMode {
  kAuto,       ///< shipped or cached pulse if there is one, else GRAPE
  kRecompile,  ///< always GRAPE (no cache); written beside the shipped file (NAME_KEY.json)
  kNever       ///< refuse to compile: a missing pulse is an InputError
};

/// One pulse the experiment needs.
struct PulseNeed {
  /// e.g. swap_c1_c4, ud_c_0_m5; a compiled pulse is written as NAME_KEY.json, KEY the first 8
  /// hex digits of its compile key (what it implements), never over another file.
  std::string name;
  std::string kind;       ///< pulse-length class (program `pulses:`), e.g. "ud", "swap C1-C4"
  nlohmann::json target;  ///< compiler target description (target_from_json)
  std::string purpose;    ///< for messages: "contact S1-R of case c_0"
};

struct PulseRecord {
  compiler::CompiledPulse pulse;
  std::string file;
  bool compiled_now = false;
  double seconds = 0.0;
};

/// Progress of a compile: (pulse name, evaluations, best ensemble-minimum fidelity).
using CompileProgress = std::function<void(const std::string&, int, double)>;

class PulseLibrary {
 public:
  /// Indexes every nmrc-pulse/1 file of `compiled_dir` (unreadable ones are skipped).
  PulseLibrary(const Molecule& m, std::string compiled_dir, std::string cache_dir, CompileMode mode,
               nlohmann::json provenance);
  /// The pulse for `need` (see the class comment): of the shipped pulses with its target and
  /// the length `options` asks for (duration_s and steps: pulse_compile_options of the need's
  /// kind; a pulse of another length never serves), the one with the highest ensemble-minimum
  /// fidelity (a pulse compiled up to diagonal phases only for a need that allows them). With
  /// `required_fidelity` > 0 (a kind whose
  /// program sets fidelity_target) only a pulse compiled for at least that goal (its file's
  /// fidelity.target) counts; otherwise the target is compiled (kAuto) or refused (kNever). Throws
  /// InputError for kNever and a missing pulse, naming the pulse and its purpose.
  const PulseRecord& get(const PulseNeed& need, const compiler::CompileOptions& options,
                         const CompileProgress& progress = {}, double required_fidelity = 0.0);
  /// The target of a need (16 x 16 ideal unitary on the molecule with identity elsewhere).
  Mat ideal_unitary(const PulseNeed& need) const;
  const std::map<std::string, PulseRecord>& used() const { return used_; }

 private:
  const Molecule& m_;
  std::string dir_, cache_dir_;
  CompileMode mode_;
  nlohmann::json provenance_;
  std::vector<PulseRecord> shipped_;
  std::vector<Mat> shipped_full_;
  std::vector<bool> shipped_diagonal_phases_;  ///< compiled up to diagonal phases (W D)
  std::map<std::string, PulseRecord> used_;
};

}  // namespace nmrc::experiment
