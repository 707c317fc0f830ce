// The compiler's Team over MPI_COMM_WORLD (Open MPI; docs/mpi.md). GRAPE calls allgather once
// per evaluation from one thread (MPI_THREAD_FUNNELED: the process's main thread, which runs
// the starts when a team shares them, grape.cpp's plan_stages).
#include "mpi_team.hpp"

#include <chrono>
#include <cstdlib>
#include <deque>
#include <memory>

#ifdef NMRC_WITH_MPI
#include <mpi.h>

#include "nmrc/core/error.hpp"
#endif

namespace nmrc::cli {

#ifdef NMRC_WITH_MPI
namespace {

// mpirun's own processes say so in their environment (Open MPI's OMPI_COMM_WORLD_SIZE, PMIx's
// PMIX_RANK, PMI's PMI_RANK): a plain `nmrc ...` never starts MPI (a singleton MPI_Init would
// start Open MPI's runtime for nothing).
bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(v)) return true;
  return false;
}

class MpiTeam final : public compiler::Team {
 public:
  // MPI_COMM_WORLD, or a communicator of its own (split; freed with the team).
  explicit MpiTeam(MPI_Comm comm = MPI_COMM_WORLD, bool owned = false)
      : comm_(comm), owned_(owned) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiTeam() override {
    if (owned_) MPI_Comm_free(&comm_);
  }
  MpiTeam(const MpiTeam&) = delete;
  MpiTeam& operator=(const MpiTeam&) = delete;
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allgather(const std::vector<double>& mine, const std::vector<int>& counts,
                 std::vector<double>& all) override {
    const auto t0 = std::chrono::steady_clock::now();
    displs_.assign(size_, 0);
    long total = 0;
    for (int r = 0; r < size_; ++r) {
      displs_[r] = static_cast<int>(total);
      total += counts[r];
    }
    NMRC_CHECK(static_cast<long>(mine.size()) == counts[rank_] && total < (1L << 31),
               "allgather: this rank's count or the total is out of range");
    all.resize(total);
    check(MPI_Allgatherv(mine.data(), counts[rank_], MPI_DOUBLE, all.data(), counts.data(),
                         displs_.data(), MPI_DOUBLE, comm_));
    bytes_ += 8.0 * (static_cast<double>(mine.size()) + static_cast<double>(total));
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  void broadcast(std::string& text) override {
    const auto t0 = std::chrono::steady_clock::now();
    long n = static_cast<long>(text.size());
    check(MPI_Bcast(&n, 1, MPI_LONG, 0, comm_));
    NMRC_CHECK(n >= 0 && n < (1L << 31), "broadcast: text size out of range");
    text.resize(n);
    if (n > 0) check(MPI_Bcast(text.data(), static_cast<int>(n), MPI_CHAR, 0, comm_));
    bytes_ += 8.0 + static_cast<double>(n);
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  void gather(const std::string& mine, std::vector<std::string>& all) override {
    const auto t0 = std::chrono::steady_clock::now();
    NMRC_CHECK(mine.size() < (1UL << 31), "gather: this rank's text is too long");
    const int n = static_cast<int>(mine.size());
    std::vector<int> sizes(rank_ == 0 ? size_ : 0);
    check(MPI_Gather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, comm_));
    std::string joined;
    long total = 0;
    if (rank_ == 0) {
      displs_.assign(size_, 0);
      for (int r = 0; r < size_; ++r) {
        NMRC_CHECK(sizes[r] >= 0, "gather: a rank's size is out of range");
        displs_[r] = static_cast<int>(total);
        total += sizes[r];
        NMRC_CHECK(total < (1L << 31), "gather: the ranks' texts are too long together");
      }
      joined.resize(total);
    }
    check(MPI_Gatherv(mine.data(), n, MPI_CHAR, joined.data(), sizes.data(), displs_.data(),
                      MPI_CHAR, 0, comm_));
    all.clear();
    if (rank_ == 0)
      for (int r = 0; r < size_; ++r) all.push_back(joined.substr(displs_[r], sizes[r]));
    bytes_ += 4.0 + static_cast<double>(n) + static_cast<double>(total);
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  std::unique_ptr<compiler::Team> split(int color) override {
    NMRC_CHECK(color >= 0, "split: a color must be >= 0");
    MPI_Comm sub = MPI_COMM_NULL;
    check(MPI_Comm_split(comm_, color, rank_, &sub));
    return std::make_unique<MpiTeam>(sub, true);
  }
  void post(int value) override {
    posted_.push_back(value);  // a deque: the buffer stays where it is until end_posts
    sent_.resize(size_, 0);
    for (int r = 0; r < size_; ++r)
      if (r != rank_) {
        requests_.emplace_back();
        check(MPI_Isend(&posted_.back(), 1, MPI_INT, r, kPostTag, comm_, &requests_.back()));
        ++sent_[r];
      }
  }
  std::vector<int> take_posts() override {
    std::vector<int> got;
    for (;;) {
      int flag = 0;
      MPI_Status st;
      check(MPI_Iprobe(MPI_ANY_SOURCE, kPostTag, comm_, &flag, &st));
      if (!flag) return got;
      int v = 0;
      check(MPI_Recv(&v, 1, MPI_INT, st.MPI_SOURCE, kPostTag, comm_, MPI_STATUS_IGNORE));
      ++received_;
      got.push_back(v);
    }
  }
  void end_posts() override {
    if (!requests_.empty())
      check(MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE));
    sent_.resize(size_, 0);
    int incoming = 0;  // the posts sent to this rank, by every rank
    check(MPI_Reduce_scatter_block(sent_.data(), &incoming, 1, MPI_INT, MPI_SUM, comm_));
    for (; received_ < incoming; ++received_) {
      int v = 0;
      check(MPI_Recv(&v, 1, MPI_INT, MPI_ANY_SOURCE, kPostTag, comm_, MPI_STATUS_IGNORE));
    }
    posted_.clear();
    requests_.clear();
    sent_.assign(size_, 0);
    received_ = 0;
  }
  double bytes_moved() const override { return bytes_; }
  double seconds_in_collectives() const override { return seconds_; }

 private:
  // MPI's default error handler aborts the job; this is for one that returns.
  static void check(int rc) {
    if (rc != MPI_SUCCESS)
      throw ResourceError("mpi: a collective failed (MPI error " + std::to_string(rc) + ")");
  }
  static constexpr int kPostTag = 7031;  // post's point-to-point messages (no collective's)
  MPI_Comm comm_;
  bool owned_ = false;
  std::deque<int> posted_;
  std::vector<MPI_Request> requests_;
  std::vector<int> sent_;  // posts sent to each rank since end_posts
  int received_ = 0;       // posts received since end_posts
  int rank_ = 0, size_ = 1;
  std::vector<int> displs_;
  double bytes_ = 0, seconds_ = 0;
};

bool g_started = false;
std::unique_ptr<MpiTeam> g_team;

}  // namespace

void start_mpi() {
  if (g_started || !launched_by_mpi()) return;
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  g_started = true;
  g_team = std::make_unique<MpiTeam>();
}

compiler::Team* mpi_team() { return g_team && g_team->size() > 1 ? g_team.get() : nullptr; }

int mpi_rank() { return g_team ? g_team->rank() : 0; }

void finish_mpi() {
  if (!g_started) return;
  g_team.reset();
  MPI_Finalize();
  g_started = false;
}

void abort_mpi(int code) {
  if (g_started && g_team && g_team->size() > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

#else  // built without MPI: one process

void start_mpi() {}
compiler::Team* mpi_team() { return nullptr; }
int mpi_rank() { return 0; }
void finish_mpi() {}
void abort_mpi(int) {}

#endif

}  // namespace nmrc::cli
