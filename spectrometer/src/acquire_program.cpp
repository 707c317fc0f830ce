#include "nmrc/spectrometer/acquire_program.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "nmrc/core/error.hpp"
#include "nmrc/core/limits.hpp"
#include "nmrc/core/program_front_end.hpp"
#include "nmrc/core/yaml_choice.hpp"
#include "nmrc/core/yaml_input.hpp"
#include "nmrc/spectrometer/gradient_input.hpp"

namespace nmrc::spectrometer {

namespace {

constexpr double kDeg = kPi / 180.0;

AcquireProgram parse(const YamlField& root, const std::string& base_dir) {
  ProgramFrontEnd fe(root, base_dir, "nmrc-acquire/1", {"sample", "acquisition"});
  AcquireProgram p;
  p.path = root.file();
  p.molecule_path = fe.header().molecule_path;
  p.sample.molecule = fe.molecule();
  const Molecule& m = p.sample.molecule;

  if (auto s = root.find("sample")) {
    s->expect_map();
    s->allow_keys({"relaxation", "strong_coupling", "engine", "b1", "offset_error_hz", "gradient"});
    if (auto r = s->find("relaxation")) p.sample.relaxation = r->as_bool();
    if (auto r = s->find("strong_coupling")) p.sample.strong_coupling = r->as_bool();
    if (auto e = s->find("engine"))
      p.run.engine =
          yaml_choice<Engine>(*e, {{"exact", Engine::kExact}, {"odeint", Engine::kOdeint}});
    if (auto b = s->find("b1")) {
      b->expect_map();
      b->allow_keys({"scale", "weights"});
      const YamlField sc = b->at("scale");
      p.sample.b1_scale = sc.as_double_list();
      if (p.sample.b1_scale.empty()) sc.fail("must list at least one value");
      if (p.sample.b1_scale.size() > 1000)
        sc.fail("lists " + std::to_string(p.sample.b1_scale.size()) +
                " B1 scales, more than the limit of 1000 (each is a full simulation; "
                "docs/limits.md)");
      for (double v : p.sample.b1_scale)
        if (!(v > 0.0 && v <= 10.0)) sc.fail("every B1 scale must be > 0 and at most 10");
      p.sample.b1_weight.assign(p.sample.b1_scale.size(), 1.0);
      if (auto w = b->find("weights")) {
        p.sample.b1_weight = w->as_double_list();
        if (p.sample.b1_weight.size() != p.sample.b1_scale.size())
          w->fail("must have one weight per scale value (" +
                  std::to_string(p.sample.b1_scale.size()) + ")");
        double sum = 0.0;
        for (double v : p.sample.b1_weight) {
          if (!(v >= 0.0)) w->fail("weights must be >= 0");
          sum += v;
        }
        if (!(sum > 0.0)) w->fail("weights must not all be zero");
      }
    }
    if (auto o = s->find("offset_error_hz")) {
      o->expect_map();
      p.sample.offset_error_hz.assign(m.size(), 0.0);
      for (const auto& [name, v] : o->entries()) {
        const int k = m.index_of(name);
        if (k < 0) v.fail("unknown spin " + name + " (known: " + m.labels_text() + ")");
        p.sample.offset_error_hz[k] = v.as_double(-limits::kMaxOffsetHz, limits::kMaxOffsetHz);
      }
    }
    if (auto g = s->find("gradient")) {
      g->expect_map();
      g->allow_keys({"mode", "slices", "length_cm"});
      read_gradient_options(*g, p.sample.gradient);
    }
  }

  fe.add_element("acquire", [](const YamlField& f, Sequence&) {
    f.fail("an acquisition program acquires once, as its acquisition: block says");
  });
  fe.parse_elements(root.at("elements"), p.sequence);
  p.sequence.name = fe.header().name;

  // The acquisition: the front end's acquire fields plus this program kind's settings.
  const YamlField acq = root.at("acquisition");
  AcquireElement a = fe.acquisition(acq, {"scans", "phase_cycle", "snr", "seed", "processing"});
  const YamlField sw = acq.at("sw_hz");
  const YamlField td = acq.at("td");
  if (auto s = acq.find("scans")) p.acquisition.scans = static_cast<int>(s->as_int(1, 1000000));
  if (auto c = acq.find("phase_cycle"))
    p.acquisition.phase_cycle = yaml_choice<PhaseCycle>(
        *c, {{"none", PhaseCycle::kNone}, {"cyclops", PhaseCycle::kCyclops}});
  if (auto s = acq.find("snr")) p.acquisition.snr = s->as_nonnegative();
  if (auto s = acq.find("seed")) {
    p.acquisition.seed = static_cast<std::uint64_t>(s->as_int(0, limits::kMaxSeed));
  }
  // The acquisition's own rules (AcquisitionOptions::check), placed at the field that broke one.
  if (const auto problem = p.acquisition.check()) ProgramFrontEnd::fail_at(*problem, {acq}, acq);
  std::vector<YamlField> processing;
  if (auto pr = acq.find("processing")) {
    pr->expect_map();
    pr->allow_keys({"zero_fill", "lb_hz", "gb_hz", "phase0_deg", "phase1_deg"});
    if (auto z = pr->find("zero_fill")) {
      // 0 would mean "none" in ProcessingOptions; written in a program it is a mistake.
      p.processing.zero_fill = static_cast<int>(z->as_int(1, 1L << 24));
    }
    if (auto v = pr->find("lb_hz")) p.processing.lb_hz = v->as_nonnegative();
    if (auto v = pr->find("gb_hz")) p.processing.gb_hz = v->as_nonnegative();
    if (auto v = pr->find("phase0_deg")) p.processing.phase0_rad = v->as_double() * kDeg;
    if (auto v = pr->find("phase1_deg")) p.processing.phase1_rad = v->as_double() * kDeg;
    processing.push_back(*pr);
  }
  if (p.processing.zero_fill == 0 && (a.td & (a.td - 1)) != 0)
    td.fail("must be a power of two for the FFT unless processing.zero_fill is set");
  if (const auto problem = p.processing.check(a.td))
    ProgramFrontEnd::fail_at(*problem, processing, acq);
  const auto folds = folded_lines(m, a.channel, a.sw_hz);
  if (!folds.empty()) {
    // Say which lines fold, grouped by spin: "C1 lines 1-8 (5743.3..5823.9 Hz -> -4256.7..)".
    std::string list;
    double fmax = 0.0;
    for (const int k : m.spins_on(a.channel)) {
      int first = 0, last = 0, idx = 0;
      double lo = 0, hi = 0, flo = 0, fhi = 0;
      for (const auto& l : m.lines()) {
        if (l.spin != k) continue;
        ++idx;
        const double f = l.frequency_hz;
        fmax = std::max(fmax, std::abs(f));
        if (f >= -0.5 * a.sw_hz && f < 0.5 * a.sw_hz) continue;
        const double folded = f - a.sw_hz * std::floor((f + 0.5 * a.sw_hz) / a.sw_hz);
        if (first == 0) {
          first = idx;
          lo = f;
          flo = folded;
        }
        last = idx;
        hi = f;
        fhi = folded;
      }
      if (first == 0) continue;
      list += (list.empty() ? "" : "; ") + m.nuclei[k].label + " lines " + std::to_string(first) +
              "-" + std::to_string(last) + " at " + fmt::format("{:.1f}", lo) + ".." +
              fmt::format("{:.1f}", hi) + " Hz fold to " + fmt::format("{:.1f}", flo) + ".." +
              fmt::format("{:.1f}", fhi) + " Hz";
    }
    sw.fail("too small: " + std::to_string(folds.size()) + " lines fold (" + list +
            "); use sw_hz > " + fmt::format("{:.0f}", 2.0 * fmax + 200.0));
  }
  p.sequence.elements.push_back(a);
  p.sample.validate();
  return p;
}

}  // namespace

AcquireProgram load_acquire_program(const std::string& path) {
  const std::string base = std::filesystem::path(path).parent_path().string();
  return parse(YamlField::load_file(path), base);
}

AcquireProgram parse_acquire_program(const std::string& text, const std::string& name,
                                     const std::string& base_dir) {
  return parse(YamlField::load_string(text, name), base_dir);
}

AcquireRun run_acquire_program(const AcquireProgram& p, const Fid* recorded,
                               const std::function<void(const std::string&)>& progress) {
  const Molecule& m = p.sample.molecule;
  AcquireRun out;
  out.thermal = thermal_equilibrium(m);
  if (progress)
    progress("simulating " + std::to_string(p.sequence.elements.size()) + " elements on " +
             std::to_string(p.sample.b1_scale.size()) + " B1 member(s)");
  out.result = run_experiment(p.sample, p.sequence, out.thermal.rho, p.acquisition, p.run);
  if (recorded) out.result.fid = *recorded;
  if (progress) progress("processing and fitting lines");
  out.spectrum = process(m, out.result.fid, p.processing);
  LineFitOptions lo;
  lo.offset_error_hz = p.sample.offset_error_hz;
  out.fit = measure_lines(m, out.result.fid, lo);
  out.truth = measure_lines(m, out.result.rho_acquired, out.result.fid.channel);
  return out;
}

}  // namespace nmrc::spectrometer
