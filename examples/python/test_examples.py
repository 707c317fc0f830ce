"""Runs every example of examples/python small and fast (ctest `python`), output to a temporary
folder, checking that each wrote what it says."""
import os
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent


def run(script, *args):
    env = dict(os.environ, MPLBACKEND="Agg")
    r = subprocess.run([sys.executable, str(HERE / script), *map(str, args)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_compile_partial_swap(tmp_path):
    out = run("compile_partial_swap.py", "--steps", 20, "--max-iterations", 3, "--out", tmp_path)
    assert "judge: nominal" in out
    assert (tmp_path / "swap_c1_c4.png").stat().st_size > 0
    assert (tmp_path / "swap_c1_c4.json").stat().st_size > 0


def test_theory_fig3(tmp_path):
    out = run("theory_fig3.py", "--collisions", 5, "--out", tmp_path)
    assert "c_minus_0.5" in out and (tmp_path / "fig3.png").stat().st_size > 0
    assert (tmp_path / "c_minus_0.5" / "steps.csv").read_text().count("\n") == 1 + 3 * 5 + 1


def test_thermal_spectrum(tmp_path):
    out = run("thermal_spectrum.py", "--td", 1024, "--out", tmp_path)
    assert "32 lines" in out and (tmp_path / "thermal_spectrum.png").stat().st_size > 0


def test_qutip_check():
    pytest.importorskip("qutip")
    out = run("qutip_check.py")
    assert "difference" in out
