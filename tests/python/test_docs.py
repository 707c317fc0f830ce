"""docs/python.md's sessions, run as written (a QuTiP user's and an nmrglue user's)."""
import os
import re

import pytest

from conftest import SOURCE


def _sessions():
    text = (SOURCE / "docs" / "python.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, re.S)


def _run(code, tmp_path):
    cwd = os.getcwd()
    os.chdir(tmp_path)  # the sessions write relative folders (demo/1)
    try:
        exec(compile(code, "docs/python.md", "exec"), {"__name__": "__doc_session__"})
    finally:
        os.chdir(cwd)


def test_the_qutip_users_session(tmp_path):
    pytest.importorskip("qutip")
    code = next(c for c in _sessions() if "import nmrc.qutip" in c)
    _run(code, tmp_path)


def test_the_nmrglue_users_session(tmp_path):
    pytest.importorskip("nmrglue")
    code = next(c for c in _sessions() if "import nmrglue" in c)
    _run(code, tmp_path)
