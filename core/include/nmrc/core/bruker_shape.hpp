// TopSpin shape files (lists/wave): JCAMP-DX "Shape Data" with one "amplitude, phase" pair per
// line, read and written exactly in TopSpin's layout, and their conversion to and from nmrc's
// piecewise-constant shaped pulses (docs/bruker.md).
// Sources: the TopSpin command reference ("stdisp": the shape file format with a complete
// header, numbers as 1.000000E02), shape files written by TopSpin 3/4's Shapetool, and the
// XWIN-NMR/TopSpin file description (amplitudes 0-100 % of the shape's maximum, phases in
// degrees 0-360).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nmrc/core/pulse_file.hpp"
#include "nmrc/core/sequence.hpp"
#include "nmrc/core/types.hpp"

namespace nmrc {

/// A TopSpin shape file. Header fields hold their text; the numeric ones TopSpin may leave
/// empty (REPHFAC, BWFAC50, ...) are optional.
struct BrukerShape {
  std::string title;
  std::string origin = "nmrc";
  std::string owner = "<nmrc>";
  std::string date;  ///< "YYYY/MM/DD"
  std::string time;  ///< "HH:MM:SS"
  std::string shape_parameters;
  std::string exmode = "None";
  std::optional<double> totrot_deg;
  std::string type;
  std::string user_def;
  std::optional<double> rephfac, bwfac, bwfac50;
  int mode = 0;
  std::vector<double> amplitude_percent;  ///< 0..100, per cent of the shape's maximum
  std::vector<double> phase_deg;          ///< degrees (written in 0..360)
  /// As read from a file (written files recompute it from the points).
  std::optional<double> integfac_read;
  std::string path;  ///< where it was read from (messages)
};

/// SHAPE_INTEGFAC = |sum_k (A_k / 100) exp(i phi_k)| / N: the shape's integral relative to a
/// rectangle of the same length at 100 % (TopSpin uses it to scale shape powers).
double shape_integfac(const std::vector<double>& amplitude_percent,
                      const std::vector<double>& phase_deg);

/// Parses a shape file. Throws InputError "path:line:1: field = value: rule" for: no ##END=,
/// no ##XYPOINTS=, no or a wrong ##NPOINTS=, a point that is not "amplitude, phase",
/// an amplitude outside 0..100, a non-finite phase, more than 1048576 points.
BrukerShape parse_bruker_shape(const std::string& text, const std::string& path);
BrukerShape read_bruker_shape_file(const std::string& path);

/// The file text in TopSpin's layout: ##TITLE, ##JCAMP-DX= 5.00 Bruker JCAMP library,
/// ##DATA TYPE= Shape Data, ##ORIGIN, ##OWNER, ##DATE, ##TIME, ##$SHAPE_PARAMETERS, ##MINX,
/// ##MAXX, ##MINY, ##MAXY (amplitude and phase ranges), ##$SHAPE_EXMODE, ##$SHAPE_TOTROT,
/// ##$SHAPE_TYPE, ##$SHAPE_USER_DEF, ##$SHAPE_REPHFAC, ##$SHAPE_BWFAC, ##$SHAPE_BWFAC50,
/// ##$SHAPE_INTEGFAC (recomputed), ##$SHAPE_MODE, ##NPOINTS, ##XYPOINTS= (XY..XY), the points
/// "1.000000E02, 9.000000E01", ##END=. Phases are written reduced to [0, 360).
std::string format_bruker_shape(const BrukerShape& shape);

/// How a TopSpin shape maps onto nmrc's rotating frame (docs/conventions.md).
///  - Amplitude: 100 % is the nutation frequency `max_rf_hz` (set on the console by the shape
///    power SPW, see docs/bruker.md).
///  - Phase: u_x + i u_y = max_rf_hz (A_k / 100) exp(i sense phi_k). With sense = +1 a TopSpin
///    phase of 90 degrees is nmrc's +y (as nmrc's hard-pulse phase 90 and TopSpin's phase
///    program value 1). Whether a console turns phases clockwise or counterclockwise depends on
///    its hardware and the sign of gamma (Levitt, J. Magn. Reson. 126, 164 (1997)); sense = -1
///    mirrors every phase for a console of the other sense (docs/bruker.md says how to check).
///  - Offset (SPOFFS): a shape played at carrier + spoffs_hz is, in the frame at the carrier,
///    the shape with the phase ramp phi_k + sense 360 spoffs_hz t_k, t_k = (k + 1/2) dt the
///    middle of step k. In nmrc's frame transverse magnetisation <I_x> + i <I_y> of a spin at
///    offset f turns as exp(+i 2 pi f t), so this ramp is resonant with spins at +spoffs_hz.
struct ShapeFrame {
  int phase_sense = 1;     ///< +1 or -1
  double spoffs_hz = 0.0;  ///< SPOFFS of the shape on the console
};

/// A shape played for duration_s (N equal steps) on `channel` with 100 % = max_rf_hz.
/// Preconditions (InputError otherwise): duration_s > 0, max_rf_hz > 0, sense +-1.
ShapedPulseElement shaped_pulse_from_bruker_shape(const BrukerShape& shape, double duration_s,
                                                  double max_rf_hz, int channel,
                                                  const ShapeFrame& frame = {});

/// The shape as PulseData (what every shaped-pulse input of nmrc produces, pulse_file.hpp):
/// one channel `channel` (a channel name of the molecule file) at the molecule's carrier,
/// max_rf_hz recorded, no molecule, no target; name = the file's stem (or the title), source =
/// the file. Same preconditions and errors as shaped_pulse_from_bruker_shape.
PulseData pulse_data_from_bruker_shape(const BrukerShape& shape, const std::string& channel,
                                       double duration_s, double max_rf_hz,
                                       const ShapeFrame& frame = {});

/// The inverse: a shape whose 100 % is the largest |u| of the waveform (returned in
/// max_rf_hz), phases atan2(u_y, u_x) (times sense) in [0, 360). With frame.spoffs_hz != 0 the
/// ramp is removed so that playing the shape at that SPOFFS gives the waveform back.
/// An all-zero waveform gives amplitudes 0 and max_rf_hz = 0.
BrukerShape bruker_shape_from_waveform(const RVec& ux_hz, const RVec& uy_hz, double dt_s,
                                       double& max_rf_hz, const ShapeFrame& frame = {});

}  // namespace nmrc
