#!/usr/bin/python3
"""Compile the paper's C1-C4 partial SWAP (theta = g tau = 0.2, Huang et al., Fig. 3 setting;
sequences/gates/partial_swap_c1_c4.yaml) on crotonic acid with nmrc's GRAPE, then plot the
pulse's amplitude and phase.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/compile_partial_swap.py --out /tmp/ps

The full problem (18.5 ms, 400 steps, five B1 members) takes about a minute; --steps 20
--max-iterations 5 runs in a second (the test suite does that: the pulse is then poor).
"""
import argparse
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import nmrc  # noqa: E402

ROOT = nmrc.data_dir()  # molecules/ and sequences/: /usr/share/nmrc, or the source tree


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=0.0185, help="pulse length, s")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--max-iterations", type=int, default=4000)
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("."))
    a = ap.parse_args()

    mol = nmrc.load_molecule(ROOT / "molecules" / "crotonic_acid.yaml")
    r = nmrc.compile(mol, nmrc.partial_swap("C1", "C4", theta_rad=0.2), duration_s=a.duration,
                     steps=a.steps, b1_scale=[0.97, 0.985, 1.0, 1.015, 1.03], max_rf_hz=10000,
                     max_iterations=a.max_iterations, name="swap_c1_c4",
                     progress=lambda g: None)
    p = r.pulse
    print(r.summary.report)
    j = nmrc.fidelity(p, mol)  # the spectrometer's independent re-simulation
    print(f"judge: nominal {j.nominal:.5f}, min over B1 {j.min:.5f}")

    a.out.mkdir(parents=True, exist_ok=True)
    p.write(a.out / "swap_c1_c4.json")
    t_ms = p.times_s * 1e3
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(8, 5))
    ax1.step(t_ms, p.amplitude_hz[0] / 1e3, where="post")
    ax1.set_ylabel("amplitude (kHz)")
    ax1.set_title(f"C1-C4 partial SWAP, F_min = {r.summary.fidelity_min:.4f}")
    ax2.plot(t_ms, np.degrees(p.phase_rad[0]), ".", ms=2)
    ax2.set_ylabel("phase (deg)")
    ax2.set_xlabel("time (ms)")
    fig.tight_layout()
    fig.savefig(a.out / "swap_c1_c4.png", dpi=100)
    print(f"wrote {a.out / 'swap_c1_c4.json'} and {a.out / 'swap_c1_c4.png'}")


if __name__ == "__main__":
    main()
