// The processes that share one GRAPE problem (`mpirun -n N nmrc compile`, docs/mpi.md). The
// compiler library knows no MPI: the CLI implements Team over MPI_COMM_WORLD (cli/mpi_team.cpp,
// built when CMake finds MPI) and hands it to GRAPE through GrapeOptions::team. Every rank runs
// the same optimisation in lock step; each evaluates its share of the ensemble members and one
// allgather per evaluation gives every rank every member's fidelity and gradient, which each then
// sums in member order exactly as one process does: results are bit-identical for any rank count.
// With more ranks than members the ranks share the members' time slices instead (an allgather of
// the slices' propagators, then one of the gradient columns; grape.cpp's EnsembleWorkspace).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
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
  /// Collective: the ranks giving the same `color` (>= 0) form a new team, ranked in this
  /// team's rank order (`mpirun -n N nmrc compile` of several gates: a group of ranks per gate;
  /// several starts: a group per start). Its collectives are its own.
  virtual std::unique_ptr<Team> split(int color) = 0;
  /// Non-blocking: `value` to every other rank of this team (GRAPE's starts dealt to groups of
  /// ranks: a start that reached its target, so that the other groups end their later starts).
  virtual void post(int value) = 0;
  /// Non-blocking: the values other ranks posted that reached this one since the last call.
  virtual std::vector<int> take_posts() = 0;
  /// Collective: every value posted in this team so far has arrived (those not taken are
  /// dropped): none is left in flight when the posting ends.
  virtual void end_posts() = 0;
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
/// equal blocks in member order (GRAPE's (member, slice) units are dealt the same way).
inline void member_block(int members, int rank, int size, int& begin, int& end) {
  begin = static_cast<int>(static_cast<long long>(members) * rank / size);
  end = static_cast<int>(static_cast<long long>(members) * (rank + 1) / size);
}

/// Independent items shared by a team's ranks, gathered by rank 0 (`mpirun -n N nmrc
/// experiment`: one item per pair of runs; docs/mpi.md): the ranks' counterpart of parallel_for.
/// Item i runs on rank i % size (produce(i) returns its result as text); each rank produces all its
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

/// share_items for items that a group of ranks works on together (`mpirun -n N nmrc compile`:
/// one gate per group, each gate's GRAPE shared by its group's ranks). The team is split into
/// `groups` groups (1 to size; rank r in group r % groups, so ranks 0 .. groups-1 lead them);
/// item i is produced by every rank of group i % groups, given its group's team (null for a
/// group of one rank: that rank works alone), and rank 0 consumes the group leader's text.
/// Failures as share_items, the first in item order (any rank of the item's group); a failure
/// other than bad input (InputError) in a group of several ranks is rethrown on its rank at
/// once: its group's other ranks may wait for it in a collective, and the caller ends the job
/// (the CLI's MPI_Abort). Without a team (or of one rank) as share_items.
void share_items_in_groups(Team* team, std::size_t n, int groups,
                           const std::function<std::string(std::size_t, Team* group)>& produce,
                           const std::function<void(std::size_t, const std::string&)>& consume);

}  // namespace nmrc::compiler
