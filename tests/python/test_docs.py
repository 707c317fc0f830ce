"""docs/python.md's sessions, run as written (a QuTiP user's and an nmrglue user's), and
checked for what they write (the theory files of out=, the TopSpin folders, the console
export)."""
import os
import re
import sys
import types

import numpy as np
import pytest

from conftest import SOURCE


def _sessions():
    text = (SOURCE / "docs" / "python.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, re.S)


def _run(code, tmp_path):
    cwd = os.getcwd()
    os.chdir(tmp_path)  # the sessions write relative folders (flow/, demo/1, console/)
    try:
        scope = {"__name__": "__doc_session__"}
        exec(compile(code, "docs/python.md", "exec"), scope)
        return scope
    finally:
        os.chdir(cwd)


def test_the_qutip_users_session(tmp_path):
    pytest.importorskip("qutip")
    code = next(c for c in _sessions() if "import nmrc.qutip" in c)
    for call in ("mol.op(", "observables=", "hamiltonian_list(", "collapse_operators(",
                 "out="):
        assert call in code, f"the QuTiP session no longer shows {call}"
    _run(code, tmp_path)
    # out=: the theory files of `nmrc theory --out`, one folder per run.
    for run in ("c_0", "c_minus_0.5"):
        assert (tmp_path / "flow" / run / "steps.csv").stat().st_size > 0
        assert (tmp_path / "flow" / run / "summary.json").stat().st_size > 0


def _nmrglue_standin():
    """Where nmrglue is not installed (it is on PyPI only, not in Debian), the session's three
    nmrglue calls are served by nmrc's own reader, which gives nmrglue's (dic, data) after
    remove_digital_filter (BrukerDataset.to_nmrglue), and a JCAMP-DX reader of the ##$KEY= value
    records. This runs every nmrc call of the session; agreement with nmrglue itself is what
    the run with nmrglue installed adds."""
    import nmrc

    def read_jcamp(path):
        out = {}
        with open(path, encoding="latin-1") as f:
            for line in f:
                m = re.match(r"##\$?([^=]+)= ?(.*)", line.rstrip("\n"))
                if m:
                    out[m.group(1)] = m.group(2)
        return out

    bruker = types.SimpleNamespace(
        read=lambda folder: nmrc.read_bruker(folder).to_nmrglue(),
        remove_digital_filter=lambda dic, data: data,  # to_nmrglue has removed it
        read_jcamp=read_jcamp)
    return types.SimpleNamespace(bruker=bruker)


def test_the_nmrglue_users_session(tmp_path, monkeypatch):
    try:
        import nmrglue  # noqa: F401
    except ImportError:
        monkeypatch.setitem(sys.modules, "nmrglue", _nmrglue_standin())
    code = next(c for c in _sessions() if "import nmrglue" in c)
    for call in ("fid_from_nmrglue(", "to_nmrglue(", "write_bruker(", "export_bruker(",
                 "fit_lines("):
        assert call in code, f"the nmrglue session no longer shows {call}"
    scope = _run(code, tmp_path)
    # The fitted lines are the simulated molecule's: A near +1500 Hz, B near -400 Hz.
    freqs = sorted(line.frequency_hz for line in scope["fit"].lines)
    assert len(freqs) == 4
    assert abs(np.mean(freqs[2:]) - 1500.0) < 1.0 and abs(np.mean(freqs[:2]) + 400.0) < 1.0
    # nmrc's reader and nmrglue's (or the stand-in's) give the same FID.
    assert np.allclose(scope["data"], scope["data2"], atol=1e-9 * np.abs(scope["data2"]).max())
    # The console export: EXPNO 1 with its shape, pulse program and parameters.
    for f in ("1/acqus", "1/acqu", "1/pulseprogram", "lists/wave/rx90_c1", "queue.mac"):
        assert (tmp_path / "console" / f).stat().st_size > 0
    assert scope["acqus"]["PULPROG"].strip("<>") == "nmrc_pulses"
