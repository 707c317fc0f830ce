"""The Python bindings against independent references (numpy constructions, the CLI's own
files) and on bad input (an exception with the library's message, never a crash)."""
import csv
import json
import os
import signal
import threading

import numpy as np
import pytest

import nmrc
from conftest import TWO_SPIN, run_cli

I2 = np.eye(2)
SX = np.array([[0, 1], [1, 0]], dtype=complex)
SY = np.array([[0, -1j], [1j, 0]])
SZ = np.diag([1.0, -1.0]).astype(complex)


def op(single, k, n):
    """single (2x2) on spin k of n, spin 0 leftmost (docs/conventions.md), by numpy.kron."""
    out = np.eye(1)
    for j in range(n):
        out = np.kron(out, single if j == k else I2)
    return out


def step_expm(h, dt):
    w, v = np.linalg.eigh(h)
    return (v * np.exp(-1j * w * dt)) @ v.conj().T


def numpy_propagator(mol, pulse, b1=1.0):
    """prod_k exp(-i dt (H0 + 2 pi b1 sum (ux Ix + uy Iy))) built here with numpy alone."""
    n = mol.size
    h0 = mol.hamiltonian()
    ix = sum(op(SX / 2, k, n) for k in range(n))
    iy = sum(op(SY / 2, k, n) for k in range(n))
    u = np.eye(2 ** n, dtype=complex)
    for ux, uy in zip(pulse.ux_hz[0], pulse.uy_hz[0]):
        u = step_expm(h0 + 2 * np.pi * b1 * (ux * ix + uy * iy), pulse.dt_s) @ u
    return u


# ---- molecules ------------------------------------------------------------------------------

def test_crotonic_hamiltonian_matches_numpy_construction(crotonic):
    h = crotonic.hamiltonian()
    n = crotonic.size
    assert h.shape == (16, 16) and h.dtype == np.complex128
    carrier = {c["name"]: c["carrier_hz"] for c in crotonic.channels}
    ref = sum(2 * np.pi * (nu["offset_hz"] - carrier[nu["channel"]]) * op(SZ / 2, k, n)
              for k, nu in enumerate(crotonic.nuclei))
    labels = crotonic.labels
    for c in crotonic.couplings:
        a, b = (labels.index(s) for s in c["spins"])
        ref = ref + 2 * np.pi * c["j_hz"] * op(SZ / 2, a, n) @ op(SZ / 2, b, n)
    assert np.abs(h - ref).max() < 1e-9 * np.abs(ref).max()
    lines = crotonic.lines()
    assert len(lines) == 32 and {l.spin for l in lines} == set(labels)
    # The returned array is an owned copy: writing to it changes nothing in C++.
    h[0, 0] = 1e9
    assert crotonic.hamiltonian()[0, 0] != 1e9


def test_molecule_from_dict_and_its_errors():
    m = nmrc.molecule_from_dict(TWO_SPIN)
    assert m.labels == ["A", "B"] and m.j_hz("A", "B") == 60.0
    bad = json.loads(json.dumps(TWO_SPIN))
    bad["nuclei"][1]["t1_s"] = -1
    with pytest.raises(nmrc.InputError, match=r"^<dict>:\d+:\d+: .*t1_s = -1"):
        nmrc.molecule_from_dict(bad)
    with pytest.raises(nmrc.InputError, match="nope.yaml"):
        nmrc.load_molecule("nope.yaml")


# ---- compiling ------------------------------------------------------------------------------

def test_compile_rotation_and_judge_it():
    m = nmrc.molecule_from_dict(TWO_SPIN)
    calls = []
    r = nmrc.compile(m, nmrc.rotation("A", np.pi / 2, axis="x"), duration_s=1e-3, steps=20,
                     b1_scale=[0.98, 1.02], starts=2, seed=3, fidelity_target=0.99, threads=1,
                     progress=calls.append)
    assert r.summary.reached_target and r.summary.termination == "reached_target"
    assert calls and {"start", "evaluations", "fidelity_min"} <= set(calls[0])
    p = r.pulse
    assert p.ux_hz.shape == (1, 20) and p.steps == 20 and p.duration_s == pytest.approx(1e-3)
    # GRAPE's fidelity == the spectrometer's judge == a numpy product of step exponentials.
    j = nmrc.fidelity(p, m)
    assert j.passed and np.allclose(j.values, r.summary.fidelity, atol=1e-9)
    w = nmrc.target_unitary(m, nmrc.rotation("A", np.pi / 2, axis="x"))
    for b1, f in zip(j.b1_scale, j.values):
        u = numpy_propagator(m, p, b1)
        assert abs(np.trace(w.conj().T @ u)) / 4 == pytest.approx(f, abs=1e-9)
    u = nmrc.propagate(m, p, b1_scale=1.0)
    assert np.abs(u - numpy_propagator(m, p)).max() < 1e-9


def test_progress_exception_stops_grape_with_partial_result():
    m = nmrc.molecule_from_dict(TWO_SPIN)

    def stop_after_five(g):
        if g["evaluations"] >= 5:
            raise KeyboardInterrupt

    # 4 us cannot make a 90-degree pulse at 20 kHz: 1000 starts would run for many seconds.
    with pytest.raises(KeyboardInterrupt) as e:
        nmrc.compile(m, nmrc.rotation("A", np.pi / 2), duration_s=4e-6, steps=8, b1_scale=[1.0],
                     starts=1000, threads=2, stall_evaluations=0, progress=stop_after_five)
    res = e.value.result
    assert res.summary.termination == "interrupted"
    assert res.pulse.steps == 8 and np.all(np.isfinite(res.pulse.ux_hz))
    assert len(res.summary.starts) < 1000 and res.summary.wall_s < 20


def test_sigint_stops_grape_cleanly(tmp_path):
    m = nmrc.molecule_from_dict(TWO_SPIN)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt) as e:
            nmrc.compile(m, nmrc.rotation("A", np.pi / 2), duration_s=4e-6, steps=8, b1_scale=[1.0],
                         starts=1000, stall_evaluations=0, time_limit_s=60, threads=1,
                         cache_dir=tmp_path / "cache")
    finally:
        timer.cancel()
    assert e.value.result.summary.termination == "interrupted"
    assert e.value.result.summary.wall_s < 30
    # An interrupted result is never cached.
    assert not any(p.suffix == ".json" for p in (tmp_path / "cache").rglob("*"))


def test_compile_up_to_diagonal_phases():
    m = nmrc.molecule_from_dict(TWO_SPIN)
    strict = nmrc.rotation("A", np.pi / 2, axis="x")
    t = strict.up_to_diagonal_phases()
    assert t.description["up_to"] == "diagonal_phases" and "up_to" not in strict.description
    r = nmrc.compile(m, t, duration_s=1e-3, steps=20, b1_scale=[1.0], starts=2, seed=3,
                     fidelity_target=0.99, threads=1)
    assert r.summary.reached_target
    assert r.pulse.fidelity_definition == "sum_j |(Ut^dag U)_jj|/d (up to diagonal phases)"
    # GRAPE's F == the judge's == sum_j |(W^dag U)_jj| / d of a numpy propagator.
    w = nmrc.target_unitary(m, strict)
    u = numpy_propagator(m, r.pulse)
    f = np.abs(np.diag(w.conj().T @ u)).sum() / 4
    assert f == pytest.approx(r.summary.fidelity[0], abs=1e-9)
    assert nmrc.fidelity(r.pulse, m).values[0] == pytest.approx(f, abs=1e-9)
    assert abs(np.trace(w.conj().T @ u)) / 4 <= f + 1e-12
    bad = nmrc.Target({**strict.description, "up_to": "everything"})
    with pytest.raises(nmrc.InputError, match="up_to"):
        nmrc.compile(m, bad, duration_s=1e-3, steps=20)


def test_compile_search_options():
    m = nmrc.molecule_from_dict(TWO_SPIN)
    r = nmrc.compile(m, nmrc.rotation("A", np.pi / 2, axis="x"), duration_s=1e-3, steps=20,
                     b1_scale=[0.96, 0.98, 1.0, 1.02, 1.04], starts=2, seed=3, fidelity_target=0.99,
                     threads=1, nominal_first=True, b1_quadrature=2, coarse_factor=2)
    assert r.summary.reached_target
    assert "searched on the centre B1 first, then on a 2-point" in r.summary.report
    assert min(nmrc.fidelity(r.pulse, m).values) >= 0.99  # verified on the 5-point grid
    with pytest.raises(nmrc.InputError, match="b1_quadrature"):
        nmrc.compile(m, nmrc.rotation("A", np.pi / 2), duration_s=1e-3, steps=20, b1_quadrature=21)
    with pytest.raises(nmrc.InputError, match="nominal_first"):
        nmrc.compile(m, nmrc.rotation("A", np.pi / 2), duration_s=1e-3, steps=20,
                     nominal_first="yes")


def test_compile_warm_start_from_the_cache(tmp_path):
    m = nmrc.molecule_from_dict(TWO_SPIN)
    kw = dict(duration_s=0.001, steps=20, b1_scale=[0.98, 1.02], starts=1, seed=5,
              cache_dir=tmp_path / "cache")
    first = nmrc.compile(m, nmrc.rotation("A", np.pi / 2), fidelity_target=0.99, **kw)
    assert first.summary.reached_target and first.summary.warm_start == ""
    # A higher target misses the cache and starts from the cached pulse.
    higher = nmrc.compile(m, nmrc.rotation("A", np.pi / 2), fidelity_target=0.995, **kw)
    assert not higher.from_cache and higher.cache_key != first.cache_key
    assert first.cache_key in higher.summary.warm_start
    assert higher.summary.starts[0]["initial"] == "warm"
    off = nmrc.compile(m, nmrc.rotation("A", np.pi / 2), fidelity_target=0.995,
                       warm_start=False, **kw)
    assert off.summary.warm_start == "" and off.summary.starts[0]["initial"] != "warm"
    with pytest.raises(nmrc.InputError, match="warm_start"):
        nmrc.compile(m, nmrc.rotation("A", np.pi / 2), warm_start="yes", **kw)


def test_compile_program_matches_cli(tmp_path):
    (tmp_path / "two_spin.yaml").write_text(json.dumps(TWO_SPIN))
    prog = tmp_path / "prog.yaml"
    prog.write_text(
        "format: nmrc-program/1\nname: small\nmolecule: two_spin.yaml\n"
        "compile: {duration_s: 0.001, steps: 20, fidelity_target: 0.99, starts: 2, seed: 5,\n"
        "          ensemble: {b1_scale: [0.98, 1.02]}}\n"
        "elements:\n"
        "  - gate: {name: rx_a, type: rotation, spins: [A], angle_deg: 90, axis: x}\n"
        "  - gate: {name: ry_b, type: rotation, spins: [B], angle_deg: 90, axis: y}\n")
    run_cli("compile", prog, "--out", tmp_path / "out", "--no-plots", "--no-cache")
    gates = nmrc.compile_program(prog, only=["ry_b"])
    assert list(gates) == ["ry_b"]
    cli = nmrc.read_pulse(tmp_path / "out" / "ry_b.json")
    mine = gates["ry_b"].pulse
    # Deterministic for a seed, whatever the threads: the same pulse file as `nmrc compile`.
    assert np.array_equal(mine.ux_hz, cli.ux_hz) and np.array_equal(mine.uy_hz, cli.uy_hz)
    assert mine.to_json() == cli.to_json()
    # Validated as `nmrc compile` validates it: the report's numbers.
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    gate = next(g for g in report["gates"] if g["name"] == "ry_b")
    v = gates["ry_b"].validation
    assert v is not None and v.passed == gate["validation"]["passed"]
    assert np.array_equal(v.values, gate["validation"]["values"])
    assert gates["ry_b"].passed and gates["ry_b"].bound_s == 0.0
    # The same program as a dict (relative paths from base_dir).
    text = prog.read_text()
    import yaml
    as_dict = yaml.safe_load(text)
    again = nmrc.compile_program(as_dict, only="ry_b", base_dir=tmp_path)
    assert again["ry_b"].pulse.to_json() == mine.to_json()
    with pytest.raises(nmrc.InputError, match=r"only = rz: no gate of that name"):
        nmrc.compile_program(prog, only=["rz"])


def test_partial_swap_target_and_bad_inputs(crotonic):
    w = nmrc.target_unitary(crotonic, nmrc.partial_swap("C1", "C4", theta=0.2))
    assert w.shape == (16, 16)
    assert np.abs(w.conj().T @ w - np.eye(16)).max() < 1e-12
    with pytest.raises(nmrc.InputError,
                       match=r"^target: target\.spins: unknown spin C9 \(known: C1\.\.C4\)"):
        nmrc.target_unitary(crotonic, nmrc.partial_swap("C1", "C9", theta_rad=0.2))
    with pytest.raises(nmrc.InputError, match=r"unknown spin C9"):
        nmrc.compile(crotonic, nmrc.partial_swap("C1", "C9", theta_rad=0.2), duration_s=1e-3,
                     steps=10)
    with pytest.raises(nmrc.InputError, match=r"compile options: duration_s = -0.001: "):
        nmrc.compile(crotonic, nmrc.partial_swap("C1", "C4", theta_rad=0.2), duration_s=-1e-3,
                     steps=10)
    with pytest.raises(nmrc.InputError, match=r"compile options: b1_scale\[1\] = nan: must be "
                                              "finite"):
        nmrc.compile(crotonic, nmrc.partial_swap("C1", "C4", theta_rad=0.2), duration_s=1e-3,
                     steps=10, b1_scale=[1.0, float("nan")])
    with pytest.raises(nmrc.InputError, match=r"compile options: zero_ends = 'no': must be True"):
        nmrc.compile(crotonic, nmrc.partial_swap("C1", "C4", theta_rad=0.2), duration_s=1e-3,
                     steps=10, zero_ends="no")
    with pytest.raises(nmrc.InputError, match=r"compile options: steps = 'ten': must be an "
                                              "integer"):
        nmrc.compile(crotonic, nmrc.partial_swap("C1", "C4", theta_rad=0.2), duration_s=1e-3,
                     steps="ten")


# ---- pulses ---------------------------------------------------------------------------------

def test_validate_matches_cli(source, crotonic, tmp_path):
    path = source / "sequences" / "gates" / "compiled" / "rx90_c1.json"
    out = tmp_path / "v.json"
    run_cli("validate", path, "--molecule", source / "molecules" / "crotonic_acid.yaml",
            "--json", out)
    cli = json.loads(out.read_text())[0]
    j = nmrc.fidelity(nmrc.read_pulse(path), crotonic)
    assert j.nominal == pytest.approx(cli["nominal"], abs=1e-12)
    assert np.allclose(j.values, cli["values"], atol=1e-12) and j.passed == cli["passed"]
    # Other B1 scales than the pulse records.
    j2 = nmrc.fidelity(nmrc.read_pulse(path), crotonic, b1_scale=[0.9, 1.0])
    assert list(j2.b1_scale) == [0.9, 1.0] and j2.values[1] == pytest.approx(j.nominal)


def test_pulse_files_round_trip(source, crotonic, tmp_path):
    p = nmrc.read_pulse(source / "sequences" / "gates" / "compiled" / "rx90_c1.json")
    assert p.channels == ["13C"] and p.target["gate"] == "rotation"
    assert np.allclose(p.amplitude_hz, np.hypot(p.ux_hz, p.uy_hz))
    p.write(tmp_path / "p.json")
    q = nmrc.read_pulse(tmp_path / "p.json")
    assert np.array_equal(q.ux_hz, p.ux_hz) and q.to_json() == p.to_json()
    # Bruker shape: written and read back with the 100 % it reports.
    rf = nmrc.write_bruker_shape(p, tmp_path / "rx90.shape")
    s = nmrc.read_bruker_shape(tmp_path / "rx90.shape", "13C", p.duration_s, rf)
    assert np.abs(s.ux_hz - p.ux_hz).max() < 1e-4 * rf
    # The caller's own link is followed once (as the CLI's --json); what the machine refuses is
    # ResourceError (an OSError; the CLI's exit 4).
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path / "elsewhere")
    p.write(tmp_path / "linked" / "p.json")
    assert nmrc.read_pulse(tmp_path / "elsewhere" / "p.json").to_json() == p.to_json()
    with pytest.raises(nmrc.ResourceError, match=r"^/sys/p\.json: cannot write file"):
        p.write("/sys/p.json")
    # Arrays -> pulse, with a target: judged like a compiled one.
    made = nmrc.make_pulse(p.ux_hz[0], p.uy_hz[0], p.dt_s, "13C", name="mine",
                           target=nmrc.Target(p.target), target_molecule=crotonic)
    assert nmrc.fidelity(made, crotonic).nominal == pytest.approx(
        nmrc.fidelity(p, crotonic).nominal, abs=1e-12)


@pytest.mark.parametrize("ux, message", [
    (np.array([1.0, np.nan, 2.0]), r"ux_hz\[1\] = nan: must be finite"),
    (np.array(["a", "b"]), r"ux_hz = ndarray of dtype <U1: must be a numeric array"),
    (np.zeros((2, 2, 2)), r"ux_hz\.shape = \(2, 2, 2\): must have 2 dimension"),
    (np.zeros(4) + 1j, r"ux_hz = complex array: must be real"),
])
def test_make_pulse_bad_arrays(ux, message):
    with pytest.raises(nmrc.InputError, match=message):
        nmrc.make_pulse(ux, np.zeros(3), 1e-5)


def test_make_pulse_bad_lengths_and_dt():
    with pytest.raises(nmrc.InputError, match=r"ux_hz: not an array"):
        nmrc.make_pulse([[1.0, 2.0], [3.0]], np.zeros(2), 1e-5)
    with pytest.raises(nmrc.InputError, match=r"uy_hz.shape = \(1, 2\): must equal"):
        nmrc.make_pulse(np.zeros(3), np.zeros(2), 1e-5)
    with pytest.raises(nmrc.InputError, match=r"dt_s = -1e-05: must be > 0"):
        nmrc.make_pulse(np.zeros(3), np.zeros(3), -1e-5)


# ---- spectrometer ---------------------------------------------------------------------------

def test_acquire_matches_cli(source, tmp_path):
    text = (source / "sequences" / "demos" / "thermal_90.yaml").read_text()
    text = text.replace("../../molecules/", str(source / "molecules") + "/")
    text = text.replace("td: 16384", "td: 1024").replace("zero_fill: 65536", "zero_fill: 4096")
    prog = tmp_path / "thermal.yaml"
    prog.write_text(text)
    run_cli("acquire", prog, "--out", tmp_path / "out")
    with open(tmp_path / "out" / "fid.csv") as f:
        rows = list(csv.DictReader(f))
    cli = np.array([float(r["re"]) + 1j * float(r["im"]) for r in rows])
    a = nmrc.acquire(prog)
    assert a.fid.points.shape == (1024,)
    assert np.abs(a.fid.points - cli).max() <= 1e-8 * np.abs(cli).max()
    assert len(a.lines) == 32 and a.spectrum.hz.shape == (4096,)
    # The fitted lines against the exact ones, within a few fit sigmas (SNR 3000).
    worst = max(abs(f.amplitude - t.amplitude) / max(f.std_error, 1e-30)
                for f, t in zip(a.lines, a.lines_true))
    assert worst < 6


def test_fid_process_fit_lines(crotonic):
    th = nmrc.thermal_state(crotonic)
    n = crotonic.size
    # An ideal 90-degree y rotation of every spin, by numpy: U = prod_k exp(-i pi/2 I_y^k).
    iy = sum(op(SY / 2, k, n) for k in range(n))
    u = step_expm(iy, np.pi / 2)
    rho = u @ th.rho @ u.conj().T
    f = nmrc.fid(crotonic, rho, "13C", 15000.0, 2048)
    fit = nmrc.fit_lines(crotonic, f)
    exact = nmrc.line_values(crotonic, rho, "13C")
    assert len(fit.lines) == 32
    worst = max(abs(a.amplitude - b.amplitude) for a, b in zip(fit.lines, exact))
    assert worst < 1e-9 * th.epsilon * 16
    s = nmrc.process(crotonic, f, zero_fill=4096, lb_hz=1.0)
    assert s.values.shape == (4096,) and np.all(np.diff(s.hz) > 0)


def test_spectrometer_bad_inputs(crotonic):
    th = nmrc.thermal_state(crotonic)
    with pytest.raises(nmrc.InputError, match=r"rho\.shape = \(4, 4\): must be \(16, 16\)"):
        nmrc.fid(crotonic, np.eye(4), "13C", 1e4, 64)
    bad = th.rho.copy()
    bad[3, 2] = np.nan
    with pytest.raises(nmrc.InputError, match=r"rho\[50\] = nan"):
        nmrc.fid(crotonic, bad, "13C", 1e4, 64)
    with pytest.raises(nmrc.InputError, match=r"channel = 1H: unknown channel \(known: 13C\)"):
        nmrc.fid(crotonic, th.rho, "1H", 1e4, 64)
    with pytest.raises(nmrc.InputError, match=r"sw_hz = -10000: must be in"):
        nmrc.fid(crotonic, th.rho, "13C", -1e4, 64)
    with pytest.raises(nmrc.InputError, match=r"rho = str of dtype <U3: must be a numeric array"):
        nmrc.fid(crotonic, "rho", "13C", 1e4, 64)
    f = nmrc.fid(crotonic, th.rho, "13C", 1e4, 100)
    with pytest.raises(nmrc.InputError, match=r"processing: zero_fill"):
        nmrc.process(crotonic, f)  # 100 points: not a power of two
    with pytest.raises(nmrc.InputError, match=r"^fid: sw_hz = 'fast': must be a real number$"):
        nmrc.fid(crotonic, th.rho, "13C", "fast", 64)


def test_completeness_and_tomography(source):
    c = nmrc.completeness(["XX", "YY"], 2)
    assert not c.complete and c.rank < c.parameters == 15 and c.proposed
    full = nmrc.completeness(["XX", "YY"] + c.proposed, 2)
    assert full.complete
    with pytest.raises(nmrc.InputError, match=r"settings = XZ: readout axis 'Z' is not I, X or Y"):
        nmrc.completeness(["XZ"], 2)
    with pytest.raises(nmrc.InputError, match=r"settings = XYX: must be 2 letters of I, X, Y"):
        nmrc.completeness(["XYX"], 2)
    # Lowercase letters are read as readout files read them.
    assert nmrc.completeness(["xx", "yy"] + c.proposed, 2).complete


def test_reconstruct_from_line_tables():
    # A random 2-spin density matrix (numpy), its ideal line tables, and back.
    rng = np.random.default_rng(4)
    g = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    rho = g @ g.conj().T
    rho /= np.trace(rho)
    c = nmrc.completeness(["XX", "YY"], 2)
    settings = ["XX", "YY"] + c.proposed
    values = np.array([nmrc.readout_values(rho, s, 2) for s in settings])
    assert values.shape == (len(settings), 8)
    r = nmrc.reconstruct(settings, values, 2)
    assert np.abs(r.linear - rho).max() < 1e-10 and np.abs(r.physical - rho).max() < 1e-10
    assert r.residual < 1e-12
    with pytest.raises(nmrc.InputError,
                       match=rf"values.shape = \(2, 8\): must be \({len(settings)}, 8\)"):
        nmrc.reconstruct(settings, values[:2], 2)
    with pytest.raises(nmrc.InputError):  # incomplete: the library names what it cannot see
        nmrc.reconstruct(["XX", "YY"], values[:2], 2)


# ---- theory ---------------------------------------------------------------------------------

SMALL_THEORY = {
    "format": "nmrc-theory/1", "name": "small",
    "defaults": {"subsystems": [{"name": "S1", "temperature": 1.0},
                                {"name": "S2", "temperature": 1.0}],
                 "bath_temperature": 0.9, "g": 20, "tau": 0.01, "collisions": 6,
                 "interaction": "cascade", "order": ["S1", "S2"]},
    "runs": [{"name": "c_minus", "coherences": [{"pair": "all", "c": -0.3}]}],
}


def test_theory_matches_cli(tmp_path):
    prog = tmp_path / "small.yaml"
    prog.write_text(json.dumps(SMALL_THEORY))
    run_cli("theory", prog, "--out", tmp_path / "out")
    with open(tmp_path / "out" / "c_minus" / "steps.csv") as f:
        rows = list(csv.DictReader(f))
    seen = []
    runs = nmrc.theory(SMALL_THEORY, progress=seen.append)
    assert seen and len(runs) == 1
    assert seen[-1]["job"] == "theory" and seen[-1]["run"] == "c_minus"
    s = runs[0].steps
    assert s.energy.shape == (len(rows), 2) == (13, 2)
    for k, name in enumerate(["S1", "S2"]):
        cli = np.array([float(r[f"E_{name}"]) for r in rows])
        assert np.allclose(s.energy[:, k], cli, rtol=1e-8, atol=1e-12)
    assert np.allclose(s.heat_to_bath, [float(r["heat_to_bath"]) for r in rows], atol=1e-10)
    # The same from the file.
    assert np.array_equal(nmrc.theory(prog)[0].steps.energy, s.energy)


def _files(root, suffixes=(".csv", ".json", ".md")):
    """{relative path: bytes} of the result files under root (figures left out)."""
    return {str(f.relative_to(root)): f.read_bytes() for f in sorted(root.rglob("*"))
            if f.is_file() and f.suffix in suffixes}


def test_theory_files_same_as_cli(tmp_path):
    """nmrc.theory(..., out=DIR) writes the CLI's CSV and JSON files byte for byte (the one
    writer, thermo/output.hpp): a trajectory with the master equation and a convergence study,
    and a sweep."""
    prog = json.loads(json.dumps(SMALL_THEORY))
    prog["runs"][0].update({"master_equation": True, "convergence": {"halvings": 1}})
    prog["runs"].append({"name": "sweep", "sweep": {"pair": ["S1", "S2"], "from": -0.5,
                                                    "to": 0.5, "count": 3}})
    path = tmp_path / "p.yaml"
    path.write_text(json.dumps(prog))
    run_cli("theory", path, "--out", tmp_path / "cli")
    nmrc.theory(path, out=tmp_path / "py")
    cli, py = _files(tmp_path / "cli"), _files(tmp_path / "py")
    assert {"summary.json", "c_minus/steps.csv", "c_minus/directions.csv",
            "c_minus/master_equation.csv", "c_minus/convergence.csv", "c_minus/convergence.md",
            "c_minus/summary.json", "sweep/sweep.csv", "sweep/summary.json"} == set(cli)
    assert py == cli
    # No figures from Python: only the CLI draws them.
    assert not list((tmp_path / "py").rglob("*.png"))


def test_theory_bad_input():
    bad = json.loads(json.dumps(SMALL_THEORY))
    bad["defaults"]["tau"] = -0.01
    with pytest.raises(nmrc.InputError, match=r"<dict>:\d+:\d+: defaults.tau = -0.01: must be > 0"):
        nmrc.theory(bad)


# ---- preparation and tomography -------------------------------------------------------------

def density(path):
    d = json.loads(path.read_text())
    return np.array(d["real"]) + 1j * np.array(d["imag"])


def test_prepare_matches_cli(source, tmp_path):
    prog = source / "sequences" / "preparation" / "fig3_c-0.5.yaml"
    run_cli("prepare", prog, "--out", tmp_path / "ta")
    p = nmrc.prepare(prog)
    assert p.target == "temporal_averaging"
    assert np.abs(p.reduced - density(tmp_path / "ta" / "rho_system.json")).max() < 1e-12
    assert np.abs(p.requested - density(tmp_path / "ta" / "rho_requested.json")).max() < 1e-12
    assert p.uhlmann_fidelity > 0.999


def test_tomography_matches_cli(source, tmp_path):
    prog = tmp_path / "t.yaml"
    prog.write_text(
        f"name: t\nmolecule: {source / 'molecules' / 'crotonic_acid.yaml'}\n"
        f"readout: {source / 'sequences' / 'readout' / 'paper17_completed.yaml'}\n"
        "state: {random: {seed: 3, rank: 2}}\nlines: spectrometer\n"
        "acquisition: {sw_hz: 15000, td: 2048}\n")
    run_cli("tomography", prog, "--out", tmp_path / "res")
    t = nmrc.tomography(prog)
    assert np.abs(t.physical - density(tmp_path / "res" / "rho_reconstructed.json")).max() < 1e-12
    assert np.abs(t.true_state - density(tmp_path / "res" / "rho_true.json")).max() < 1e-12
    assert t.fidelity > 0.9999 and len(t.settings) == 18


# ---- the experiment -------------------------------------------------------------------------

def test_experiment_matches_cli(source, tmp_path):
    """The CLI test's ideal-gate program (tests/cli/experiment.sh), one measured collision."""
    prog = tmp_path / "ideal.yaml"
    prog.write_text(
        "format: nmrc-experiment/1\n"
        f"molecule: {source / 'molecules' / 'crotonic_acid.yaml'}\n"
        f"theory: {source / 'sequences' / 'heat_flow' / 'fig3.yaml'}\n"
        f"readout: {source / 'sequences' / 'readout' / 'paper17_completed.yaml'}\n"
        f"compiled: {tmp_path / 'compiled'}\n"
        "imperfections: {relaxation: true, b1_ensemble: false, compiled_gates: false, "
        "noise: true, readout: false}\n"
        "acquisition: {snr: 300, repeats: 2}\nerror_budget: false\nmeasure: [1]\n"
        "cases:\n  - {run: c_minus_0.5}\n")
    cache = tmp_path / "cache"
    run_cli("experiment", prog, "--out", tmp_path / "out", "--cache-dir", cache)
    cli = json.loads((tmp_path / "out" / "c_minus_0.5" / "summary.json").read_text())
    texts = []
    cases = nmrc.experiment(prog, cache_dir=cache, progress=texts.append, out=tmp_path / "py")
    assert len(cases) == 1 and texts and all(t["job"] == "experiment" for t in texts)
    # out=: the CLI's files from the same writer (experiment/output.hpp), byte for byte but for
    # the run time and the figure the CLI draws and names.
    cli_files, py_files = _files(tmp_path / "out"), _files(tmp_path / "py")
    assert set(cli_files) == set(py_files) and "c_minus_0.5/rho_system_m1.json" in py_files
    for name, data in cli_files.items():
        if name.endswith("summary.json"):
            a, b = json.loads(data), json.loads(py_files[name])
            a.pop("seconds", None), b.pop("seconds", None), a.pop("figure", None)
            assert a == b, name
            assert list(a) == list(b), name  # the same keys in the same order
        else:
            assert data == py_files[name], name
    c = cases[0]
    for k, name in enumerate(c.subsystems):
        assert c.delta_ideal[k] == pytest.approx(cli["delta_energy"][name], abs=1e-12)
        assert c.delta_measured["mean"][k] == pytest.approx(cli["measured_delta_energy"][name],
                                                            abs=1e-12)
    # The same program as a dict standing in tmp_path: the same numbers.
    import yaml
    d = dict(yaml.safe_load(prog.read_text()), name="ideal")
    again = nmrc.experiment(d, cache_dir=cache, base_dir=tmp_path)
    assert np.array_equal(again[0].delta_measured["mean"], c.delta_measured["mean"])
    with pytest.raises(nmrc.InputError, match=r"<dict>:1:1: name: the program has no name"):
        nmrc.experiment({k: v for k, v in d.items() if k != "name"}, cache_dir=cache,
                        base_dir=tmp_path)
    with pytest.raises(nmrc.InputError, match=r"compile = 'maybe': must be auto, never or"):
        nmrc.experiment(prog, cache_dir=cache, compile="maybe")


# ---- Bruker export -------------------------------------------------------------------------

def test_export_bruker_same_as_cli(source, tmp_path, monkeypatch):
    """nmrc.export_bruker writes the files of `nmrc export bruker` (one library entry point,
    compiler/bruker_inputs.hpp) byte for byte, with the date stamp from SOURCE_DATE_EPOCH."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01 00:00:00 UTC
    c = source / "sequences" / "gates" / "compiled"
    pulses = [c / "swap_c1_c4.json", c / "swap_c2_c4.json"]
    mol = source / "molecules" / "crotonic_acid.yaml"
    r = run_cli("export", "bruker", *pulses, "--molecule", mol, "--out", tmp_path / "cli",
                "--p90", 10, "--plw", 20, "--ns", 4, "--cyclops")
    summary = nmrc.export_bruker(pulses, tmp_path / "py", molecule=mol, p90_us=10, plw_w=20,
                                 ns=4, cyclops=True)
    cli = {str(f.relative_to(tmp_path / "cli")): f.read_bytes()
           for f in (tmp_path / "cli").rglob("*") if f.is_file()}
    py = {str(f.relative_to(tmp_path / "py")): f.read_bytes()
          for f in (tmp_path / "py").rglob("*") if f.is_file()}
    assert "lists/wave/swap_c2_c4" in py and "1/acqus" in py and py == cli
    assert b"2026/01/01" in py["lists/wave/swap_c1_c4"]
    assert summary and all(line in r.stdout for line in summary)
    # The switching decoupler's options (docs/bruker.md, "1H decoupling"), as the CLI's.
    run_cli("export", "bruker", *pulses, "--molecule", mol, "--out", tmp_path / "cli2",
            "--decoupler-pulses", "cw", "--cw-b2-hz", 20000, "--cw-min-us", 18000)
    nmrc.export_bruker(pulses, tmp_path / "py2", molecule=mol, decoupler_pulses="cw",
                       cw_b2_hz=20000, cw_min_us=18000)
    cli2 = {str(f.relative_to(tmp_path / "cli2")): f.read_bytes()
            for f in (tmp_path / "cli2").rglob("*") if f.is_file()}
    py2 = {str(f.relative_to(tmp_path / "py2")): f.read_bytes()
           for f in (tmp_path / "py2").rglob("*") if f.is_file()}
    assert py2 == cli2 and py2 != py
    # swap_c1_c4 (18.5 ms) under CW; swap_c2_c4 is the readout (the element before go=2)
    assert py2["lists/pp/nmrc_pulses"].count(b"  4u cw:f2\n") == 1
    with pytest.raises(nmrc.InputError, match="decoupler_pulses = 'both': must be cw or cpd"):
        nmrc.export_bruker(pulses, tmp_path / "none", molecule=mol, decoupler_pulses="both")
    # Bad input: the library's message, nothing written.
    with pytest.raises(nmrc.InputError, match="--molecule: required to export pulse files"):
        nmrc.export_bruker(pulses, tmp_path / "none")
    with pytest.raises(nmrc.InputError, match="export_bruker: ns = 0: must be an integer"):
        nmrc.export_bruker(pulses, tmp_path / "none", molecule=mol, ns=0)
    with pytest.raises(nmrc.InputError, match="CYCLOPS needs a multiple of 4 scans"):
        nmrc.export_bruker(pulses, tmp_path / "none", molecule=mol, ns=3, cyclops=True)
    assert not (tmp_path / "none").exists()
