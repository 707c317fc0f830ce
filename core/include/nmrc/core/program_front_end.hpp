// The one program front end (docs/program-format.md): the header every program kind shares
// (format, name, description, molecule, channel carriers; core/program_header.hpp) and the
// element language that fills
// the sequence IR (core/sequence.hpp): hard pulses, ideal rotations, delays, gradients, shaped
// pulses (nmrc-pulse/1 files, shape files), loops and acquisitions. Program kinds extend it:
// the compiler adds `gate` elements (compiler/program.hpp), acquisition programs add the sample
// and the acquisition settings (spectrometer/acquire_program.hpp). Every violation throws
// InputError "file:line:col: field = value: rule" before anything is run or written.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nmrc/core/molecule.hpp"
#include "nmrc/core/options.hpp"
#include "nmrc/core/program_header.hpp"
#include "nmrc/core/pulse_file.hpp"
#include "nmrc/core/sequence.hpp"
#include "nmrc/core/yaml_input.hpp"

namespace nmrc {

/// Reads a shape file for `shaped_pulse: {bruker: PATH, channel, duration_s, max_rf_hz}`:
/// amplitudes in % of max_rf_hz and phases in degrees, one point per step of duration_s/points.
/// Throws InputError. Supplied by the layer that reads Bruker shapes.
using ShapeFileReader = std::function<PulseData(const std::string& path, const std::string& channel,
                                                double duration_s, double max_rf_hz)>;

/// Largest number of elements a program may unroll to (loops included).
inline constexpr size_t kMaxProgramElements = 1000000;
/// Largest amount of work unrolling may take: one unit per element and per loop repetition,
/// so that loops with empty bodies (which add no element) are bounded too.
inline constexpr size_t kMaxProgramWork = 4 * kMaxProgramElements;
/// Largest number of shaped-pulse steps (summed over channels) a program may unroll to: a loop
/// around a long pulse copies its steps once per repetition (16 Mi steps = 256 MiB of doubles).
inline constexpr size_t kMaxProgramPulseSteps = size_t{1} << 24;

class ProgramFrontEnd {
 public:
  /// An element kind added by a program kind: called with the element's value (the mapping
  /// under its key) and the sequence being filled, once per loop repetition.
  using ElementHandler = std::function<void(const YamlField& field, Sequence& sequence)>;

  /// Reads the header of `root` with read_program_header: `format` (optional; must equal
  /// `format`), `name` (else the file's stem), `description`, `molecule` and `channels`.
  /// `kind_keys` are the program kind's own top-level keys; `elements` is always allowed.
  ProgramFrontEnd(const YamlField& root, const std::string& base_dir, const std::string& format,
                  const std::vector<std::string>& kind_keys);

  const ProgramHeader& header() const { return header_; }
  ProgramHeader& header() { return header_; }
  const Molecule& molecule() const { return header_.molecule; }

  void add_element(const std::string& kind, ElementHandler handler);
  void set_shape_reader(ShapeFileReader reader) { shape_reader_ = std::move(reader); }

  /// Parses a list of elements (each a mapping with one key) into `sequence`, unrolling loops.
  void parse_elements(const YamlField& list, Sequence& sequence) const;

  // Field readers shared with the extensions (each fails with the field's location).
  int spin(const YamlField& f) const;
  /// A spin name or a non-empty list of them.
  std::vector<int> spins(const YamlField& f) const;
  int channel(const YamlField& f) const;
  /// An angle given as <key>_rad or <key>_deg (not both); nullopt when absent and not required.
  static std::optional<double> angle(const YamlField& f, const std::string& key, bool required);
  /// The fields of an acquisition: channel, sw_hz (> 0), td (16..4194304 complex points),
  /// receiver_phase_deg / _rad; `kind_keys` are allowed beside them (acquisition settings).
  AcquireElement acquisition(const YamlField& f, const std::vector<std::string>& kind_keys) const;
  /// Throws `problem` at the YAML field that gave the value: its dotted path looked up in each
  /// of `maps` in turn (the closest first), else at `fallback`.
  [[noreturn]] static void fail_at(const OptionProblem& problem, const std::vector<YamlField>& maps,
                                   const YamlField& fallback);

 private:
  // The built-in element kinds: one table (name, allowed keys, reader) that the dispatch and
  // the list of known kinds in messages both read (program_front_end.cpp).
  struct BuiltinKind;
  static const std::vector<BuiltinKind>& builtin_kinds();
  void element(const YamlField& item, Sequence& sequence, int depth) const;
  // The built-in kinds' readers: `f` is the element's mapping, its keys already checked.
  void read_hard_pulse(const YamlField& f, Sequence& sequence, int depth) const;
  void read_rotation(const YamlField& f, Sequence& sequence, int depth) const;
  void read_delay(const YamlField& f, Sequence& sequence, int depth) const;
  void read_gradient(const YamlField& f, Sequence& sequence, int depth) const;
  void read_shaped_pulse(const YamlField& f, Sequence& sequence, int depth) const;
  void read_loop(const YamlField& f, Sequence& sequence, int depth) const;
  void read_acquire(const YamlField& f, Sequence& sequence, int depth) const;
  void check_long(const YamlField& where, const std::vector<int>& channels, double duration_s,
                  bool acknowledged) const;
  std::string known_kinds() const;

  ProgramHeader header_;
  std::map<std::string, ElementHandler> extensions_;
  ShapeFileReader shape_reader_;
  // Unrolling state of one parse_elements call: work done, steps unrolled, and each pulse or
  // shape file read once (a loop repeats the element, not the read).
  mutable size_t work_ = 0;
  mutable size_t pulse_steps_ = 0;
  mutable std::map<std::string, ShapedPulseElement> pulse_files_;
};

}  // namespace nmrc
