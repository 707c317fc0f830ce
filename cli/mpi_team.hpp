// nmrc under mpirun (docs/mpi.md): the processes of MPI_COMM_WORLD as the compiler's Team.
// Built with MPI when CMake finds it (NMRC_MPI); otherwise, and when nmrc was not started by
// mpirun, there is no team and nmrc runs as one process.
#pragma once

#include "nmrc/compiler/team.hpp"

namespace nmrc::cli {

/// Starts MPI when nmrc was built with it and mpirun (or another PMI launcher) started this
/// process; otherwise does nothing. Call once, first thing in main.
void start_mpi();
/// The team of MPI_COMM_WORLD when it has more than one process; null otherwise.
compiler::Team* mpi_team();
/// This process's rank (0 without MPI).
int mpi_rank();
/// Ends MPI normally (every rank, after its command returned).
void finish_mpi();
/// Ends every rank of the job with `code` (a failure one rank may have alone); returns without
/// MPI or with a single process.
void abort_mpi(int code);

}  // namespace nmrc::cli
