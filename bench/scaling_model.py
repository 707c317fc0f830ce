#!/usr/bin/env python3
"""Strong-scaling model of `mpirun -n N nmrc compile` (bench/results/scaling.md, docs/mpi.md).

Every input is a measured figure given on the command line (defaults: those of
bench/results/scaling.md) or a stated assumption (the network, which this machine cannot measure).
One start; N ranks, one rank of two threads per 2-core node. With N <= M (members) the ranks share
whole members (one allgather per evaluation); with N > M they share the (member, time slice)
units, S slices per member (grape.cpp's rule, slice_count: 2 below d = 64, else the fewest of
2, 4, 8, 16 with steps * 48 d^2 / S <= 32 MiB, at most the steps):

  members:  T_eval(N) = ceil(M / N) * t_member / g2 + t_ag(N, B_g) + t_opt
  slices:   T_eval(N) = w(ceil(M S / N)) * t_member / S + t_comb + t_ag(N, B_x) + t_ag(N, B_g)
            + t_opt,   w(1) = 1, w(u) = u / g2 (a rank's units on its two threads)
  t_member(d) = c128 * (d / 128)^3 * steps / 200     (c128: measured CPU s of one member, 200 steps,
                                                      7 spins; d^3 beyond it is an assumption)
  t_comb = (M (S - 1) + (S - 2) min(M, ceil(u / S) + 1) + 2 u) * t_prod(d),  u = ceil(M S / N)
           (every rank: every member's prefix products and U, the suffix products of the members
           it has units of, the left factors of its own units; t_prod(d) = p128 * (d / 128)^3,
           p128 measured: one d = 128 complex product)
  t_ag(N, B) = (N - 1) * alpha + (N - 1) / N * B / beta   (ring allgather)
  B_g = M * 8 * (2 + 2 * channels * steps)  bytes (g_m and its gradient per member)
  B_x = M * S * 16 d^2                      bytes (every slice propagator, slices only)
  t_opt = opt_ms_per_var * 2 * channels * steps      (L-BFGS-B, replicated on every rank)
  memory per member = steps * 3 * 16 * d^2 bytes     (the kernel's per-step matrices, grape.cpp's
                                                      own estimate); per rank with slices:
                                                      ceil(M S / N) / S of it + 2 B_x (the
                                                      gathered propagators and their buffer)
"""
import argparse
import math

ap = argparse.ArgumentParser()
ap.add_argument("--c128", type=float, default=0.462, help="CPU s per member evaluation, d=128, 200 steps")
ap.add_argument("--p128-ms", type=float, default=0.48, help="ms per d=128 complex product (measured: scaling.md)")
ap.add_argument("--g2", type=float, default=1.75, help="two-thread speed-up")
ap.add_argument("--alpha-us", type=float, default=50.0, help="network latency per hop (assumed)")
ap.add_argument("--beta-gbs", type=float, default=1.25, help="network bandwidth GB/s (assumed)")
ap.add_argument("--opt-ms-per-var", type=float, default=1.0 / 850, help="L-BFGS-B ms per variable")
ap.add_argument("--steps", type=int, default=1000)
ap.add_argument("--channels", type=int, default=2)
ap.add_argument("--members", type=int, default=5)
ap.add_argument("--no-slices", action="store_true", help="members only (the scheme before slices)")
args = ap.parse_args()


def slice_count(d, steps):
    if steps < 2:
        return 1
    if d < 64:
        return 2
    s = 2
    while s < 16 and steps * 48.0 * d * d / s > 32 * 1024 * 1024:
        s *= 2
    return min(s, steps)


nodes = [1, 2, 4, 5, 8, 16, 32, 64]
m = args.members
print(f"M = {m} members, {args.steps} steps, {args.channels} channels; "
      f"alpha {args.alpha_us} us, beta {args.beta_gbs} GB/s (assumed)"
      + ("; members only" if args.no_slices else "") + "\n")
print("| spins | d | S | t_member (s, 1 core) | memory / member | "
      + " | ".join(f"N={n}" for n in nodes) + " | memory / rank at N=64 |")
print("|---|---|---|---|---|" + "---|" * len(nodes) + "---|")
for spins in (7, 8, 10, 12):
    d = 2 ** spins
    s = slice_count(d, args.steps)
    tm = args.c128 * (d / 128) ** 3 * args.steps / 200
    tp = args.p128_ms * 1e-3 * (d / 128) ** 3
    mem = args.steps * 3 * 16 * d * d
    b_g = m * 8 * (2 + 2 * args.channels * args.steps)
    b_x = m * s * 16 * d * d
    topt = args.opt_ms_per_var * 2 * args.channels * args.steps / 1e3

    def ag(n, b):
        return (n - 1) * args.alpha_us * 1e-6 + (n - 1) / n * b / (args.beta_gbs * 1e9)

    def sliced(n):
        return n > m and s > 1 and not args.no_slices

    def t(n):
        if not sliced(n):
            return math.ceil(m / n) * tm / args.g2 + ag(n, b_g) + topt
        u = math.ceil(m * s / n)
        work = (1 if u == 1 else u / args.g2) * tm / s
        comb = (m * (s - 1) + (s - 2) * min(m, math.ceil(u / s) + 1) + 2 * u) * tp
        return work + comb + ag(n, b_x) + ag(n, b_g) + topt

    def mem_rank(n):
        if not sliced(n):
            return math.ceil(m / n) * mem
        return math.ceil(m * s / n) * mem / s + 2 * b_x

    cells = [f"{t(n):.3g} s ({t(1) / t(n):.2f}x)" for n in nodes]
    print(f"| {spins} | {d} | {s} | {tm:.3g} | {mem / 1e9:.3g} GB | " + " | ".join(cells)
          + f" | {mem_rank(64) / 1e9:.3g} GB |")
