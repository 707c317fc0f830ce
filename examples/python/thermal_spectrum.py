#!/usr/bin/python3
"""The thermal-equilibrium 13C spectrum of crotonic acid after a 90-degree pulse (the paper's
Fig. 7(b)): the acquisition program sequences/demos/thermal_90.yaml on nmrc's virtual
spectrometer, its spectrum plotted with the 32 assigned lines.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/thermal_spectrum.py --out /tmp/spec

--td N acquires N points instead of the program's 16384 (the test suite uses 1024).
"""
import argparse
import pathlib
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import nmrc  # noqa: E402

ROOT = nmrc.data_dir()  # molecules/ and sequences/: /usr/share/nmrc, or the source tree
PROGRAM = ROOT / "sequences" / "demos" / "thermal_90.yaml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--td", type=int, default=None)
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("."))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        program = PROGRAM
        if a.td is not None:
            text = PROGRAM.read_text().replace("../../molecules/", f"{ROOT / 'molecules'}/")
            text = text.replace("td: 16384", f"td: {a.td}")
            text = text.replace("zero_fill: 65536", f"zero_fill: {4 * a.td}")
            program = pathlib.Path(tmp) / "thermal_90.yaml"
            program.write_text(text)
        acq = nmrc.acquire(program)

    eps = acq.epsilon
    print(f"{acq.name}: {len(acq.lines)} lines, thermal epsilon {eps:.4e}")
    a.out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.plot(acq.spectrum.ppm, acq.spectrum.values.real, lw=0.7)
    ax.invert_xaxis()  # NMR: chemical shift grows to the left
    ax.set_xlabel("13C shift (ppm)")
    ax.set_ylabel("real part")
    ax.set_title(f"{acq.molecule.name}: thermal equilibrium after a 90-degree pulse")
    fig.tight_layout()
    fig.savefig(a.out / "thermal_spectrum.png", dpi=100)
    for line in acq.lines[:8]:
        print(f"  {line.spin} #{line.index}: {line.frequency_hz:9.2f} Hz, "
              f"sx/eps {line.amplitude.real / eps:+.4f}, sy/eps {line.amplitude.imag / eps:+.4f}")
    print(f"wrote {a.out / 'thermal_spectrum.png'}")


if __name__ == "__main__":
    main()
