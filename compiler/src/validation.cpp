// Validation of compiled pulses: the target rebuilt from the pulse file's description, the
// pulse fitted to the molecule by the one set of rules (PulseData::element), then judged by the
// spectrometer (spectrometer/judge.hpp), which shares no code with GRAPE.
#include <map>
#include <memory>

#include "nmrc/compiler/compile.hpp"
#include "nmrc/core/error.hpp"

namespace nmrc::compiler {

ValidationResult validate_pulse(const CompiledPulse& pulse, const Molecule& molecule,
                                const ValidationOptions& options) {
  const std::string where = !pulse.source.empty() ? pulse.source
                            : pulse.name.empty()  ? std::string("pulse")
                                                  : pulse.name;
  const GateTarget target = target_from_json(pulse.target_json, molecule, where);
  const ShapedPulseElement e = pulse.element(molecule);  // the one set of rules for a molecule
  spectrometer::JudgeOptions jo;
  jo.b1_scale = pulse.b1_scale;
  jo.offset_hz = pulse.offset_hz;
  jo.fidelity_target = pulse.fidelity_target;
  jo.engine = options.engine;
  jo.relaxation = options.relaxation;
  jo.progress = options.progress;
  // The probe: the one each channel was compiled through (the file's probe_q), unless the
  // options name another for that channel.
  std::map<std::string, double> probe_q;
  for (const auto& c : pulse.channels)
    if (c.probe_q > 0) probe_q[c.name] = c.probe_q;
  for (const auto& [name, q] : options.probe_q) probe_q[name] = q;
  jo.probe.resize(molecule.channels.size());
  for (const auto& [name, q] : probe_q) {
    const int c = molecule.channel_index(name);
    if (c < 0) throw InputError(where + ": probe_q." + name + ": unknown channel");
    jo.probe[c] =
        std::make_shared<spectrometer::ResonatorDistortion>(q, molecule.channels[c].larmor_mhz);
  }
  const int n = molecule.size();
  ValidationResult r = spectrometer::judge_pulse(
      molecule, e, {target.full(n), target.norm(n), !target.state_transfer, target.diagonal_phases},
      jo);
  r.name = pulse.name;
  return r;
}

}  // namespace nmrc::compiler
