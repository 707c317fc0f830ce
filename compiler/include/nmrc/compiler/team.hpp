// The processes that share one GRAPE problem (`mpirun -n N nmrc compile`, docs/mpi.md). The
// compiler library knows no MPI: the CLI implements Team over MPI_COMM_WORLD (cli/mpi_team.cpp,
// built when CMake finds MPI) and hands it to GRAPE through GrapeOptions::team. Every rank runs
// the same optimisation in lock step; each evaluates its share of the ensemble members and one
// allgather per evaluation gives every rank every member's fidelity and gradient, which each then
// sums in member order exactly as one process does: results are bit-identical for any rank count.
#pragma once

#include <string>
#include <vector>

namespace nmrc::compiler {

class Team {
 public:
  virtual ~Team() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Collective: every rank gives `mine` (counts[rank()] values; `counts` is the same on every
  /// rank); `all` receives every rank's values in rank order (sum of counts).
  virtual void allgather(const std::vector<double>& mine, const std::vector<int>& counts,
                         std::vector<double>& all) = 0;
  /// Collective: rank 0's `text` replaces every other rank's.
  virtual void broadcast(std::string& text) = 0;
  /// Bytes this process sent plus received in collectives so far (for measurements).
  virtual double bytes_moved() const = 0;
  /// Seconds this process spent inside collectives so far (waiting included).
  virtual double seconds_in_collectives() const = 0;
};

/// True when `team` has more than one process.
inline bool team_shared(const Team* team) { return team && team->size() > 1; }
/// True for the process that writes files and prints (rank 0, or no team).
inline bool team_root(const Team* team) { return !team || team->rank() == 0; }

/// Members [begin, end) of `members` that rank `rank` of `size` evaluates: contiguous, nearly
/// equal blocks in member order.
inline void member_block(int members, int rank, int size, int& begin, int& end) {
  begin = static_cast<int>(static_cast<long long>(members) * rank / size);
  end = static_cast<int>(static_cast<long long>(members) * (rank + 1) / size);
}

}  // namespace nmrc::compiler
