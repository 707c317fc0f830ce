// The cost of GRAPE's one collective per evaluation under MPI (docs/mpi.md): MPI_Allgatherv of
// `doubles` values per rank, as EnsembleWorkspace::exchange sends them, timed over many calls.
// Usage: mpirun -n N mpi_allgather [doubles...] (default: 1 16 256 4096 65536 524288).
// Prints one JSON line per size from rank 0: ranks, doubles per rank, bytes received per rank
// and call, microseconds per call (the slowest rank's mean).
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::vector<long> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::max(1L, std::atol(argv[i])));
  if (sizes.empty()) sizes = {1, 16, 256, 4096, 65536, 524288};
  for (long n : sizes) {
    std::vector<double> mine(n, rank), all(n * size);
    std::vector<int> counts(size, static_cast<int>(n)), displs(size);
    for (int r = 0; r < size; ++r) displs[r] = static_cast<int>(r * n);
    // About 0.5 s per size, at least 20 calls; the first 5 warm up.
    const int calls = static_cast<int>(std::clamp(20000000L / (n * size + 1000), 20L, 20000L));
    for (int w = 0; w < 5; ++w)
      MPI_Allgatherv(mine.data(), static_cast<int>(n), MPI_DOUBLE, all.data(), counts.data(),
                     displs.data(), MPI_DOUBLE, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = MPI_Wtime();
    for (int c = 0; c < calls; ++c)
      MPI_Allgatherv(mine.data(), static_cast<int>(n), MPI_DOUBLE, all.data(), counts.data(),
                     displs.data(), MPI_DOUBLE, MPI_COMM_WORLD);
    double per = (MPI_Wtime() - t0) / calls, slowest = 0;
    MPI_Reduce(&per, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0)
      std::printf(
          "{\"ranks\": %d, \"doubles_per_rank\": %ld, \"bytes_received\": %ld, "
          "\"calls\": %d, \"us_per_call\": %.2f}\n",
          size, n, 8 * n * (size - 1), calls, slowest * 1e6);
  }
  MPI_Finalize();
  return 0;
}
