#!/usr/bin/env python3
"""Strong-scaling model of `mpirun -n N nmrc compile` (bench/results/scaling.md, docs/mpi.md).

Every input is a measured figure given on the command line (defaults: those of
bench/results/scaling.md) or a stated assumption (the network, which this machine cannot measure):

  T_eval(N) = ceil(M / N) * t_member(d) / g2 + t_allgather(N, B) + t_opt
  t_member(d) = c128 * (d / 128)^3 * steps / 200     (c128: measured CPU s of one member, 200 steps,
                                                      7 spins; d^3 beyond it is an assumption)
  t_allgather(N, B) = (N - 1) * alpha + (N - 1) / N * B / beta   (ring allgather)
  B = M * 8 * (2 + 2 * channels * steps)  bytes (g_m and its gradient per member, grape.cpp)
  t_opt = opt_ms_per_var * 2 * channels * steps      (L-BFGS-B, replicated on every rank)
  memory per member = steps * 3 * 16 * d^2 bytes     (the kernel's per-step matrices, grape.cpp's
                                                      own estimate)
One rank per node of 2 cores, two threads per rank (g2: the two-thread speed-up).
"""
import argparse
import math

ap = argparse.ArgumentParser()
ap.add_argument("--c128", type=float, default=0.462, help="CPU s per member evaluation, d=128, 200 steps")
ap.add_argument("--g2", type=float, default=1.75, help="two-thread speed-up")
ap.add_argument("--alpha-us", type=float, default=50.0, help="network latency per hop (assumed)")
ap.add_argument("--beta-gbs", type=float, default=1.25, help="network bandwidth GB/s (assumed)")
ap.add_argument("--opt-ms-per-var", type=float, default=1.0 / 850, help="L-BFGS-B ms per variable")
ap.add_argument("--steps", type=int, default=1000)
ap.add_argument("--channels", type=int, default=2)
ap.add_argument("--members", type=int, default=5)
args = ap.parse_args()

nodes = [1, 2, 4, 5, 8, 16, 32, 64]
print(f"M = {args.members} members, {args.steps} steps, {args.channels} channels; "
      f"alpha {args.alpha_us} us, beta {args.beta_gbs} GB/s (assumed)\n")
print("| spins | d | t_member (s, 1 core) | memory / member | B per evaluation | "
      + " | ".join(f"N={n}" for n in nodes) + " |")
print("|---|---|---|---|---|" + "---|" * len(nodes))
for spins in (7, 8, 10, 12):
    d = 2 ** spins
    tm = args.c128 * (d / 128) ** 3 * args.steps / 200
    mem = args.steps * 3 * 16 * d * d
    b = args.members * 8 * (2 + 2 * args.channels * args.steps)
    topt = args.opt_ms_per_var * 2 * args.channels * args.steps / 1e3

    def t(n):
        comm = (n - 1) * args.alpha_us * 1e-6 + (n - 1) / n * b / (args.beta_gbs * 1e9)
        return math.ceil(args.members / n) * tm / args.g2 + comm + topt

    cells = []
    for n in nodes:
        tn = t(n)
        cells.append(f"{tn:.3g} s ({t(1) / tn:.2f}x)")
    memtxt = f"{mem / 1e9:.3g} GB"
    print(f"| {spins} | {d} | {tm:.3g} | {memtxt} | {b / 1e3:.0f} kB | " + " | ".join(cells) + " |")
