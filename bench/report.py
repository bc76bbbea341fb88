#!/usr/bin/env python3
"""bench/report.py SAMPLES.tsv OUTDIR: turn guest-bench.sh's samples into
OUTDIR/results.md (median, spread, ratio to the baseline, goal),
OUTDIR/results.json and OUTDIR/truncate.png (the truncate wait against
clients x layouts, with gnuplot).

Ratios: median against median, and best against best (highest for MB/s,
lowest for times): the guest's rxe link runs in one of two speed states,
and a best and a median may land in different ones."""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile


def load(path):
    rows = []
    for line in open(path, encoding="utf-8"):
        f = line.rstrip("\n").split("\t")
        if len(f) < 7:
            continue
        vals = [float(v) for v in " ".join(f[6:]).split() if re.fullmatch(r"-?[0-9.]+", v)]
        rows.append({"key": f[0], "what": f[1], "unit": f[2], "better": f[3],
                     "baseline": None if f[4] == "-" else f[4],
                     "goal": None if f[5] == "-" else f[5], "samples": vals})
    return rows


def derive(rows):
    """Issue 9's moonshot: a truncate at 32 x 16 within 5 round trips + 1 ms
    of the no-layout one. Adds the yardstick and the 32 x 16 row against it."""
    by_key = {r["key"]: r for r in rows}
    need = [by_key.get(k) for k in ("trunc_none", "rtt", "scale_32x16")]
    if not all(r and r["samples"] for r in need):
        return rows
    none, rtt, scale = need
    target = statistics.median(none["samples"]) + 1 + 5 * statistics.median(rtt["samples"]) / 1000
    rows.append({"key": "moonshot", "what": "moonshot yardstick: the no-layout wait + 1 ms + 5 round trips",
                 "unit": "ms", "better": "lo", "baseline": None, "goal": None, "samples": [round(target, 3)]})
    rows.append(dict(scale, key="scale_32x16_moonshot", baseline="moonshot", goal="<= 1",
                     what=scale["what"] + ", against the moonshot"))
    return rows


def summarize(rows):
    by_key = {r["key"]: r for r in rows}
    for r in rows:
        s = r["samples"]
        r["median"] = statistics.median(s) if s else None
        r["min"] = min(s) if s else None
        r["max"] = max(s) if s else None
        r["best"] = (max(s) if r["better"] == "hi" else min(s)) if s else None
    for r in rows:  # baselines may come later in the file
        b = by_key.get(r["baseline"]) if r["baseline"] else None
        r["ratio"] = r["ratio_best"] = None
        if b and r["median"] is not None and b["median"]:
            r["ratio"] = r["median"] / b["median"]
            r["ratio_best"] = r["best"] / b["best"]
        r["met"] = goal_met(r)
    return rows


def goal_met(r):
    """Whether the goal holds: on the ratio when there is a baseline, else on
    the value itself (a count, or a bound in the row's unit)."""
    if not r["goal"] or r["median"] is None:
        return None
    m = re.fullmatch(r"\s*(<=|>=|<|>)?\s*([0-9.]+)\s*(\S*)\s*", r["goal"])
    if not m:
        return None
    op, bound = m.group(1) or "<=", float(m.group(2))
    v = r["ratio"] if r["baseline"] and not m.group(3) else r["median"]
    if v is None:
        return None
    return {"<=": v <= bound, ">=": v >= bound, "<": v < bound, ">": v > bound}[op]


def fmt(v):
    if v is None:
        return "n/a"
    if v == int(v) and abs(v) < 1000:
        return str(int(v))
    return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


# The boots scripts/bench makes, by key prefix: a row is compared only with
# rows of its own boot.
BOOTS = [("", "the 6.1 guest (Debian 12's kernel), FS-DAX bounce and tmpfs pinned"),
         ("zc_", "the 7.3 guest (trixie-backports' kernel): zero copy, FS-DAX odp and device-DAX"),
         ("fl_", "the 7.3 guest with rdma-core 56: RDMA FLUSH, device-DAX on a file-backed NVDIMM")]


def boot_of(key):
    return max((i for i, (prefix, _) in enumerate(BOOTS) if key.startswith(prefix)),
               key=lambda i: len(BOOTS[i][0]))


def markdown(rows):
    names = {r["key"]: r["what"] for r in rows}
    out = []
    for i, (_, boot) in enumerate(BOOTS):
        mine = [r for r in rows if boot_of(r["key"]) == i]
        if not mine:
            continue
        if out:
            out.append("")
        out += [f"| what (one boot of {boot}; QEMU/TCG, Soft-RoCE rxe0) | median | spread (min-max, n) | unit "
                "| x baseline: median (best) | goal |",
                "|---|---:|---|---|---|---|"]
        for r in mine:
            spread = f"{fmt(r['min'])}-{fmt(r['max'])}, {len(r['samples'])}" if len(r["samples"]) > 1 \
                else f"n = {len(r['samples'])}"
            ratio = ""
            if r["ratio"] is not None:
                ratio = f"x{r['ratio']:.2f} (x{r['ratio_best']:.2f}) of *{names[r['baseline']]}*"
            goal = ""
            if r["goal"]:
                goal = r["goal"] + {True: ": met", False: ": **missed**", None: ""}[r["met"]]
            out.append(f"| {r['what']} | {fmt(r['median'])} | {spread} | {r['unit']} | {ratio} | {goal} |")
    return "\n".join(out) + "\n"


def plot(rows, outdir):
    pts = []
    for r in rows:
        m = re.fullmatch(r"scale_(\d+)x(\d+)", r["key"])
        if m and r["samples"]:
            c, k = int(m.group(1)), int(m.group(2))
            pts.append((c * k, r["median"], r["min"], r["max"], f"{c}x{k}"))
    none = next((r for r in rows if r["key"] == "trunc_none"), None)
    if not pts:
        return None
    pts.sort()
    with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False, encoding="utf-8") as f:
        for p in pts:
            f.write("%d %.3f %.3f %.3f %s\n" % p)
        data = f.name
    png = os.path.join(outdir, "truncate.png")
    script = f"""
set terminal pngcairo size 900,540 font ",11"
set output '{png}'
set title "Local truncate(2) wait while clients hold layouts on the file (QEMU/TCG, rxe0)"
set xlabel "layouts on the file (clients x layouts each)"
set ylabel "truncate wait, ms (median, min-max)"
set logscale x 2
set grid
set key left top
set xrange [0.7:4096]
set yrange [0:*]
"""
    plots = [f"'{data}' using 1:2:3:4 with yerrorlines lw 2 pt 7 title 'all layouts recalled and returned'",
             f"'{data}' using 1:2:5 with labels offset 0,1.2 notitle"]
    if none and none["median"] is not None:
        plots.append(f"{none['median']:.3f} with lines dt 2 lw 2 title 'no layout ({none['median']:.1f} ms)'")
    plots.append("20 with lines dt 3 lw 1 title 'goal at 32x16: 20 ms'")
    script += "plot " + ", \\\n     ".join(plots) + "\n"
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
    finally:
        os.unlink(data)
    return png


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: report.py SAMPLES.tsv OUTDIR")
    rows = summarize(derive(load(sys.argv[1])))
    outdir = sys.argv[2]
    with open(os.path.join(outdir, "results.md"), "w", encoding="utf-8") as f:
        f.write(markdown(rows))
    with open(os.path.join(outdir, "results.json"), "w", encoding="utf-8") as f:
        json.dump(rows, f, indent=1)
        f.write("\n")
    png = plot(rows, outdir)
    print(markdown(rows), end="")
    print(f"report: {outdir}/results.md, results.json" + (f", {os.path.basename(png)}" if png else ""))


if __name__ == "__main__":
    main()
