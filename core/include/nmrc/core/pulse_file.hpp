// Shaped pulses as data, and the one reader and writer of `nmrc-pulse/1` files
// (docs/program-format.md, "Pulse files"). Every input that brings a shaped pulse into nmrc
// produces a PulseData: the JSON reader here, and (later) a Bruker shape file with a channel, a
// duration and the RF amplitude of 100 %. One set of rules then decides whether a pulse fits a
// molecule (PulseData::element). Malformed input throws InputError "file: field = value: rule"
// ("file:line:col: ..." for JSON syntax errors); a JSON type error never escapes as another
// exception. Keys this layer does not know are ignored (other tools may add their own).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nmrc/core/molecule.hpp"
#include "nmrc/core/sequence.hpp"
#include "nmrc/core/types.hpp"

namespace nmrc {

/// One RF channel of a pulse: piecewise-constant u_x, u_y in Hz (docs/conventions.md).
struct PulseChannel {
  std::string name;                  ///< channel name of the molecule file, e.g. "13C"
  std::optional<double> carrier_hz;  ///< frame the pulse was made in; absent: the molecule's
  double max_rf_hz = 0.0;            ///< RF limit the pulse was made for; 0: not recorded
  RVec ux_hz, uy_hz;                 ///< equal, non-zero lengths
  std::string location;              ///< "file:line:col" of the channel when read from a file
  /// Loaded Q of the probe (a tuned resonator at the channel's Larmor frequency,
  /// spectrometer::ResonatorDistortion) the pulse was compiled through (compile option
  /// probe_q); `nmrc validate` and a program's judge play the pulse through it. 0: none.
  double probe_q = 0.0;
};

/// The 1H decoupler a pulse was compiled with in GRAPE's model (compile option `decoupler`,
/// docs/program-format.md): the sequence, its amplitude B2 and carrier O2 on the decoupled
/// channel of the heteronuclear molecule named, and GRAPE's minimum fidelity over the ensemble
/// crossed with that decoupler's residual configurations. The pulse's `fidelity` record stays
/// the one of the file's molecule (decoupling perfect), which the judge re-simulates.
struct PulseDecoupler {
  std::string sequence;       ///< e.g. "cw"
  std::string channel;        ///< the heteronuclear molecule's decoupled channel, e.g. "1H"
  std::string molecule;       ///< the heteronuclear molecule's name (its J_CH)
  double b2_hz = 0.0;         ///< decoupler nutation frequency, in (0, kMaxDecouplerB2Hz]
  double o2_ppm = 0.0;        ///< decoupler carrier, ppm on the decoupled channel
  int configurations = 0;     ///< residual configurations crossed with the ensemble
  double fidelity_min = 0.0;  ///< GRAPE's minimum over B1 x offsets x configurations
};

/// A shaped pulse and, when it was compiled, what it implements and how well. The record of a
/// compiled pulse (compiler::CompiledPulse is this type).
struct PulseData {
  std::string name;      ///< default: the file's stem
  std::string molecule;  ///< molecule it was made for; empty: not recorded (any molecule)
  double dt_s = 0.0;
  std::vector<PulseChannel> channels;
  /// The file's "target" object as compact JSON text, empty when absent. Its meaning belongs to
  /// the compiler (compiler::target_from_json); this layer only carries it.
  std::string target_json;
  /// fidelity: F as defined by `fidelity_definition` (empty: no fidelity record), at nominal
  /// B1, the goal it was compiled for, and per ensemble member (b1_scale x offset_hz).
  std::string fidelity_definition;
  double fidelity_nominal = 0.0;
  double fidelity_target = 0.995;
  std::vector<double> b1_scale{1.0}, offset_hz{0.0}, ensemble_values;
  double ensemble_min = 0.0;
  /// The decoupler in GRAPE's model when the pulse was compiled with one (absent: none).
  std::optional<PulseDecoupler> decoupler;
  /// Where the pulse came from (its file), for messages; set by the readers.
  std::string source;
  /// "file:line:col" of the file's "molecule" and "target" values, for messages (empty when
  /// the pulse was not read from a file or the key is absent; then `source` stands for both).
  std::string molecule_location, target_location;
  /// Prefix for a message about the target: target_location, else source, else name.
  std::string target_where() const {
    return !target_location.empty() ? target_location : !source.empty() ? source : name;
  }

  double duration_s() const { return channels.empty() ? 0.0 : dt_s * channels[0].ux_hz.size(); }
  /// The pulse as a sequence element for `molecule`, under the one set of rules for running a
  /// pulse on a molecule: the recorded molecule (if any) is this one; every channel is one of
  /// its channels, at its carrier (1e-9 Hz), and no step's amplitude sqrt(u_x^2 + u_y^2)
  /// exceeds that channel's max_rf_hz (1e-9 relative). Throws InputError "name: field: rule"
  /// (name: the pulse's source file when read from one).
  ShapedPulseElement element(const Molecule& molecule) const;
};

/// Largest number of steps a pulse file may hold per channel: 1 Mi (1048576, the limit of a
/// TopSpin shape file too; 16 MiB of amplitudes per channel; docs/limits.md).
inline constexpr long kMaxPulseSteps = 1L << 20;
/// Largest recorded ensemble (B1 scales x offsets) of a pulse file: the compiler's own bound
/// (compiler::kMaxEnsembleMembers); `nmrc validate` re-simulates every member, so a file listing
/// 200,000 B1 values would keep it busy for minutes.
inline constexpr std::size_t kMaxPulseEnsembleMembers = 1000;

/// Largest loaded Q of a recorded probe (the compile option probe_q's bound).
inline constexpr double kMaxProbeQ = 100000.0;

/// Bounds of a recorded decoupler (PulseDecoupler): B2 at most 1 MHz, O2 within 1000 ppm, at
/// most 4096 residual configurations (12 decoupled spins).
inline constexpr double kMaxDecouplerB2Hz = 1e6;
inline constexpr double kMaxDecouplerO2Ppm = 1000.0;
inline constexpr int kMaxDecouplerConfigurations = 4096;

/// Parses nmrc-pulse/1 JSON text; `where` names the file in messages and gives the default name.
/// Rules: `format` "nmrc-pulse/1"; `dt_s` > 0; `channels` a non-empty object of channels with
/// `ux_hz`, `uy_hz` (finite numbers, equal non-zero lengths, the same on every channel, at most
/// kMaxPulseSteps), optional `carrier_hz` (finite) and `max_rf_hz` (> 0); optional `name`,
/// `molecule` (strings), `duration_s` (= steps * dt_s), per channel `probe_q` (in (0, kMaxProbeQ]),
/// `target` (an object), `decoupler` (`sequence`, `channel`, `molecule` names, `b2_hz` in
/// (0, kMaxDecouplerB2Hz], `o2_ppm` within kMaxDecouplerO2Ppm, `configurations` 1 to
/// kMaxDecouplerConfigurations, `fidelity_min` in [0, 1]), `fidelity`
/// (`definition` string, `nominal` and `ensemble.values`/`min` finite numbers, `target` in
/// (0, 1], `ensemble.b1_scale` > 0, `ensemble.offset_hz` finite). Throws InputError.
PulseData parse_pulse_json(const std::string& text, const std::string& where);
/// Reads an nmrc-pulse/1 file (parse_pulse_json with the path as `where`).
PulseData read_pulse_file(const std::string& path);
/// The nmrc-pulse/1 file text of a pulse (JSON, one space indent, keys sorted, newline at the
/// end): what read_pulse_file reads back exactly (doubles round-trip).
std::string pulse_file_text(const PulseData& pulse);

}  // namespace nmrc
