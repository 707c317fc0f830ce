// share_items: independent items across a team's ranks, gathered by rank 0 (team.hpp).
#include "nmrc/compiler/team.hpp"

#include <exception>
#include <memory>
#include <new>
#include <stdexcept>

#include "nmrc/core/error.hpp"

namespace nmrc::compiler {

namespace {

// An item's text travels with a one-character tag: 'o' its result, 'i' an InputError's message,
// 'r' a ResourceError's, 'x' any other failure's.
std::string tagged(char tag, const char* what) {
  std::string t(1, tag);
  t.append(what);
  return t;
}

std::string failure_text(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const InputError& x) {
    return tagged('i', x.what());
  } catch (const ResourceError& x) {
    return tagged('r', x.what());
  } catch (const std::bad_alloc&) {
    return "rnmrc: out of memory (try a smaller problem or fewer threads; docs/limits.md)";
  } catch (const std::exception& x) {
    return tagged('x', x.what());
  } catch (...) {
    return "xan unknown exception";
  }
}

[[noreturn]] void throw_failure(const std::string& tagged, bool root) {
  const std::string what = tagged.substr(1);
  if (tagged[0] == 'i' || !root) throw InputError(what);  // rank 0 alone reports the others
  if (tagged[0] == 'r') throw ResourceError(what);
  throw std::runtime_error(what);
}

}  // namespace

void share_items(Team* team, std::size_t n, const std::function<std::string(std::size_t)>& produce,
                 const std::function<void(std::size_t, const std::string&)>& consume) {
  share_items_in_groups(
      team, n, team_shared(team) ? team->size() : 1,
      [&produce](std::size_t i, Team*) { return produce(i); }, consume);
}

void share_items_in_groups(Team* team, std::size_t n, int groups,
                           const std::function<std::string(std::size_t, Team* group)>& produce,
                           const std::function<void(std::size_t, const std::string&)>& consume) {
  if (!team_shared(team)) {
    for (std::size_t i = 0; i < n; ++i) consume(i, produce(i, nullptr));
    return;
  }
  NMRC_CHECK(groups >= 1 && groups <= team->size(), "share_items: groups out of range");
  const std::size_t size = static_cast<std::size_t>(team->size());
  const std::size_t rank = static_cast<std::size_t>(team->rank());
  const std::size_t ngroups = static_cast<std::size_t>(groups);
  const std::size_t group = rank % ngroups;
  const bool root = rank == 0;
  // A group of several ranks has a team of its own (one split, on every rank alike).
  std::unique_ptr<Team> own;
  if (ngroups < size) own = team->split(static_cast<int>(group));
  Team* group_team = team_shared(own.get()) ? own.get() : nullptr;
  // This rank's items first, all of them (no rank waits for a slower one between its items), up
  // to its first failure (the items after it would not be consumed); then the rounds.
  std::vector<std::string> mine_all;
  for (std::size_t i = group; i < n; i += ngroups) {
    try {
      mine_all.push_back(produce(i, group_team));
      mine_all.back().insert(mine_all.back().begin(), 'o');
      if (rank >= ngroups) mine_all.back().resize(1);  // rank 0 reads the group leader's only
    } catch (const InputError&) {
      mine_all.push_back(failure_text(std::current_exception()));
      break;
    } catch (...) {
      if (group_team) throw;  // the group's other ranks may wait for this one: end the job
      mine_all.push_back(failure_text(std::current_exception()));
      break;
    }
  }
  std::vector<std::string> texts;
  for (std::size_t first = 0, round = 0; first < n; first += ngroups, ++round) {
    std::string mine;
    if (round < mine_all.size()) mine = std::move(mine_all[round]);
    team->gather(mine, texts);
    std::string failure;  // rank 0's verdict on the round: empty, or the first failure
    if (root)
      for (std::size_t g = 0; g < ngroups && first + g < n && failure.empty(); ++g) {
        for (std::size_t r = g; r < size && failure.empty(); r += ngroups) {
          NMRC_CHECK(!texts[r].empty(), "share_items: a rank sent no result");
          if (texts[r][0] != 'o') failure = texts[r];
        }
        if (!failure.empty()) break;
        try {
          consume(first + g, texts[g].substr(1));
        } catch (...) {
          failure = failure_text(std::current_exception());
        }
      }
    team->broadcast(failure);
    if (!failure.empty()) throw_failure(failure, root);
  }
}

}  // namespace nmrc::compiler
