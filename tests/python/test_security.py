"""Security (docs/security.md) from Python: the same checked-text rules as the CLI, through the
library's one loader of each kind. Hostile names are refused with InputError (never a crash,
never a file written), and no command runs."""
import copy
import json
import pathlib

import numpy as np
import pytest

import nmrc
from conftest import TWO_SPIN

# Refused as a name (the safe set) or, with a control character, as text at all.
RULE = r"(must be 1-64 characters|must not contain control characters)"
HOSTILE = [
    "X`touch PWNED`",
    "c\n!touch PWNED\n",
    "m\n  (p1 pl1 ph0):f1\n  lo to 2 times 1000\n",
    "ok\r\x1b[32mverified OK\x1b[0m",
    "../../escaped",
    "..",
    "x\n##END=",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_molecule_names_labels_channels_refused(name):
    for where in ("name", "label", "channel"):
        d = copy.deepcopy(TWO_SPIN)
        if where == "name":
            d["name"] = name
        elif where == "label":
            d["nuclei"][0]["label"] = name
        else:
            d["channels"][0]["name"] = name
        with pytest.raises(nmrc.InputError, match=r"^<dict>:\d+:\d+: .*" + RULE):
            nmrc.molecule_from_dict(d)


def test_isotope_must_have_its_form():
    d = copy.deepcopy(TWO_SPIN)
    d["channels"][0]["isotope"] = "13C\n##$PLW= (0..63)"
    d["channels"][0]["larmor_mhz"] = 125.7
    with pytest.raises(nmrc.InputError, match=r"channels\[0\]\.isotope = .*" + RULE):
        nmrc.molecule_from_dict(d)
    d["channels"][0]["isotope"] = "C13"
    with pytest.raises(nmrc.InputError, match="must be an isotope"):
        nmrc.molecule_from_dict(d)


@pytest.mark.parametrize("name", HOSTILE)
def test_pulse_names_refused(name, tmp_path):
    with pytest.raises(nmrc.InputError, match=r"^<python>:\d+:\d+: name = .*" + RULE) as e:
        nmrc.make_pulse(np.zeros(4), np.zeros(4), 1e-6, "13C", name=name)
    assert "\n" not in str(e.value) and "\x1b" not in str(e.value)
    with pytest.raises(nmrc.InputError, match="channel name"):
        nmrc.make_pulse(np.zeros(4), np.zeros(4), 1e-6, name if name != ".." else "a b", name="ok")
    # A pulse file carrying the name is refused by the one reader too, and nothing is written
    # from it.
    f = tmp_path / "p.json"
    f.write_text(json.dumps({"format": "nmrc-pulse/1", "name": name, "dt_s": 1e-6,
                             "channels": {"13C": {"ux_hz": [0.0], "uy_hz": [0.0]}}}))
    with pytest.raises(nmrc.InputError, match=r"p\.json:\d+:\d+: name = "):
        nmrc.read_pulse(f)
    assert not list(pathlib.Path(".").glob("PWNED*"))


def test_deep_json_refused_without_crashing(tmp_path):
    f = tmp_path / "deep.json"
    f.write_text('{"format": "nmrc-pulse/1", "x": ' + "[" * 100000 + "]" * 100000 + "}")
    with pytest.raises(nmrc.InputError, match="nested deeper than 64 levels"):
        nmrc.read_pulse(f)


def test_target_naming_a_spin_twice_is_input_error(tmp_path):
    m = nmrc.molecule_from_dict(TWO_SPIN)
    with pytest.raises(nmrc.InputError, match="named twice"):
        nmrc.target_unitary(m, nmrc.partial_swap("A", "A", 0.2))


def test_theory_names_and_titles(tmp_path):
    prog = {"format": "nmrc-theory/1", "name": "t",
            "defaults": {"subsystems": [{"name": "S1", "temperature": 1.0}],
                         "bath_temperature": 0.9, "g": 20, "tau": 0.01, "collisions": 2,
                         "interaction": "cascade", "order": ["S1"]},
            "runs": [{"name": "r", "title": "backquotes `touch PWNED` are text"}]}
    runs = nmrc.theory(prog)
    assert runs[0].title == "backquotes `touch PWNED` are text"
    for bad in ("r\n!touch PWNED", "../x"):
        p = copy.deepcopy(prog)
        p["runs"][0]["name"] = bad
        with pytest.raises(nmrc.InputError, match=r"runs\[0\]\.name = "):
            nmrc.theory(p)
    p = copy.deepcopy(prog)
    p["runs"][0]["title"] = "line\nbreak"
    with pytest.raises(nmrc.InputError, match="control characters"):
        nmrc.theory(p)


def test_bad_arguments_never_abort(tmp_path):
    """Arguments that reached an internal check (and killed the interpreter) are InputError."""
    p = nmrc.make_pulse(np.zeros(4), np.zeros(4), 1e-6)
    with pytest.raises(nmrc.InputError, match=r"phase_sense = 2: must be \+1 or -1"):
        nmrc.write_bruker_shape(p, tmp_path / "x.shape", phase_sense=2)
    assert not (tmp_path / "x.shape").exists()
    m = nmrc.molecule_from_dict(TWO_SPIN)
    with pytest.raises(nmrc.InputError, match="named twice"):
        nmrc.target_unitary(m, nmrc.unitary(["A", "A"], np.eye(4)))
