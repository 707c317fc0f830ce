#!/usr/bin/env python3
"""Print the per-collision tables of docs/results.md from `nmrc experiment` outputs.

Usage: bench/experiment_tables.py {m1|cum|counts} OUT [OUT ...]

Reads only OUT/<case>/summary.json as nmrc writes it (docs/experiment-format.md):
  m1     the first collision's heat per subsystem: ideal, measured, +- stat, +- sys, verdict
  cum    the whole run's energy change per subsystem: the same columns
  counts the program's verdict counts (summed over its cases, as the run's summary line)
Rows are Markdown table rows; the case column is the case's folder name.
"""
import json
import os
import sys


def cases(out):
    for name in sorted(os.listdir(out)):
        path = os.path.join(out, name, "summary.json")
        if os.path.isfile(path):
            with open(path) as f:
                yield name, json.load(f)


def row(case, s, ideal, mean, stat, sys_, verdict):
    return f"| {case} | {s} | {ideal:+.5f} | {mean:+.5f} | {stat:.5f} | {sys_:.5f} | {verdict} |"


def first_collision(out):
    for case, j in cases(out):
        names = [k for k in j["spins"] if k != "R"]
        for pt in j["points"]:
            if pt["collision"] != 1:
                continue
            for k, s in enumerate(names):
                d = pt["collision_increment"][k]
                print(row(case, s, pt["collision_increment_ideal"][k], d["mean"],
                          d["statistical"], d["systematic"], pt["verdict"][k]))


def cumulative(out):
    for case, j in cases(out):
        for s, ideal in j["delta_energy"].items():
            print(row(case, s, ideal, j["measured_delta_energy"][s],
                      j["measured_delta_energy_statistical"][s],
                      j["measured_delta_energy_systematic"][s], j["direction"][s]["verdict"]))


def counts(out):
    keys = ["resolved_right", "resolved_wrong", "unresolved", "mean_of_wrong_sign",
            "magnitude_within_goal", "within_one_bar", "within_two_bars"]
    total = dict.fromkeys(keys, 0)
    judged = 0
    for _, j in cases(out):
        v = j["verdicts"]
        judged += sum(v[k] for k in ("resolved_right", "resolved_wrong", "unresolved"))
        for k in keys:
            total[k] += v[k]
    print(f"{out}: judged {judged}, " + ", ".join(f"{k} {total[k]}" for k in keys))


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("m1", "cum", "counts"):
        sys.exit(__doc__)
    mode = {"m1": first_collision, "cum": cumulative, "counts": counts}[sys.argv[1]]
    for out in sys.argv[2:]:
        mode(out)


if __name__ == "__main__":
    main()
