// A tomography run on the virtual spectrometer (docs/tomography.md): a true state, a readout
// set, and for every setting the ideal readout rotation, acquisition of the FID (with seeded
// noise at a given SNR), the line fit, then reconstruction. Also the fidelity-versus-SNR study
// and the direct energy readout of Eqs. (S17)-(S18). Loaded from YAML with located errors.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "nmrc/core/molecule.hpp"
#include "nmrc/core/types.hpp"
#include "nmrc/spectrometer/acquisition.hpp"
#include "nmrc/spectrometer/lines.hpp"
#include "nmrc/spectrometer/readout.hpp"
#include "nmrc/spectrometer/tomography.hpp"

namespace nmrc::spectrometer {

enum class LineSource {
  kIdeal,        ///< line values computed from the rotated density matrix
  kSpectrometer  ///< FID simulated, lines fitted (measure_lines on the Fid)
};

struct TomographyProgram {
  std::string name;
  std::string source_file;
  Molecule molecule;
  ReadoutSet readout;
  Mat true_state;  ///< the state the run reconstructs (trace 1)
  std::string state_description;
  LineSource lines = LineSource::kSpectrometer;
  double sw_hz = 0.0;  ///< 0 = 1.25 x the widest line span, rounded up to 100 Hz
  int td = 4096;
  double snr = 0.0;  ///< 0 = noise-free (definition in docs/tomography.md)
  std::uint64_t seed = 1;
  std::vector<double> study_snr;  ///< fidelity-versus-SNR study points (empty = none)
  int study_repeats = 3;
  bool add_proposed = false;  ///< complete an incomplete set with the proposed settings
};

/// Loads a tomography program. Paths inside are relative to the program file. Throws
/// InputError (file:line:col) for unknown keys, spins, non-physical states, an incomplete
/// readout set without `complete_readout: true`, SW that folds lines, TD not a power of two.
TomographyProgram load_tomography_program(const std::string& path);
/// Same from text (nmrc.tomography with a dict): `name` stands for the file in messages,
/// relative paths resolve against base_dir.
TomographyProgram parse_tomography_program(const std::string& text, const std::string& name,
                                           const std::string& base_dir);

struct SettingOutcome {
  ReadoutSetting setting;
  RVec values;  ///< line values in ideal_line_values layout
  double fit_residual = 0.0;
  Fid fid;  ///< the FID the values were fitted from (empty for LineSource::kIdeal)
};

struct TomographyResult {
  CompletenessReport completeness;  ///< of the readout set as given
  std::vector<ReadoutSetting> settings_used;
  std::vector<SettingOutcome> outcomes;
  Reconstruction reconstruction;
  double fidelity = 0.0;  ///< Uhlmann fidelity of the physical estimate to the truth
  double fidelity_linear_trace_distance = 0.0;  ///< 0.5 ||rho_lin - rho||_1
  std::vector<double> energy_tomography;        ///< <sigma_z^k> of the reconstructed state
  std::vector<double> energy_direct;            ///< <sigma_z^k> from the R_y(pi/2)-all setting
  std::vector<double> energy_true;
  struct StudyPoint {
    double snr = 0.0;
    double mean_fidelity = 0.0, min_fidelity = 0.0;
  };
  std::vector<StudyPoint> study;
};

/// Progress: (done, total, what).
using TomographyProgress = std::function<void(int, int, const std::string&)>;

/// Runs the program. Deterministic for a given seed.
TomographyResult run_tomography(const TomographyProgram& program,
                                const TomographyProgress& progress = {});

/// Line values of one setting from `rho` (before the readout rotation): ideal, or by simulating
/// the FID with noise sigma `noise_sigma` (per real/imaginary part of each point) and fitting.
SettingOutcome measure_setting(const Molecule& m, const Mat& rho, const ReadoutSetting& s,
                               LineSource source, double sw_hz, int td, double noise_sigma,
                               std::uint64_t seed);

/// measure_setting for many states and noise draws of one molecule and acquisition (an
/// experiment measures thousands): the line fit is factorised once (LineFitter). The fit is
/// linear in the FID, so a noisy FID's line values are the clean FID's plus those of the noise
/// alone: clean_values() once per state and noise_values() per draw give measure()'s values
/// to rounding, with the same noise draws for the same seed.
class SettingMeasurer {
 public:
  /// Keeps a reference to `m`: the molecule must outlive the measurer.
  SettingMeasurer(const Molecule& m, LineSource source, double sw_hz, int td);
  /// measure_setting(m, rho, s, source, sw_hz, td, noise_sigma, seed).
  SettingOutcome measure(const Mat& rho, const ReadoutSetting& s, double noise_sigma,
                         std::uint64_t seed) const;
  /// Noise-free line values of rho after setting s.
  RVec clean_values(const Mat& rho, const ReadoutSetting& s) const;
  /// Line values of noise alone (sigma per real/imaginary part of each FID point).
  RVec noise_values(double noise_sigma, std::uint64_t seed) const;

 private:
  const Molecule& m_;
  Mat h0_;
  LineSource source_;
  double sw_hz_;
  int td_;
  std::optional<LineFitter> fitter_;
  std::vector<Eigen::Index> value_line_;  ///< fitted line of each observable (value pair)
  Fid fid_of(std::vector<cplx> points, double noise_sigma) const;
};

/// Line values of one setting from a recorded FID (acquired after that setting's readout
/// rotation; e.g. a TopSpin folder through read_bruker_dataset and fid_from_bruker): the line
/// fit of lines.hpp, per scan, in ideal_line_values layout. measure_setting uses it too.
SettingOutcome setting_from_fid(const Molecule& m, const ReadoutSetting& s, const Fid& fid);

/// Reconstruction from recorded FIDs, fids[k] taken with settings[k]: the same line fit and
/// inversion as run_tomography. The FIDs must be in the units of nmrc's signal,
/// Tr(rho (sigma_x + i sigma_y)) of the full state (nmrc's own datasets are); a console's FIDs
/// must first be scaled by the user's reference. Throws InputError for unequal list sizes and
/// for an incomplete set of settings.
Reconstruction reconstruct_from_fids(const Molecule& m, const std::vector<ReadoutSetting>& settings,
                                     const std::vector<Fid>& fids);

/// reconstruct_from_fids with the line values of every setting (outcomes[k] from fids[k]).
struct FidTomography {
  std::vector<SettingOutcome> outcomes;
  Reconstruction reconstruction;
};
FidTomography tomography_from_fids(const Molecule& m, const std::vector<ReadoutSetting>& settings,
                                   const std::vector<Fid>& fids);

/// Tomography from TopSpin experiment folders (nmrc's or a console's): the folders of `paths`
/// (each expanded by bruker_experiment_folders: an EXPNO folder, or a dataset whose numbered
/// EXPNOs are taken in numeric order), the k-th recorded with settings[k]. Each FID is read
/// with read_bruker_dataset (digital-filter group delay g removed; the floor(g) + 2 points
/// that then hold no signal are dropped, as nmrglue drops them), moved into the molecule's
/// frame (fid_from_bruker; its start_s the folder's pulseprogram's pre-acquisition delay,
/// which the line fit evolves back), multiplied by `scale` (1 for nmrc's own datasets; a console's
/// FIDs need the user's factor to nmrc's units, docs/bruker.md), then reconstructed as
/// tomography_from_fids. With `weights` (w_0..w_{E-1}, temporal averaging on recorded data:
/// nmrc export bruker's EXPNO k = s E + i + 1 layout), the folders are E per setting and the FID
/// of setting s is sum_i w_i FID_{s E + i} (FIDs of different pre-acquisition delays are summed
/// per delay, each sum fitted with its own, and their line values added; outcomes[s].fid is
/// then the first delay's sum). Throws InputError for a folder count other than
/// settings x E (E = 1 without weights), FIDs of one setting that differ in points or SW, an
/// incomplete set, and every reading error of read_bruker_dataset / fid_from_bruker.
FidTomography tomography_from_bruker(const Molecule& m, const std::vector<ReadoutSetting>& settings,
                                     const std::vector<std::string>& paths, double scale = 1.0,
                                     const std::vector<double>& weights = {});

/// Noise sigma for a tomography SNR: the first FID point of the pseudo-pure |0...0> state after
/// an ideal 90-degree pulse on every spin (= n) divided by the SNR; 0 for snr = 0.
double tomography_noise_sigma(int n, double snr);

/// Spectral width that keeps every line of the molecule inside the window.
double default_sw_hz(const Molecule& m);

}  // namespace nmrc::spectrometer
