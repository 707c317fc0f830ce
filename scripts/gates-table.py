#!/usr/bin/python3
"""The table of the paper's compiled gates in docs/results.md, from
sequences/gates/compiled/reports/ (written by scripts/compile-gates.sh). Prints the rows; with
--update docs/results.md it replaces the rows between the <!-- gates-table --> markers (written
to a temporary file in the same folder, then renamed over it)."""
import json
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parent.parent
reports = root / "sequences" / "gates" / "compiled" / "reports"
order = ["partial_swap_c1_c4", "partial_swap_c2_c4", "partial_swap_c3_c4", "ud_fig3", "readout"]

relaxed = {}
relax_file = reports / "relaxation.json"
if relax_file.exists():
    for entry in json.loads(relax_file.read_text()):
        if "process_fidelity_relaxed" in entry:
            relaxed[entry["name"]] = entry["process_fidelity_relaxed"]["nominal"]


def seconds(text):
    wall, _, _, cpu, *_ = text.split()
    return float(wall), float(cpu)


rows = []
for program in order:
    report = json.loads((reports / f"{program}.json").read_text())
    wall, cpu = seconds((reports / f"{program}.time").read_text())
    gates = report["gates"]
    for g in gates:
        bound = g.get("time_optimal_bound_s")
        ratio = g.get("duration_over_bound")
        if bound is None:
            bound_text, ratio_text = "-", "-"
        else:
            bound_text = f"{bound * 1e3:.2f} ms"
            if ratio < 1:
                bound_text += " (direct J24; routed via C3)"
            ratio_text = f"{ratio:.3f}"
        fid = g["validation"]
        coarse = g["grape"].get("coarse_evaluations", 0)
        evaluations = (f"{g['grape']['evaluations']} + {coarse} coarse" if coarse else
                       f"{g['grape']['evaluations']}")
        relax = relaxed.get(g["name"])
        time_text = (f"{wall:.0f} s / {cpu:.0f} s" if len(gates) == 1 else
                     f"{g['grape']['wall_s']:.1f} s (program: {wall:.0f} s / {cpu:.0f} s CPU)")
        rows.append(
            f"| {g['name']} ({program}) | {g['duration_s'] * 1e3:.1f} ms, {g['steps']} steps | "
            f"{bound_text} | {ratio_text} | {fid['nominal']:.5f} | {fid['min']:.5f} | "
            f"{'-' if relax is None else f'{relax:.4f}'} | {evaluations} | {time_text} |")

table = "\n".join(rows)
if len(sys.argv) == 3 and sys.argv[1] == "--update":
    path = pathlib.Path(sys.argv[2])
    text = path.read_text()
    start = text.index("<!-- gates-table -->\n") + len("<!-- gates-table -->\n")
    end = text.index("<!-- /gates-table -->")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text[:start] + table + "\n" + text[end:])
    tmp.replace(path)
else:
    print(table)
