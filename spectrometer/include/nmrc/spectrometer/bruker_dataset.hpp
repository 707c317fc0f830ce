// TopSpin experiment folders (EXPNO): the raw `fid`, the parameter files `acqus`/`acqu`, the
// `pulseprogram`, and the processed `pdata/1` (`procs`, `proc`, `1r`, `1i`); written from an
// acquired Fid and read back from nmrc's own or real TopSpin folders (docs/bruker.md).
// Sources for every rule: nmrglue (jjhelmus/nmrglue, nmrglue/fileio/bruker.py: DTYPA, BYTORDA,
// the 1024-byte FID blocks of the acquisition manual's NBL paragraph, NC/NC_proc scaling, the
// DSPFVS/DECIM group-delay table of Westler & Abildgaard), real TopSpin/XWIN-NMR acqus and
// procs files (header, ASCII-sorted private records, array line width), and the
// CHEMeDATA/bruker-nmr-acqus-files description of acqus files.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nmrc/core/molecule.hpp"
#include "nmrc/spectrometer/acquisition.hpp"

namespace nmrc::spectrometer {

/// The acqus records nmrc writes (TopSpin names and units). Arrays left empty are not written.
struct AcqusParameters {
  std::string title = "Parameter file, nmrc 0.1.0";
  std::string owner = "nmrc";
  std::string date_comment;  ///< "$$" line: "2026-11-30 09:00:00.000 +0000  nmrc"
  std::string path_comment;  ///< "$$" line: where the file lives
  long td = 0;               ///< number of stored values (2 x complex points)
  double sw_h = 0.0;         ///< spectral width, Hz
  double bf1_mhz = 0.0;      ///< basic frequency (0 ppm of the nucleus)
  double o1_hz = 0.0;        ///< carrier offset from BF1; SFO1 = BF1 + O1 1e-6, SW = SW_h / SFO1
  std::string nuc1;          ///< "13C"
  int dtypa = 0;             ///< 0 int32, 2 float64
  int bytorda = 0;           ///< 0 little endian, 1 big endian
  int aq_mod = 3;            ///< 3 = DQD (complex)
  int decim = 1;
  int dspfvs = 20;
  double grpdly = 0.0;  ///< digital-filter group delay in points (0: none)
  int digmod = 1;
  int ns = 1;
  int ds = 0;
  int nc = 0;  ///< stored value x 2^NC = signal
  double rg = 1.0;
  double recph_deg = 0.0;  ///< receiver phase (nmrc: the Fid's receiver_phase_rad)
  double te_k = 298.0;
  std::string pulprog = "nmrc";
  std::vector<double> d_s, p_us, plw_w, spw_w, spoffs_hz, gpz_percent;  ///< D, P, PLW, ...
  std::vector<std::string> spnam, gpnam;
  std::vector<double> pcpd_us;      ///< PCPD (0..9): 90-degree pulses of the CPD sequences
  std::vector<std::string> cpdprg;  ///< CPDPRG (0..8): CPD programs per channel
  std::vector<double> cnst;
  /// Further scalar records (label with "$", value as written), e.g. {"$NUC2", "<1H>"}.
  std::vector<std::pair<std::string, std::string>> extra;
};

/// The acqus text: TopSpin's header (TITLE, JCAMPDX= 5.0, DATATYPE= Parameter Values,
/// NPOINTS, ORIGIN, OWNER, two "$$" lines), then the private records sorted by name (ASCII, as
/// TopSpin sorts them), arrays as "(0..N)" plus lines of TopSpin's width, no blank lines,
/// "##END=". SW and SFO1 are derived (SW = SW_h / SFO1, SFO1 = BF1 + O1 1e-6).
std::string format_acqus(const AcqusParameters& p);

struct BrukerWriteOptions {
  int dtypa = 0;  ///< 0 int32 (NC chosen so the largest value is < 2^29), 2 float64
  /// int32: this NC instead (a series shares one, write_bruker_series); the largest value must
  /// then stay below 2^31 x 2^NC (InputError otherwise).
  std::optional<int> nc;
  int bytorda = 0;  ///< 0 little endian, 1 big endian
  std::string pulprog = "nmrc";
  std::string pulseprogram;  ///< text of the `pulseprogram` file (a comment when empty)
  std::string date_comment;  ///< "$$" line of the parameter files
  int ds = 0;
  double d1_s = 0.0;
  /// Also write pdata/1 (procs, proc, 1r, 1i) from this spectrum of the FID.
  bool processed = true;
  ProcessingOptions processing;
};

/// Writes a TopSpin experiment folder `dir` for `fid` recorded on `molecule`: fid (TD =
/// 2 x points values, padded with zeros to a multiple of 1024 bytes), acqus and acqu (BF1 =
/// the channel's larmor_mhz, O1 = frame_ppm larmor_mhz + carrier_hz, NUC1 = the channel's
/// isotope, NS = fid.scans), pulseprogram, and pdata/1. Each file is written atomically after
/// all of them are computed. Throws InputError for dtypa/bytorda other than 0/2 and 0/1.
void write_bruker_dataset(const std::string& dir, const Molecule& molecule, const Fid& fid,
                          const BrukerWriteOptions& options = {});

/// One experiment of a series (write_bruker_series).
struct BrukerSeriesEntry {
  Fid fid;
  std::string pulprog;       ///< PULPROG (and the name in the listing)
  std::string description;   ///< one line for the listing, e.g. "readout setting XXII"
  std::string pulseprogram;  ///< text of its `pulseprogram` file (a comment when empty)
};

/// Most experiments one series may hold (TopSpin's EXPNOs are numbered up to 99999; nmrc's
/// series are readout sets, 18 to a few hundred).
constexpr size_t kMaxBrukerSeries = 4096;

/// Writes `entries` as the EXPNO folders `dir`/1, `dir`/2, ... (write_bruker_dataset each,
/// PULPROG and pulseprogram from the entry, the rest from `options`; int32 FIDs share one NC,
/// the one the largest value of the series needs, so that EXPNOs added with weights are on one
/// scale as a console's with one RG are) and `dir`/expnos.csv
/// ("expno,pulprog,description", one row per EXPNO), i.e. a TopSpin dataset NAME/EXPNO.
/// Throws InputError for an empty series or more than kMaxBrukerSeries entries (before
/// writing anything) and for what write_bruker_dataset rejects.
void write_bruker_series(const std::string& dir, const Molecule& molecule,
                         const std::vector<BrukerSeriesEntry>& entries,
                         const BrukerWriteOptions& options = {});

/// The experiment folders of `path`: `path` itself when it holds an `acqus`, else its
/// sub-folders named by a number (EXPNOs) that hold one, in numeric order. Throws InputError
/// when there are none.
std::vector<std::string> bruker_experiment_folders(const std::string& path);

/// What a TopSpin folder holds, read back.
struct BrukerDataset {
  std::string path;
  std::vector<cplx> points;  ///< complex FID (x 2^NC), group delay removed (TD/2 - dropped)
  long td = 0;               ///< values in the file (2 x complex points)
  double sw_hz = 0.0, bf1_mhz = 0.0, o1_hz = 0.0, sfo1_mhz = 0.0;
  std::string nuc1, pulprog;
  std::string isotope;  ///< NUC1 as nmrc names isotopes (topspin_isotope: <D> -> "2H")
  int dtypa = 0, bytorda = 0, aq_mod = 3, decim = 1, dspfvs = 0, ns = 1, nc = 0;
  double recph_deg = 0.0;
  double grpdly_points = 0.0;  ///< the group delay that was removed (GRPDLY or the table)
  std::string grpdly_source;   ///< "GRPDLY", "DSPFVS/DECIM table" or "none"
  int dropped_points = 0;      ///< floor(g) + 2 when g > 0 (nmrglue's count), else 0
  /// The pre-acquisition delay of the folder's `pulseprogram` (preacquisition_delay_s; 0
  /// without the file): fid_from_bruker's Fid::start_s.
  double preacquisition_s = 0.0;
};

/// The free evolution a pulse program plays between its last pulse and the acquisition: the
/// statements of fixed microseconds that only switch channels ("4u do:f2", "4u pl12:f2",
/// "12u") right before the first "go=2", summed (any other statement, a pulse, "dN", a
/// gradient with its "4u BLKGRAD", a loop, sets the sum back to 0); 0 without a go=2. nmrc's export
/// writes "4u do:f2", "4u pl12:f2", "4u cpds2:f2" there when the readout played under CW
/// (compiler::BrukerDecoupling::pulses): 12 us. Throws InputError "pulseprogram:line: text: rule"
/// for a sum above 1 s or a number that is not finite.
double preacquisition_delay_s(const std::string& pulseprogram,
                              const std::string& name = "pulseprogram");

/// Reads `dir`/acqus and `dir`/fid (TopSpin's or nmrc's), and the pre-acquisition delay from
/// `dir`/pulseprogram when there is one (TopSpin keeps the pulse program it played there). Removes
/// the digital filter's group delay g as nmrglue's rm_dig_filter does (g = GRPDLY when > 0;
/// otherwise for DSPFVS 10..13 the DECIM table, else none; see remove_group_delay): the FID keeps
/// TD/2 - floor(g) - 2 points, the ones nmrglue keeps. NUC1 is read as TopSpin names nuclei
/// (topspin_isotope). Throws InputError "path:line:1: ##$X= v: rule" for a missing TD, SW_h, BF1,
/// O1, NUC1 or BYTORDA, a NUC1 that is "off" or no nucleus, an unknown DTYPA (not 0 or 2) or AQ_mod
/// (not 1 or 3), an odd TD, a DECIM missing from the table, a group delay that leaves no point, and
/// "fid: truncated" when the fid file is shorter than TD values.
BrukerDataset read_bruker_dataset(const std::string& dir);

/// The Fid of a dataset in `molecule`'s rotating frame: the channel whose isotope is NUC1
/// (compared as topspin_isotope forms, so <D> finds a channel of isotope 2H, or a channel named
/// as NUC1), and the FID multiplied by exp(2 pi i (O1_dataset - O1_molecule) t) so that offsets
/// are relative to the molecule's carrier (O1_molecule = frame_ppm larmor_mhz + carrier_hz; no
/// shift when both O1 agree to the 15 digits the file keeps); start_s the dataset's
/// preacquisition_s.
/// Throws InputError when no channel observes NUC1 or BF1 differs from the channel's
/// larmor_mhz by more than 1e-4 relative (another field or nucleus).
Fid fid_from_bruker(const BrukerDataset& dataset, const Molecule& molecule);

/// Removes a group delay of g points from a complex FID as nmrglue's rm_dig_filter does
/// (jjhelmus/nmrglue, fileio/bruker.py; the algorithm re-derived here, no code taken): the FID
/// is moved left by g points (a linear phase exp(2 pi i g k / N) across the DFT; nmrc moves by
/// the exact g where nmrglue by default moves by floor(g) and leaves a first-order phase of
/// (g - floor g) x 360 degrees across the spectrum), and the last floor(g) + 2 points (the
/// filter's start, now at the end) are dropped, so the FID has nmrglue's points. nmrglue's
/// cosmetic step of adding the dropped points, mirrored, onto the first ones is left out
/// (docs/bruker.md: measured, it moves the first points away from the signal). g <= 0 returns
/// the FID unchanged.
std::vector<cplx> remove_group_delay(const std::vector<cplx>& fid, double g_points);

/// The points remove_group_delay drops for a delay of g points from n: floor(g) + 2 (at most n),
/// 0 for g <= 0.
int group_delay_skip(double g_points, size_t n);

/// The isotope a TopSpin nucleus name stands for, in nmrc's form ("13C", "1H", "2H"): TopSpin
/// writes NUC1..NUC8 as <13C>, <1H>, <15N>, deuterium as <2H> or (TopSpin 3, its lock nucleus)
/// <D>, and <off> for an unused channel. Mass-first ("13C") and symbol-first ("C13") forms in
/// any letter case are read; "D" is 2H and "T" 3H. Returns "" for "off" and for anything that
/// is not such a name.
std::string topspin_isotope(std::string_view name);

/// Group delay of Bruker's digital filters for DSPFVS 10..13 and DECIM (Westler & Abildgaard's
/// table as un-rounded in nmrglue); returns < 0 when the pair is not in the table.
double bruker_group_delay_table(int dspfvs, int decim);

}  // namespace nmrc::spectrometer
