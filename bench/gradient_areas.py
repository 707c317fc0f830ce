#!/usr/bin/python3
"""Which coherence orders the PPS (Eq. (S15)) and the bath rotation create, and the smallest
integer gradient areas none of whose paths refocuses (docs/bruker.md, "Gradient areas and
strengths for a real sample"; the run uses 1 3 9 27 81, which the last line checks).

A coherence element |a><b| has order p = m_a - m_b (all four spins 13C); a gradient of area A
multiplies it by exp(i 2 pi q z p A). Along a pathway with order p_i during gradient i the
element keeps exp(i 2 pi q z sum_i p_i A_i): a real sample averages it away unless that sum is 0
(a gradient echo). This script propagates the deviation sum_k Z_k (high temperature, equal
polarisations: the path structure, not the amplitudes, matters) through the ideal operations of
Eq. (S15) and the bath's R_y, splits the state by coherence order after each gradient, and keeps
every pathway with a non-zero amplitude. Then it searches the integer area sets of smallest
total for which no pathway (the PPS alone, and PPS + bath) sums to 0, and, for comparison, the
smallest sets for "every |p_i| <= P". numpy only, independent of nmrc's C++ (the C++ check:
experiment_tests -tc='*refocus no coherence path*' plays the result on z slices).

Usage: /usr/bin/python3 bench/gradient_areas.py
"""
import itertools

import numpy as np

N = 4
D = 1 << N
I2 = np.eye(2)
X = np.array([[0.0, 1.0], [1.0, 0.0]])
Z = np.diag([1.0, -1.0])


def on(single, k):
    """single on spin k (0-based, spin 1 = most significant bit) of N."""
    m = np.array([[1.0]])
    for j in range(N):
        m = np.kron(m, single if j == k else I2)
    return m


def ry(t):
    return np.array([[np.cos(t / 2), -np.sin(t / 2)], [np.sin(t / 2), np.cos(t / 2)]])


def controlled(u, c, t):
    """u on spin t if spin c is |1>."""
    a = b = np.array([[1.0]])
    for j in range(N):
        a = np.kron(a, np.diag([1.0, 0.0]) if j == c else I2)
        b = np.kron(b, np.diag([0.0, 1.0]) if j == c else (u if j == t else I2))
    return a + b


def pathways():
    m = np.array([sum(0.5 if (s >> (N - 1 - j)) & 1 == 0 else -0.5 for j in range(N))
                  for s in range(D)])
    order = np.rint(m[:, None] - m[None, :]).astype(int)
    t_r = 0.9  # the bath's temperature in Fig. 3 (any angle gives the same pathways)
    theta = 2 * np.arccos(np.sqrt(1 / (1 + np.exp(-1 / t_r))))
    steps = [  # Eq. (S15)'s steps (spectrometer::pps_steps), then the bath rotation on spin 4
        [on(ry(np.arccos(1 / 2)), 1), on(ry(np.arccos(1 / 4)), 2), on(ry(np.arccos(1 / 8)), 3)],
        [controlled(X, 1, 0), controlled(X, 2, 1), controlled(ry(np.pi / 2), 3, 2)],
        [controlled(ry(np.pi / 2), 2, 1)],
        [controlled(ry(np.pi / 2), 1, 0)],
        [on(ry(theta), 3)],
    ]
    paths = {(): sum(on(Z, k) for k in range(N))}
    for ops in steps:
        new = {}
        for path, rho in paths.items():
            for u in ops:
                rho = u @ rho @ u.T
            for p in range(-N, N + 1):
                part = np.where(order == p, rho, 0.0)
                if np.linalg.norm(part) > 1e-12:
                    new[path + (p,)] = part
        paths = new
    return paths


def smallest(paths, k, max_total):
    """The integer area sets of smallest total (k areas) no pathway sums to 0 with."""
    paths = np.array(paths)
    for total in range(k, max_total + 1):
        sets = np.array([[b - a for a, b in zip((0,) + c, c + (total,))]
                         for c in itertools.combinations(range(1, total), k - 1)])
        ok = np.ones(len(sets), bool)
        for i in range(0, len(paths), 64):
            ok &= ~((paths[i:i + 64] @ sets.T) == 0).any(axis=0)
        if ok.any():
            return total, sets[ok].tolist()
    return None, []


def main():
    paths = pathways()
    five = [p for p in paths if any(p)]
    four = sorted({p[:4] for p in paths if any(p[:4])})
    print(f"{len(paths)} pathways from equilibrium; largest |p| per gradient:",
          [max(abs(p[i]) for p in paths) for i in range(5)])
    both = [p for p in five] + [p + (0,) for p in four]
    total, sets = smallest(both, 5, 40)
    print(f"PPS + bath: smallest total {total}: {sets}")
    total, sets = smallest(four, 4, 40)
    print(f"PPS alone: smallest total {total}: {sets}")
    for p_max in (1, 2, 3):
        every = [p for p in itertools.product(range(-p_max, p_max + 1), repeat=4) if any(p)]
        total, sets = smallest(every, 4, 200)
        print(f"4 gradients, every |p_i| <= {p_max}: smallest total {total}: {sets[0]}")
    for areas in ((1, 5, 25, 125, 1), (1, 2, 2, 4, 6), (1, 3, 9, 27, 81)):
        back = [(p, np.linalg.norm(paths[p])) for p in five
                if sum(a * b for a, b in zip(p, areas)) == 0]
        print(f"areas {areas}: {len(back)} pathways refocus, e.g. {back[:2]}")


if __name__ == "__main__":
    main()
