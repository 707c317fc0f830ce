// Play back: the sequence an exported TopSpin experiment describes, read from the folder alone
// (its pulse program, acqus and the shapes in lists/wave), for nmrc's virtual spectrometer.
// The independent check of nmrc export bruker (docs/bruker.md, "Play back"): what the console
// is told to play, played by nmrc, must do what the exported sequence did.
#pragma once

#include <string>

#include "nmrc/core/molecule.hpp"
#include "nmrc/core/sequence.hpp"

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
/// timing (d1, d11, d16, "4u" statements, UNBLKGRAD/BLKGRAD) and the decoupler (cpds, do: its
/// effect is not simulated) are not played. f1 is the channel of NUC1. `phase_sense` as the
/// export's (phases are divided by it).
/// Throws InputError "path:line: text: rule" for a statement it cannot play, a missing
/// parameter or shape, and an uncalibrated export (PLW[1] or P[1] zero).
Sequence read_bruker_experiment(const std::string& dir, int expno, const Molecule& molecule,
                                int phase_sense = 1);

}  // namespace nmrc::compiler
