// The processes that share one GRAPE problem (`mpirun -n N nmrc compile`, docs/mpi.md). The
// compiler library knows no MPI: the CLI implements Team over MPI_COMM_WORLD (cli/mpi_team.cpp,
// built when CMake finds MPI) and hands it to GRAPE through GrapeOptions::team. Every rank runs
// the same optimisation in lock step; each evaluates its share of the ensemble members and one
// allgather per evaluation gives every rank every member's fidelity and gradient, which each then
// sums in member order exactly as one process does: results are bit-identical for any rank count.
#pragma once

#include <cstddef>
#include <functional>
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
  /// Collective: every rank gives `mine`; rank 0's `all` receives every rank's text in rank order
  /// (the others' `all` is left empty). For independent work gathered by the rank that writes
  /// (`mpirun -n N nmrc experiment`: each rank's case files).
  virtual void gather(const std::string& mine, std::vector<std::string>& all) = 0;
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

/// Independent items shared by a team's ranks, gathered by rank 0 (`mpirun -n N nmrc
/// experiment`: one item per case; docs/mpi.md): the ranks' counterpart of parallel_for. Item i
/// runs on rank i % size (produce(i) returns its result as text); each rank produces all its
/// items, then round by round (`size` items, one gather each) rank 0 receives their texts and
/// calls consume(i, text) in item order, so what rank 0 writes is in the order one process
/// writes it, whatever the rank count. Without
/// a team every item is produced and consumed in turn on this process and exceptions pass
/// unchanged. Under a team an exception of produce (on any rank) or consume stops the run at that
/// item as in one process (the items before it are consumed, none after) and is thrown on every
/// rank after the round's broadcast: an InputError as itself, a ResourceError as itself on rank 0
/// (the others throw it as an InputError: rank 0 alone reports a shared failure), anything else
/// as std::runtime_error with its message.
void share_items(Team* team, std::size_t n, const std::function<std::string(std::size_t)>& produce,
                 const std::function<void(std::size_t, const std::string&)>& consume);

}  // namespace nmrc::compiler
