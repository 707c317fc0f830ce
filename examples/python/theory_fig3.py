#!/usr/bin/python3
"""Fig. 3 of Huang et al. from Python: the heat-flow program sequences/heat_flow/fig3.yaml
(three subsystems at T = 1, bath at 0.9, cascade S1-S2-S3, c = 0, -0.5, +0.5), run by nmrc's
theory engine, each subsystem's energy change plotted against the collision number; the
result files of `nmrc theory --out` (steps.csv, summary.json, ...) are written to --out too.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/theory_fig3.py --out /tmp/fig3

--collisions N runs the same program with N collisions and without the master-equation and
convergence studies (the test suite uses --collisions 5).
"""
import argparse
import pathlib
import re
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import nmrc  # noqa: E402

ROOT = nmrc.data_dir()  # molecules/ and sequences/: /usr/share/nmrc, or the source tree
PROGRAM = ROOT / "sequences" / "heat_flow" / "fig3.yaml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--collisions", type=int, default=None)
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("."))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        program = PROGRAM
        if a.collisions is not None:  # the same file with fewer collisions, no extra studies
            text = PROGRAM.read_text()
            text = re.sub(r"collisions: \d+", f"collisions: {a.collisions}", text)
            text = re.sub(r"\n\s*(master_equation: true|convergence: .*)", "", text)
            program = pathlib.Path(tmp) / "fig3.yaml"
            program.write_text(text)
        # out=: the CSV and JSON files the CLI writes (the same bytes), e.g. OUT/c_0/steps.csv
        runs = nmrc.theory(program, out=a.out)

    fig, axes = plt.subplots(1, len(runs), figsize=(4 * len(runs), 3.5), sharey=True)
    for ax, run in zip(axes, runs):
        s = run.steps
        ends = s.acting == len(run.subsystems) - 1  # after the last subsystem met R
        ends[0] = True
        for k, name in enumerate(run.subsystems):
            ax.plot(s.collision[ends], s.energy[ends, k] - s.energy[0, k], label=name)
        ax.axhline(0, color="gray", lw=0.5)
        ax.set_title(run.title)
        ax.set_xlabel("collision")
        print(f"{run.name}: E_k(end) - E_k(0) = "
              + ", ".join(f"{n} {s.energy[-1, k] - s.energy[0, k]:+.4e}"
                          for k, n in enumerate(run.subsystems)))
    axes[0].set_ylabel("energy change (units of delta)")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(a.out / "fig3.png", dpi=100)
    print(f"wrote {a.out / 'fig3.png'} and the result files {a.out}/<run>/steps.csv, ...")


if __name__ == "__main__":
    main()
