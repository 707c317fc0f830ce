#include "nmrc/spectrometer/tomography_run.hpp"

#include <cmath>
#include <filesystem>
#include <random>

#include "nmrc/core/error.hpp"
#include "nmrc/core/hermitian_eigen.hpp"
#include "nmrc/core/information.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/limits.hpp"
#include "nmrc/core/matrix_json.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/program_header.hpp"
#include "nmrc/core/random_states.hpp"
#include "nmrc/core/states.hpp"
#include "nmrc/core/yaml_choice.hpp"
#include "nmrc/core/yaml_input.hpp"
#include "nmrc/spectrometer/acquisition.hpp"
#include "nmrc/spectrometer/bruker_dataset.hpp"
#include "nmrc/spectrometer/lines.hpp"

namespace nmrc::spectrometer {

namespace {

Mat random_state(int dim, int rank, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  return random_density_matrix(dim, rank, gen);
}

// The rules name the place in the state file itself (file:line:col); an unreadable file is
// placed at the program's `file:` field.
Mat state_from_json(const YamlField& where, const std::string& path, int dim) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const InputError& e) {
    where.fail(std::string("state file: ") + e.what());
  }
  return matrix_from_json(text, {dim, /*imag_optional=*/true, path},
                          [](const std::string& rule) { throw InputError(rule); });
}

}  // namespace

double default_sw_hz(const Molecule& m) {
  double fmax = 0.0;
  for (const auto& l : m.lines()) fmax = std::max(fmax, std::abs(l.frequency_hz));
  return std::ceil(2.5 * fmax / 100.0) * 100.0;
}

double tomography_noise_sigma(int n, double snr) { return snr > 0.0 ? n / snr : 0.0; }

namespace {
// A program from its YAML root: `source` names it; `anchor` is a file in the folder that
// relative paths resolve against (resolve_path's program_file).
TomographyProgram parse_tomography(const YamlField& root, const std::string& source,
                                   const std::string& anchor);
}  // namespace

TomographyProgram load_tomography_program(const std::string& path) {
  return parse_tomography(YamlField::load_file(path), path, path);
}

TomographyProgram parse_tomography_program(const std::string& text, const std::string& name,
                                           const std::string& base_dir) {
  return parse_tomography(YamlField::load_string(text, name), name,
                          (std::filesystem::path(base_dir) / "program").string());
}

namespace {
TomographyProgram parse_tomography(const YamlField& root, const std::string& source,
                                   const std::string& path) {
  // The header: a required name and the molecule (no format or description).
  ProgramHeader header = read_program_header(
      root, std::filesystem::path(path).parent_path().string(),
      {.format = {}, .name = HeaderRules::Name::kRequired, .description = false},
      {"readout", "complete_readout", "state", "lines", "acquisition", "study"});
  TomographyProgram p;
  p.source_file = source;
  p.name = header.name;
  const YamlField mol = root.at("molecule");
  const std::string& base_dir = header.base_dir;
  p.molecule = std::move(header.molecule);
  const int n = p.molecule.size();
  const int dim = 1 << n;
  if (n > 6) mol.fail("tomography supports up to 6 spins (4^n - 1 parameters)");
  p.readout = load_readout(root.at("readout").as_input_file(base_dir), p.molecule);
  if (auto c = root.find("complete_readout")) p.add_proposed = c->as_bool();

  const YamlField st = root.at("state");
  st.expect_map();
  st.allow_keys({"random", "file", "description"});
  if (auto d = st.find("description")) p.state_description = d->as_string();
  if (st.has("random") == st.has("file")) st.fail("give exactly one of random or file");
  if (auto r = st.find("random")) {
    r->expect_map();
    r->allow_keys({"seed", "rank"});
    const long seed = r->has("seed") ? r->at("seed").as_int(0, limits::kMaxSeed) : 1;
    long rank = dim;
    if (auto rk = r->find("rank")) {
      rank = rk->as_int(1, dim);
    }
    p.true_state = random_state(dim, static_cast<int>(rank), static_cast<std::uint64_t>(seed));
    if (p.state_description.empty())
      p.state_description = "random state (Ginibre, rank " + std::to_string(rank) + ", seed " +
                            std::to_string(seed) + ")";
  } else {
    const YamlField f = st.at("file");
    p.true_state = state_from_json(f, resolve_path(path, f.as_string()), dim);
    if (p.state_description.empty()) p.state_description = "state from " + f.as_string();
  }
  const StateCheck chk = validate_density_matrix(p.true_state, 1e-9);
  if (!chk.ok) st.fail("not a physical state: " + chk.message);

  if (auto l = root.find("lines"))
    p.lines = yaml_choice<LineSource>(
        *l, {{"ideal", LineSource::kIdeal}, {"spectrometer", LineSource::kSpectrometer}});
  p.sw_hz = default_sw_hz(p.molecule);
  if (auto a = root.find("acquisition")) {
    a->expect_map();
    a->allow_keys({"sw_hz", "td", "snr", "seed"});
    if (auto sw = a->find("sw_hz")) {
      p.sw_hz = sw->as_positive(limits::kMaxSpectralWidthHz);
      const auto folds = folded_lines(p.molecule, 0, p.sw_hz);
      if (!folds.empty())
        sw->fail("spectral width too small, " + std::to_string(folds.size()) +
                 " lines fold (first: " + folds.front() + "); use at least " +
                 std::to_string(static_cast<int>(default_sw_hz(p.molecule))) + " Hz");
    }
    if (auto td = a->find("td")) {
      const long v = td->as_int(64, 1L << 22);
      if ((v & (v - 1)) != 0) td->fail("must be a power of two >= 64");
      p.td = static_cast<int>(v);
    }
    if (auto s = a->find("snr")) p.snr = s->as_nonnegative();
    if (auto s = a->find("seed"))
      p.seed = static_cast<std::uint64_t>(s->as_int(0, limits::kMaxSeed));
  }
  if (auto s = root.find("study")) {
    s->expect_map();
    s->allow_keys({"snr", "repeats"});
    const YamlField snr = s->at("snr");
    if (snr.is_sequence() && snr.node().size() > 100)
      snr.fail("lists " + std::to_string(snr.node().size()) +
               " SNR values, more than the limit of 100 (docs/limits.md)");
    p.study_snr = snr.as_double_list();
    for (double v : p.study_snr)
      if (!(v > 0.0)) s->at("snr").fail("every SNR must be > 0");
    if (auto r = s->find("repeats")) {
      p.study_repeats = static_cast<int>(r->as_int(1, 1000));
    }
  }
  // Refuse an incomplete set unless asked to complete it.
  const auto rep = analyze_completeness(p.readout.settings, n);
  if (!rep.complete && !p.add_proposed)
    root.at("readout").fail("readout set cannot reconstruct the state: " + rep.summary() +
                            " (add those settings, or set complete_readout: true)");
  return p;
}
}  // namespace

SettingOutcome measure_setting(const Molecule& m, const Mat& rho, const ReadoutSetting& s,
                               LineSource source, double sw_hz, int td, double noise_sigma,
                               std::uint64_t seed) {
  return SettingMeasurer(m, source, sw_hz, td).measure(rho, s, noise_sigma, seed);
}

/// SettingOutcome of a line fit, in ideal_line_values layout.
SettingOutcome outcome_of_lines(int n, const ReadoutSetting& s, const LineReadout& lr);

namespace {

// Seeded white noise of sigma per real and imaginary part of every FID point: the one draw order
// of every measurement (both line sources).
void add_noise(std::vector<cplx>& points, double sigma, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> nd(0.0, sigma);
  for (auto& z : points) {
    // imaginary part first: the order GCC gave the draws of cplx(nd(gen), nd(gen)) before this
    // was spelled out, so seeded results stay what they were (and are now the same with clang)
    const double im = nd(gen);
    const double re = nd(gen);
    z += cplx(re, im);
  }
}

}  // namespace

SettingMeasurer::SettingMeasurer(const Molecule& m, LineSource source, double sw_hz, int td)
    : m_(m), source_(source), sw_hz_(sw_hz), td_(td) {
  // Both sources fit lines: the spectrometer's its simulated FIDs, the ideal one the noise
  // alone (noise belongs on the FID points, as in the real meter: a line value carries the
  // fit's share of the FID noise, far below the per-point sigma; issue 23).
  {
    if (source == LineSource::kSpectrometer) h0_ = m.hamiltonian();
    fitter_.emplace(m, 0, sw_hz, td);
    // the fitted line behind each observable of ideal_line_values' layout
    const auto& lines = fitter_->lines();
    for (const auto& o : line_observables(m.size())) {
      size_t l = 0;
      while (l < lines.size() && !(lines[l].spin == o.spin && lines[l].other_bits == o.other_bits))
        ++l;
      NMRC_CHECK(l < lines.size(), "line fit misses a line of the observable list");
      value_line_.push_back(static_cast<Eigen::Index>(l));
    }
  }
}

Fid SettingMeasurer::fid_of(std::vector<cplx> points, double noise_sigma) const {
  Fid fid;
  fid.channel = 0;
  fid.sw_hz = sw_hz_;
  fid.noise_sigma = noise_sigma;
  fid.points = std::move(points);
  return fid;
}

SettingOutcome SettingMeasurer::measure(const Mat& rho, const ReadoutSetting& s, double noise_sigma,
                                        std::uint64_t seed) const {
  const int n = m_.size();
  SettingOutcome out;
  out.setting = s;
  if (source_ == LineSource::kIdeal) {
    out.values = ideal_line_values(rho, s, n);
    if (noise_sigma > 0.0) out.values += noise_values(noise_sigma, seed);
    return out;
  }
  const Mat r = readout_unitary(s, n);
  const Mat rotated = r * rho * r.adjoint();
  std::vector<cplx> points = fid_signal(m_, h0_, rotated, 0, sw_hz_, td_);
  if (noise_sigma > 0.0) add_noise(points, noise_sigma, seed);
  Fid fid = fid_of(std::move(points), noise_sigma);
  out = outcome_of_lines(n, s, fitter_->fit(fid));
  out.fid = std::move(fid);
  return out;
}

RVec SettingMeasurer::clean_values(const Mat& rho, const ReadoutSetting& s) const {
  return measure(rho, s, 0.0, 0).values;
}

RVec SettingMeasurer::noise_values(double noise_sigma, std::uint64_t seed) const {
  std::vector<cplx> points(static_cast<size_t>(td_), cplx(0.0, 0.0));
  if (noise_sigma > 0.0) add_noise(points, noise_sigma, seed);
  const Vec x = fitter_->amplitudes(Eigen::Map<const Vec>(points.data(), td_));
  RVec v(2 * static_cast<Eigen::Index>(value_line_.size()));
  for (size_t i = 0; i < value_line_.size(); ++i) {
    v(2 * i) = x(value_line_[i]).real();
    v(2 * i + 1) = x(value_line_[i]).imag();
  }
  return v;
}

SettingOutcome setting_from_fid(const Molecule& m, const ReadoutSetting& s, const Fid& fid) {
  return outcome_of_lines(m.size(), s, measure_lines(m, fid));
}

SettingOutcome outcome_of_lines(int n, const ReadoutSetting& s, const LineReadout& lr) {
  SettingOutcome out;
  out.setting = s;
  out.fit_residual = lr.residual_rms;
  const auto obs = line_observables(n);
  out.values.resize(2 * obs.size());
  for (size_t i = 0; i < obs.size(); ++i) {
    const LineValue* lv = lr.find(obs[i].spin, obs[i].other_bits);
    NMRC_CHECK(lv != nullptr, "line fit misses a line of the observable list");
    out.values(2 * i) = lv->sx();
    out.values(2 * i + 1) = lv->sy();
  }
  return out;
}

Reconstruction reconstruct_from_fids(const Molecule& m, const std::vector<ReadoutSetting>& settings,
                                     const std::vector<Fid>& fids) {
  return tomography_from_fids(m, settings, fids).reconstruction;
}

FidTomography tomography_from_fids(const Molecule& m, const std::vector<ReadoutSetting>& settings,
                                   const std::vector<Fid>& fids) {
  if (settings.size() != fids.size())
    throw InputError("tomography: " + std::to_string(fids.size()) + " FIDs for " +
                     std::to_string(settings.size()) + " readout settings: need one per setting");
  const Tomographer tomo(settings, m.size());
  FidTomography out;
  std::vector<RVec> values;
  for (size_t k = 0; k < fids.size(); ++k) {
    out.outcomes.push_back(setting_from_fid(m, settings[k], fids[k]));
    values.push_back(out.outcomes.back().values);
  }
  out.reconstruction = tomo.reconstruct(values);
  return out;
}

FidTomography tomography_from_bruker(const Molecule& m, const std::vector<ReadoutSetting>& settings,
                                     const std::vector<std::string>& paths, double scale,
                                     const std::vector<double>& weights) {
  if (!(std::isfinite(scale) && scale != 0.0))
    throw InputError("--scale = " + std::to_string(scale) + ": must be finite and nonzero");
  for (size_t i = 0; i < weights.size(); ++i)
    if (!std::isfinite(weights[i]))
      throw InputError("--weights[" + std::to_string(i) + "] = " + std::to_string(weights[i]) +
                       ": must be finite");
  const size_t per = weights.empty() ? 1 : weights.size();
  std::vector<std::string> dirs;
  for (const auto& p : paths)
    for (auto& d : bruker_experiment_folders(p)) dirs.push_back(std::move(d));
  if (dirs.size() != settings.size() * per)
    throw InputError(
        (paths.empty() ? std::string("--from-bruker") : paths.front()) + ": " +
        std::to_string(dirs.size()) + " experiment folders for " + std::to_string(settings.size()) +
        " readout settings" + (per > 1 ? " x " + std::to_string(per) + " weights" : std::string()) +
        ": need " + std::to_string(settings.size() * per) + ", in the readout set's order");
  // Per setting, the weighted sum of its FIDs, one sum per pre-acquisition delay (the FIDs of
  // one delay are added before the fit; FIDs of another delay, e.g. the run export's readout
  // setting without pulses after an experiment that ends under CW and one that does not, are
  // fitted with their own delay and their line values added: the fit is linear).
  std::vector<std::vector<Fid>> parts(settings.size());
  for (size_t s = 0; s < settings.size(); ++s) {
    for (size_t i = 0; i < per; ++i) {
      const std::string& d = dirs[s * per + i];
      const BrukerDataset ds = read_bruker_dataset(d);
      // The reader drops the points a group delay leaves without signal (nmrglue's count).
      Fid f = fid_from_bruker(ds, m);
      const double w = scale * (weights.empty() ? 1.0 : weights[i]);
      for (auto& z : f.points) z *= w;
      if (i > 0 && (f.points.size() != parts[s][0].points.size() || f.sw_hz != parts[s][0].sw_hz))
        throw InputError(d + ": " + std::to_string(f.points.size()) + " points at SW_h " +
                         std::to_string(f.sw_hz) + " Hz: differs from " + dirs[s * per] +
                         " (the FIDs of one readout setting are added)");
      Fid* same = nullptr;
      for (auto& p : parts[s])
        if (p.start_s == f.start_s) same = &p;
      if (!same) {
        parts[s].push_back(std::move(f));
        continue;
      }
      for (size_t k = 0; k < f.points.size(); ++k) same->points[k] += f.points[k];
    }
  }
  std::vector<Fid> fids;
  for (const auto& p : parts) fids.push_back(p.front());
  FidTomography out = tomography_from_fids(m, settings, fids);
  bool more = false;
  for (size_t s = 0; s < settings.size(); ++s)
    for (size_t j = 1; j < parts[s].size(); ++j) {
      const SettingOutcome o = setting_from_fid(m, settings[s], parts[s][j]);
      out.outcomes[s].values += o.values;
      out.outcomes[s].fit_residual = std::hypot(out.outcomes[s].fit_residual, o.fit_residual);
      more = true;
    }
  if (!more) return out;
  std::vector<RVec> values;
  for (const auto& o : out.outcomes) values.push_back(o.values);
  out.reconstruction = Tomographer(settings, m.size()).reconstruct(values);
  return out;
}

namespace {

struct Measured {
  std::vector<SettingOutcome> outcomes;
  Reconstruction rec;
};

Measured measure_all(const TomographyProgram& p, const SettingMeasurer& meter,
                     const Tomographer& tomo, double snr, std::uint64_t seed,
                     const TomographyProgress& progress, int* done, int total) {
  Measured m;
  std::vector<RVec> values;
  const double sigma = tomography_noise_sigma(p.molecule.size(), snr);
  for (size_t s = 0; s < tomo.settings().size(); ++s) {
    m.outcomes.push_back(
        meter.measure(p.true_state, tomo.settings()[s], sigma, seed * 1000003ULL + s));
    values.push_back(m.outcomes.back().values);
    if (progress) progress(++*done, total, "setting " + tomo.settings()[s].name);
  }
  m.rec = tomo.reconstruct(values);
  return m;
}

double trace_norm(const Mat& a) {
  return hermitian_eigenvalues(0.5 * (a + a.adjoint())).cwiseAbs().sum();
}

}  // namespace

TomographyResult run_tomography(const TomographyProgram& p, const TomographyProgress& progress) {
  const int n = p.molecule.size();
  TomographyResult res;
  res.completeness = analyze_completeness(p.readout.settings, n);
  res.settings_used = p.readout.settings;
  if (!res.completeness.complete) {
    NMRC_CHECK(p.add_proposed, "loader refuses incomplete sets unless asked to complete them");
    res.settings_used.insert(res.settings_used.end(), res.completeness.proposed.begin(),
                             res.completeness.proposed.end());
  }
  const Tomographer tomo(res.settings_used, n);
  const int per_run = static_cast<int>(res.settings_used.size());
  const int total = per_run * (1 + static_cast<int>(p.study_snr.size()) * p.study_repeats) + 1;
  int done = 0;
  const SettingMeasurer meter(p.molecule, p.lines, p.sw_hz, p.td);
  Measured main = measure_all(p, meter, tomo, p.snr, p.seed, progress, &done, total);
  res.outcomes = main.outcomes;
  res.reconstruction = main.rec;
  res.fidelity = uhlmann_fidelity(main.rec.physical, p.true_state);
  res.fidelity_linear_trace_distance = 0.5 * trace_norm(main.rec.linear - p.true_state);
  for (int k = 0; k < n; ++k) {
    res.energy_true.push_back((p.true_state * sigma('Z', k, n)).trace().real());
    res.energy_tomography.push_back((main.rec.physical * sigma('Z', k, n)).trace().real());
  }
  // Direct readout (Eqs. S17-S18): one acquisition after R_y(pi/2) on every spin.
  const ReadoutSetting all_y = setting_from_letters(std::string(n, 'Y'));
  const SettingOutcome direct =
      meter.measure(p.true_state, all_y, tomography_noise_sigma(n, p.snr), p.seed * 7919ULL + 17);
  res.energy_direct = z_expectations_from_y_readout(direct.values, n);
  if (progress) progress(++done, total, "direct energy readout");
  for (double snr : p.study_snr) {
    TomographyResult::StudyPoint pt;
    pt.snr = snr;
    pt.min_fidelity = 1.0;
    for (int r = 0; r < p.study_repeats; ++r) {
      const Measured mm =
          measure_all(p, meter, tomo, snr, p.seed + 101ULL * (r + 1), progress, &done, total);
      const double f = uhlmann_fidelity(mm.rec.physical, p.true_state);
      pt.mean_fidelity += f / p.study_repeats;
      pt.min_fidelity = std::min(pt.min_fidelity, f);
    }
    res.study.push_back(pt);
  }
  return res;
}

}  // namespace nmrc::spectrometer
