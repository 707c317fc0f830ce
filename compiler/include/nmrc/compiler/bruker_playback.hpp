// Play back: the sequence an exported TopSpin experiment describes, read from the folder alone
// (its pulse program, acqus and the shapes in lists/wave), for nmrc's virtual spectrometer.
// The independent check of nmrc export bruker (docs/bruker.md, "Play back"): what the console
// is told to play, played by nmrc, must do what the exported sequence did.
#pragma once

#include <string>
#include <vector>

#include "nmrc/compiler/bruker_export.hpp"
#include "nmrc/core/molecule.hpp"
#include "nmrc/core/sequence.hpp"
#include "nmrc/core/types.hpp"

namespace nmrc::compiler {

/// The sequence of EXPNO `expno` of the export folder `dir` on `molecule`: `dir`/<expno>/
/// pulseprogram and acqus, shapes `dir`/lists/wave/<SPNAM>. Pulse-program statements, as
/// Bruker's syntax and nmrc's export write them: "dN" a delay D[N]; "pN:gpM" a gradient of
/// P[N] us at GPZ[M] % of the strength the program's ";for z-only gradients (GPZ 100 % = G
/// G/cm)" comment names, with the area factor of the shape file `dir`/lists/gp/GPNAM[M]
/// (shape_integfac of its points); "(pN
/// phM):fF" a hard pulse of P[N] us at the power level last set on fF ("4u plK:fF"), nutation
/// nu1 sqrt(PLW[K]/PLW[1]) with nu1 = 1/(4 P[1]); "(pN:spM ph0):fF" a shape SPNAM[M] for P[N]
/// us at 100 % = nu1 sqrt(SPW[M]/PLW[1]); "L ..." and "lo to L times n" a loop; "go=2 ph31"
/// the acquisition (TD/2 points at SW_h, receiver phase ph31 x 90 degrees). The console's own
/// timing (d1, d11, d16, "4u" statements, UNBLKGRAD/BLKGRAD) and the decoupler's statements
/// (cpds2, cw, do, plN on f2: the 4-spin model has no protons; decoupled_unitary_as_exported
/// plays the export's own f2 timeline on a heteronuclear molecule) are not played, except the
/// fixed delays between the last pulse and go=2 (spectrometer::preacquisition_delay_s: the
/// decoupler's switch back after a readout under CW), played as one delay before the
/// acquisition: the FID starts after that free evolution, as the console's does. f1 is the channel
/// of NUC1. `phase_sense` as the export's (phases are divided by it). Throws InputError "path:line:
/// text: rule" for a statement it cannot play, a missing parameter or shape, and an uncalibrated
/// export (PLW[1] or P[1] zero).
Sequence read_bruker_experiment(const std::string& dir, int expno, const Molecule& molecule,
                                int phase_sense = 1);

/// The exported f2 timeline of one experiment as the carbons live it: the sequence's elements
/// (without the acquisition) with every switching statement (BrukerDecouplerStep element -1)
/// as a delay where the export wrote it, so that a 4-spin simulation has the console's timing
/// (the 4-spin reference of decoupled_unitary_as_exported). Throws InputError when `steps`
/// is not the timeline of `seq` (an element missing, out of order, or of another length).
Sequence exported_timeline(const Sequence& seq, const std::vector<BrukerDecouplerStep>& steps);

/// The propagator of that timeline on the heteronuclear molecule `mh` (the export molecule's
/// carbons plus the decoupled protons, e.g. molecules/crotonic_acid_7.yaml) with f2 playing
/// what the export wrote (BrukerExportResult::decoupler): the CPD program `d.program` at PCPD2
/// `d.pcpd_us`, CW at `d.cw_b2_hz`, nothing during the "do"/"plN" statements; each change of
/// setting restarts the new one (spectrometer::DecoupledEvolution::switch_to, as "cpds2:f2"
/// and "cw:f2" start theirs); O2 = d.o2_ppm on mh's channel "1H". Elements: shaped and hard
/// pulses on mh's other channels, delays (InputError otherwise, e.g. for a gradient).
Mat decoupled_unitary_as_exported(const Molecule& mh, const Sequence& seq,
                                  const std::vector<BrukerDecouplerStep>& steps,
                                  const BrukerDecoupling& d);

}  // namespace nmrc::compiler
