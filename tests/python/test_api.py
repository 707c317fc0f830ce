"""The Python API's contract (issue 28): bad arguments are an nmrc.InputError with the
library's kind of message (never pybind11's signature dump), density matrices are checked,
one progress signature, consistent names, Ctrl-C stops theory with its partial result."""
import json
import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest

import nmrc
from conftest import TWO_SPIN


@pytest.fixture(scope="module")
def two():
    return nmrc.molecule_from_dict(TWO_SPIN)


def _no_signature_dump(e):
    text = str(e.value)
    assert "incompatible function arguments" not in text and "_nmrc" not in text, text


# ---- bad arguments --------------------------------------------------------------------------

def test_issue_examples_are_input_errors(crotonic):
    th = nmrc.thermal_state(crotonic)
    cases = [
        (lambda: nmrc.fid(crotonic, th.rho, "13C", 15000.0, 1024.0),
         r"^fid: td = 1024\.0: must be an integer from 1 to 1048576$"),
        (lambda: nmrc.fid(crotonic, th.rho, "13C", "15000", 1024),
         r"^fid: sw_hz = '15000': must be a real number$"),
        (lambda: nmrc.process(crotonic, nmrc.fid(crotonic, th.rho, "13C", 1e4, 64),
                              zero_fill=2 ** 40),
         r"^process: zero_fill = 1099511627776: must be an integer from 0 to 16777216$"),
        (lambda: nmrc.thermal_state(None),
         r"^thermal_state: molecule = NoneType None: must be an nmrc\.Molecule"),
        # Swapped arguments: the state where the molecule belongs.
        (lambda: nmrc.fid(th.rho, crotonic, "13C", 1e4, 64),
         r"^fid: molecule = ndarray .*: must be an nmrc\.Molecule"),
        (lambda: nmrc.propagate(crotonic, th.rho),
         r"^propagate: pulse = ndarray .*: must be an nmrc\.Pulse"),
        (lambda: nmrc.fid(crotonic, th.rho, 1e4, "13C", 64),
         r"^fid: channel = 10000\.0: must be an integer"),
        (lambda: nmrc.propagate(crotonic, nmrc.read_pulse(_rx90()), b1_scale="1"),
         r"^propagate: b1_scale = '1': must be a real number$"),
        (lambda: nmrc.propagate(crotonic, nmrc.read_pulse(_rx90()), relaxation=1),
         r"^propagate: relaxation = 1: must be True or False$"),
        (lambda: nmrc.propagate(crotonic, nmrc.read_pulse(_rx90()), engine="fast"),
         r"^propagate: engine = 'fast': must be exact or odeint$"),
        (lambda: nmrc.readout_values(th.rho, "XXXX", 4.0),
         r"^readout_values: n = 4\.0: must be an integer"),
        (lambda: nmrc.completeness(["XX", 3], 2), r"^completeness: settings = 3: must be"),
    ]
    for call, message in cases:
        with pytest.raises(nmrc.InputError, match=message) as e:
            call()
        _no_signature_dump(e)


def _rx90():
    from conftest import SOURCE
    return SOURCE / "sequences" / "gates" / "compiled" / "rx90_c1.json"


def test_bad_progress_is_found_before_grape_starts(two):
    t0 = time.perf_counter()
    # 1000 starts of an impossible pulse would run for many seconds if GRAPE started.
    with pytest.raises(nmrc.InputError, match=r"^compile: progress = 5: must be a callable"):
        nmrc.compile(two, nmrc.rotation("A", np.pi / 2), duration_s=4e-6, steps=8,
                     starts=1000, stall_evaluations=0, progress=5)
    assert time.perf_counter() - t0 < 1.0
    with pytest.raises(nmrc.InputError, match=r"^theory: progress = 'x': must be a callable"):
        nmrc.theory({"runs": []}, progress="x")
    with pytest.raises(nmrc.InputError, match=r"^compile: molecule = str"):
        nmrc.compile("two", nmrc.rotation("A", np.pi / 2), duration_s=1e-3, steps=10)


@pytest.mark.parametrize("make", [
    lambda v: nmrc.partial_swap("A", "B", v),
    lambda v: nmrc.rotation("A", v),
    lambda v: nmrc.rotation("A", 1.0, phase_rad=v),
    lambda v: nmrc.zz("A", "B", v),
])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -np.inf])
def test_non_finite_target_angle_says_so(make, value):
    with pytest.raises(nmrc.InputError, match=r"_rad = (nan|inf|-inf): must be finite$"):
        make(value)
    # A description built by hand is checked when it is turned into JSON.
    with pytest.raises(nmrc.InputError, match="every number must be finite"):
        nmrc.Target({"gate": "zz", "spins": ["A", "B"], "theta_rad": value}).json()


# ---- density matrices -----------------------------------------------------------------------

def _not_states(n):
    d = 2 ** n
    rho = np.eye(d) / d
    non_hermitian = rho.astype(complex)
    non_hermitian[0, 1] = 1e-3
    trace_two = 2 * rho
    deviation = np.diag([1.0] + [0.0] * (d - 2) + [-1.0])  # traceless: a deviation matrix
    negative = rho.copy()
    negative[0, 0] += 0.5
    negative[1, 1] -= 0.5
    return [(non_hermitian, r"must be Hermitian"), (trace_two, r"must have trace 1"),
            (deviation, r"must have trace 1"), (negative, r"must be positive semidefinite")]


def test_density_matrices_are_checked(crotonic):
    pulse = nmrc.read_pulse(_rx90())
    for bad, rule in _not_states(crotonic.size):
        for call in (lambda: nmrc.propagate(crotonic, pulse, bad),
                     lambda: nmrc.fid(crotonic, bad, "13C", 1e4, 64),
                     lambda: nmrc.line_values(crotonic, bad, "13C"),
                     lambda: nmrc.readout_values(bad, "XXXX", 4)):
            with pytest.raises(nmrc.InputError, match=r"^rho = matrix with .*: " + rule):
                call()
    # Within the stated tolerance (1e-8) a state passes: rounding is not an error.
    th = nmrc.thermal_state(crotonic).rho
    nearly = th + 1e-10 * np.eye(16)
    assert np.isfinite(nmrc.fid(crotonic, nearly, "13C", 1e4, 8).points).all()


def test_spin_operators_are_bounded():
    nq = pytest.importorskip("nmrc.qutip")
    with pytest.raises(nmrc.InputError, match=r"^spin_operators: n = 30: must be an integer "
                                              r"from 1 to 12"):
        nq.spin_operators(30, 0)
    with pytest.raises(nmrc.InputError, match=r"^spin_operators: k = 2: must be"):
        nq.spin_operators(2, 2)


# ---- one progress signature, consistent names ----------------------------------------------

def test_one_progress_signature_and_old_names(two):
    seen = []
    nmrc.compile(two, nmrc.rotation("A", np.pi / 2), duration_s=1e-3, steps=20,
                 b1_scale=[1.0], starts=1, seed=3, threads=1, progress=seen.append)
    assert seen and seen[0]["job"] == "compile" and "evaluations" in seen[0]
    with pytest.warns(DeprecationWarning, match="b1= is deprecated"):
        r = nmrc.compile(two, nmrc.rotation("A", np.pi / 2), duration_s=1e-3, steps=20, b1=[1.0],
                         starts=1, seed=3, threads=1)
    with pytest.raises(nmrc.InputError, match="give b1_scale or b1, not both"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            nmrc.compile(two, nmrc.rotation("A", np.pi / 2), duration_s=1e-3, steps=20,
                         b1=[1.0], b1_scale=[1.0])
    with pytest.warns(DeprecationWarning, match="offsets_hz= is deprecated"):
        j = nmrc.fidelity(r.pulse, two, offsets_hz=[0.0, 10.0])
    assert np.array_equal(j.offset_hz, nmrc.fidelity(r.pulse, two, offset_hz=[0.0, 10.0]).offset_hz)
    # The old positional theory callback still works, with a warning.
    old = []
    prog = {"format": "nmrc-theory/1", "name": "p",
            "defaults": {"subsystems": [{"name": "S1", "temperature": 1.0}],
                         "bath_temperature": 0.9, "g": 20, "tau": 0.01, "collisions": 3,
                         "interaction": "cascade", "order": ["S1"]},
            "runs": [{"name": "r"}]}
    with pytest.warns(DeprecationWarning, match="progress\\(run, stage, done, total\\)"):
        nmrc.theory(prog, progress=lambda run, stage, done, total: old.append((run, stage)))
    assert old and old[0] == ("r", "collision")


# ---- theory stops on Ctrl-C ------------------------------------------------------------------

def test_sigint_stops_theory_within_a_second_with_the_runs_done():
    run = {"subsystems": [{"name": f"S{k}", "temperature": 1.0} for k in range(1, 5)],
           "bath_temperature": 0.9, "g": 20, "tau": 0.01, "interaction": "cascade",
           "order": ["S1", "S2", "S3", "S4"]}
    prog = {"format": "nmrc-theory/1", "name": "long",
            "defaults": dict(run, collisions=6),
            "runs": [{"name": "quick"}, {"name": "long", "collisions": 10 ** 6}]}
    sent = []
    timer = threading.Timer(1.0, lambda: (sent.append(time.perf_counter()),
                                          os.kill(os.getpid(), signal.SIGINT)))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt) as e:
            nmrc.theory(prog)
        stopped = time.perf_counter()
    finally:
        timer.cancel()
    assert sent and stopped - sent[0] < 1.0
    runs = e.value.result
    assert [r.name for r in runs] == ["quick"] and runs[0].steps.energy.shape[0] == 6 * 4 + 1


# ---- molecules and pulses as Python objects --------------------------------------------------

def _twice_the_offset(m):  # a top-level function: multiprocessing pickles it and the molecule
    return 2 * m.nuclei[0]["offset_hz"]


def test_molecule_and_pulse_pickle(crotonic):
    import multiprocessing
    import pickle
    m2 = pickle.loads(pickle.dumps(crotonic))
    assert np.array_equal(m2.hamiltonian(), crotonic.hamiltonian())
    assert m2.nuclei == crotonic.nuclei and m2.channels == crotonic.channels
    assert m2.couplings == crotonic.couplings and m2.roles == crotonic.roles
    p = nmrc.read_pulse(_rx90())
    p2 = pickle.loads(pickle.dumps(p))
    assert p2.to_json() == p.to_json()
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.map(_twice_the_offset, [crotonic]) == [2 * crotonic.nuclei[0]["offset_hz"]]


def test_pulse_constructor_and_writable_arrays(crotonic):
    p = nmrc.read_pulse(_rx90())
    q = nmrc.Pulse(p.ux_hz[0], p.uy_hz[0], p.dt_s, "13C", name="copy")
    assert q.name == "copy" and np.array_equal(q.ux_hz, p.ux_hz)
    with pytest.raises(ValueError, match="read-only"):
        q.ux_hz[0, 0] = 1.0  # a copy: writing into it would change nothing, so it cannot
    q.ux_hz = 0.5 * q.ux_hz
    assert np.array_equal(q.ux_hz, 0.5 * p.ux_hz) and np.array_equal(q.uy_hz, p.uy_hz)
    q.uy_hz = np.zeros_like(q.uy_hz)
    assert not q.uy_hz.any()
    with pytest.raises(nmrc.InputError, match=r"^ux_hz.shape = \(1, 3\): must be \(1, 100\)"):
        q.ux_hz = np.zeros((1, 3))
    bad = q.ux_hz.copy()
    bad[0, 4] = np.nan
    with pytest.raises(nmrc.InputError, match=r"^ux_hz\[4\] = nan: must be finite"):
        q.ux_hz = bad


def test_index_of_raises_like_j_hz_and_op_by_label(crotonic):
    assert crotonic.index_of("C3") == 2 and crotonic.index_of("R") == 3
    for call in (lambda: crotonic.index_of("C9"), lambda: crotonic.j_hz("C1", "C9")):
        with pytest.raises(nmrc.InputError, match=r"= C9: unknown spin \(known: C1\.\.C4\)"):
            call()
    i2 = np.eye(2)
    sx = np.array([[0, 1], [1, 0]]) / 2
    sz = np.diag([0.5, -0.5])
    ref = np.kron(np.kron(np.kron(i2, sx), i2), i2)  # spin 1 (C2) is the second factor
    assert np.array_equal(crotonic.op("C2", "x"), ref)
    zz = np.kron(np.kron(np.kron(sz, i2), sz), i2)
    assert np.array_equal(crotonic.op("C1", "z", "C3", "z"), zz)
    plus = crotonic.op("S1", "+")
    assert np.allclose(plus, crotonic.op("C1", "x") + 1j * crotonic.op("C1", "y"))
    with pytest.raises(nmrc.InputError, match=r"^op: axis = 'w': must be x, y, z"):
        crotonic.op("C1", "w")


def test_trajectory_from_propagate(crotonic):
    p = nmrc.read_pulse(_rx90())
    rho = nmrc.thermal_state(crotonic).rho
    obs = [crotonic.op("C1", "y"), crotonic.op("C1", "z"), crotonic.op("C1", "+")]
    t = nmrc.propagate(crotonic, p, rho, observables=obs, states=True)
    assert t.values.shape == (p.steps + 1, 3) and t.states.shape == (p.steps + 1, 16, 16)
    assert np.allclose(t.times_s, p.dt_s * np.arange(p.steps + 1))
    # The last state is propagate's; each value is Tr(rho O) of the recorded state.
    assert np.abs(t.final - nmrc.propagate(crotonic, p, rho)).max() < 1e-14
    k = p.steps // 2
    assert abs(t.values[k, 1] - np.trace(t.states[k] @ obs[1])) < 1e-16
    # Independent: numpy's step propagators exp(-i dt (H0 + 2 pi (ux Ix + uy Iy))).
    n = crotonic.size
    ix = sum(crotonic.op(j, "x") for j in range(n))
    iy = sum(crotonic.op(j, "y") for j in range(n))
    h0 = crotonic.hamiltonian()
    r = rho.copy()
    for j in range(k):
        w, v = np.linalg.eigh(h0 + 2 * np.pi * (p.ux_hz[0, j] * ix + p.uy_hz[0, j] * iy))
        u = (v * np.exp(-1j * w * p.dt_s)) @ v.conj().T
        r = u @ r @ u.conj().T
    # (absolute: rho's entries are ~1/16, and its deviation from I/16 ~1e-5 carries the value)
    assert abs(t.values[k, 0] - np.trace(r @ obs[0]).real) < 1e-13
    assert np.iscomplexobj(t.values)  # I+ is not Hermitian: complex values kept
    with pytest.raises(nmrc.InputError, match=r"observables need rho"):
        nmrc.propagate(crotonic, p, observables=obs)


# ---- every runner takes a dict as well as a path ----------------------------------------------

def _yaml(path):
    import yaml
    return yaml.safe_load(path.read_text())


def test_runners_take_a_dict(source, tmp_path):
    # acquire: the demo program as a dict, its relative molecule path from base_dir.
    demo = source / "sequences" / "demos"
    d = _yaml(demo / "thermal_90.yaml")
    d["acquisition"]["td"] = 1024
    d["acquisition"]["processing"]["zero_fill"] = 4096
    d["name"] = "thermal_90"  # a file is named by its stem, a dict by name:
    a = nmrc.acquire(d, base_dir=demo)
    text = (demo / "thermal_90.yaml").read_text().replace(
        "../../molecules/", str(source / "molecules") + "/")
    text = text.replace("td: 16384", "td: 1024").replace("zero_fill: 65536", "zero_fill: 4096")
    (tmp_path / "a.yaml").write_text(text)
    assert np.array_equal(a.fid.points, nmrc.acquire(tmp_path / "a.yaml").fid.points)
    # prepare
    prep = source / "sequences" / "preparation" / "fig3_c-0.5.yaml"
    p = nmrc.prepare(_yaml(prep), base_dir=prep.parent)
    assert np.array_equal(p.reduced, nmrc.prepare(prep).reduced)
    # tomography: absolute paths, so any base_dir
    t = {"name": "t", "molecule": str(source / "molecules" / "crotonic_acid.yaml"),
         "readout": str(source / "sequences" / "readout" / "paper17_completed.yaml"),
         "state": {"random": {"seed": 3, "rank": 2}}, "lines": "ideal"}
    (tmp_path / "t.yaml").write_text(json.dumps(t))
    assert np.array_equal(nmrc.tomography(t).physical,
                          nmrc.tomography(tmp_path / "t.yaml").physical)
    # A dict's errors name "<dict>" with line and column, as the file's name the file.
    bad = dict(t, lines="maybe")
    with pytest.raises(nmrc.InputError, match=r'^<dict>:\d+:\d+: lines = "maybe": must be ideal or spectrometer'):
        nmrc.tomography(bad)
    with pytest.raises(nmrc.InputError, match=r"^prepare: program: not a JSON-able dict"):
        nmrc.prepare({"molecule": object()})
    with pytest.raises(nmrc.InputError, match=r"^path = int 5: must be a file path"):
        nmrc.tomography(5)


# ---- TopSpin datasets and nmrglue's (dic, data) ----------------------------------------------

def test_topspin_dataset_round_trip_and_nmrglue_bridge(crotonic, tmp_path):
    th = nmrc.thermal_state(crotonic)
    n = crotonic.size
    iy = sum(crotonic.op(k, "y") for k in range(n))
    w, v = np.linalg.eigh(iy)
    u = (v * np.exp(-1j * w * np.pi / 2)) @ v.conj().T
    f = nmrc.fid(crotonic, u @ th.rho @ u.conj().T, "13C", 15000.0, 1024)
    nmrc.write_bruker(tmp_path / "1", crotonic, f, dtypa=2, pulprog="zg_nmrc")
    ds = nmrc.read_bruker(tmp_path / "1")
    assert ds.pulprog == "zg_nmrc" and ds.nuc1 == "13C" and ds.sw_hz == 15000.0
    assert ds.grpdly_source == "none" and ds.points.shape == (1024,)
    back = ds.fid(crotonic)
    # float64 storage: the FID comes back to rounding (in the molecule's frame again).
    assert back.channel == f.channel and back.sw_hz == f.sw_hz
    assert np.abs(back.points - f.points).max() < 1e-12 * np.abs(f.points).max()
    assert (tmp_path / "1" / "pdata" / "1" / "1r").exists()
    # nmrglue's (dic, data) and back: the same Fid.
    dic, data = ds.to_nmrglue()
    assert dic["acqus"]["SW_h"] == 15000.0 and dic["acqus"]["NUC1"] == "13C"
    assert dic["acqus"]["TD"] == 2048 and data.dtype == complex
    again = nmrc.fid_from_nmrglue(dic, data, crotonic)
    assert np.array_equal(again.points, back.points)
    # The lines fitted from the dataset are those of the original FID.
    a = nmrc.fit_lines(crotonic, again).lines
    b = nmrc.fit_lines(crotonic, f).lines
    assert max(abs(x.amplitude - y.amplitude) for x, y in zip(a, b)) < 1e-9 * th.epsilon
    with pytest.raises(nmrc.InputError, match=r"SW_h missing"):
        nmrc.fid_from_nmrglue({"acqus": {"BF1": 125.0}}, data, crotonic)
    with pytest.raises(nmrc.InputError, match=r"must be one FID"):
        nmrc.fid_from_nmrglue(dic, np.zeros((2, 8)), crotonic)
    with pytest.raises(nmrc.InputError, match=r"PULPROG"):
        nmrc.write_bruker(tmp_path / "2", crotonic, f, pulprog="a\nb")
