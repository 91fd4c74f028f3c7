#!/usr/bin/env python3
"""honest_summary.py DIR: summarises the honest benchmark run in DIR (bench/run-cpu.sh writes it).

Reads DIR/jmh-*.json (JMH's JSON, every fork's iterations in rawData) and writes DIR/summary.md and
DIR/summary.json: per workload and method the median over forks of the per-fork mean, the spread between
forks ((max - min) / median), allocation per batch (gc.alloc.rate.norm), and each backend's ratio to the
ceiling of the same run (the faster of ceilingC and ceilingJava, by median); for PackBenchmark the "x ceiling"
column holds packed / unpacked batches per second of the same backend. Rows that miss a target of
issue 13 are listed under "Short of target". A backend allocating per batch is one whose B/op exceeds what the
ceilings of the same workload show (JMH's own bookkeeping, scaled to the backend's operations) by more than
EXCESS_LIMIT bytes a batch ("alloc_excess_bytes_per_op" in summary.json).

A group may be run in passes (jmh-NAME-pass1.json, jmh-NAME-pass2.json, ...: one fork of every variant per
pass, as bench/run-cpu.sh runs them): the passes' forks are merged, and a backend's ratio to the ceiling is then
the median over passes of its ratio within each pass, where it ran within a minute of the ceilings, so a drift
of the host between passes cancels. "x ceiling" is that median; summary.json also keeps the ratio of the
medians over forks ("ratio_of_medians") and each pass's ratio ("ratio_per_pass")."""
import glob
import json
import os
import re
import statistics
import sys

TARGET = {"javaBackend": 0.9, "nativeBackend": 1.0}
DTYPE_TARGET = 0.5
SPREAD_LIMIT = 0.15
ALLOC_LIMIT = 64.0  # B/op for a ceiling: JMH's per-iteration bookkeeping (a few KB), spread over the ops of an iteration
# B per batch that a backend may allocate beyond JMH's bookkeeping, which is estimated from the ceilings of the same
# workload (they allocate nothing per batch): their B/op scaled by their operations per backend operation. Half
# the smallest object: one Optional or boxed value per batch is flagged (a84c554)
EXCESS_LIMIT = 8.0


def load(d):
    merged = {}
    for f in sorted(glob.glob(os.path.join(d, "jmh-*.json"))):
        name = os.path.basename(f)[4:-5]
        m = re.fullmatch(r"(.*)-pass(\d+)", name)
        run, npass = (m.group(1), int(m.group(2))) if m else (name, 0)
        for r in json.load(open(f)):
            cls, method = r["benchmark"].split(".")[-2:]
            forks = [statistics.fmean(it) for it in r["primaryMetric"]["rawData"]]
            alloc = r.get("secondaryMetrics", {}).get("gc.alloc.rate.norm", {}).get("score")
            p = r.get("params", {})
            method = p.get("variant", method)
            key = (run, cls, p.get("regime", "epoch" if cls == "EpochBenchmark" else "steady"), int(p.get("batchSize", 64)), p.get("src", "int32"),
                   p.get("dtype", "int32"), r.get("threads", 1))
            row = merged.setdefault((key, method), {"key": key, "method": method, "unit": r["primaryMetric"]["scoreUnit"],
                                                    "forks": [], "passes": {}, "allocs": []})
            row["forks"] += forks
            if m and forks:
                row["passes"][npass] = statistics.fmean(forks)
            if alloc is not None:
                row["allocs"].append(alloc)
    rows = []
    for row in merged.values():
        forks = row["forks"]
        row["median"] = statistics.median(forks)
        row["spread"] = (max(forks) - min(forks)) / row["median"] if forks else float("nan")
        row["alloc"] = max(row.pop("allocs")) if row.get("allocs") else None
        rows.append(row)
    return rows


def per_pass_ratios(r, ms, time_mode):
    """The backend's ratio to the faster ceiling within each pass both ran in (empty without passes)."""
    out = []
    for n, v in sorted(r["passes"].items()):
        cs = [ms[c]["passes"][n] for c in ("ceilingC", "ceilingJava") if c in ms and n in ms[c]["passes"]]
        if cs:
            out.append(min(cs) / v if time_mode else v / max(cs))
    return out


def main(d):
    rows = load(d)
    by = {}
    for r in rows:
        by.setdefault(r["key"], {})[r["method"]] = r
    out, short = [], []
    for key in sorted(by, key=lambda k: tuple(str(x) for x in k)):
        run, cls, regime, b, src, dtype, threads = key
        ms = by[key]
        time_mode = next(iter(ms.values()))["unit"].endswith("/op")
        if cls == "PackBenchmark":   # packed against unpacked, same backend, same batches
            for be in ("java", "native"):
                if be + "Packed" in ms and be + "Unpacked" in ms:
                    ms[be + "Packed"]["vs_unpacked"] = ms[be + "Packed"]["median"] / ms[be + "Unpacked"]["median"]
        ceilings = [ms[m]["median"] for m in ("ceilingC", "ceilingJava") if m in ms]
        ceiling = (min(ceilings) if time_mode else max(ceilings)) if ceilings else None
        for m, r in sorted(ms.items()):
            ratio = r.get("vs_unpacked")
            of_medians, passes = None, []
            if ceiling and not m.startswith("ceiling"):
                ratio = of_medians = ceiling / r["median"] if time_mode else r["median"] / ceiling
                passes = per_pass_ratios(r, ms, time_mode)
                if passes:
                    ratio = statistics.median(passes)
            scaling = None
            if threads > 1:   # against the same method and workload with one thread (any run but split)
                same = lambda k2: k2[1:6] == key[1:6] and k2[6] == 1 and k2[0] != "split"
            elif run != "split":   # one batch split over threads: against the split run's one processor
                same = lambda k2: k2[0] == "split" and k2[1:] == key[1:]
            else:
                same = None
            one = [by[k2][m]["median"] for k2 in by if same and same(k2) and m in by[k2]]
            if one:
                scaling = r["median"] / one[0]
            row = {"run": run, "benchmark": cls, "regime": regime, "batch": b, "src": src, "dtype": dtype,
                   "threads": threads, "method": m, "median": r["median"], "unit": r["unit"],
                   "forks": r["forks"], "spread": r["spread"], "alloc_bytes_per_op": r["alloc"],
                   "ratio_to_ceiling": ratio, "ratio_of_medians": of_medians, "ratio_per_pass": passes,
                   "scaling_vs_1_thread": scaling}
            out.append(row)
            why = []
            if ratio is not None and threads == 1:
                want = (0.5 if cls == "PackBenchmark" else TARGET.get(m, 0) if (src, dtype) == ("int32", "int32")
                        else DTYPE_TARGET)
                if ratio < want:
                    why.append(f"ratio {ratio:.2f}x < {want}x")
            if scaling is not None and scaling < 1.5 and not m.startswith("ceiling"):
                why.append(f"{threads} threads give {scaling:.2f}x one thread < 1.5x" if threads > 1
                           else f"the batch split over every processor gives {scaling:.2f}x one processor < 1.5x")
            if r["spread"] > SPREAD_LIMIT:
                why.append(f"fork spread {100 * r['spread']:.0f}% > 15%")
            batches = 256 if cls == "EpochBenchmark" else 1   # batches per operation
            # a backend's bookkeeping from its ceilings; a ceiling, a PackBenchmark row or a backend without ceilings
            # is held to the absolute limit
            books = [] if m.startswith("ceiling") or cls == "PackBenchmark" else [
                c["alloc"] * (r["median"] / c["median"] if time_mode else c["median"] / r["median"])
                for n, c in ms.items() if n.startswith("ceiling") and c["alloc"] is not None]
            if r["alloc"] is not None and books:
                row["alloc_excess_bytes_per_op"] = r["alloc"] - max(books)
                if row["alloc_excess_bytes_per_op"] > EXCESS_LIMIT * batches:
                    why.append(f"allocates {r['alloc']:.1f} B/op, {row['alloc_excess_bytes_per_op']:.1f} more than"
                               f" the ceilings' JMH bookkeeping explains")
            elif r["alloc"] is not None and r["alloc"] > ALLOC_LIMIT * batches:
                why.append(f"allocates {r['alloc']:.0f} B/op")
            if why:
                short.append((row, "; ".join(why)))
    json.dump({"rows": out, "short": [dict(r, why=w) for r, w in short]}, open(os.path.join(d, "summary.json"), "w"),
              indent=1)
    lines = ["| run | benchmark | regime | B | src -> dtype | thr | method | median | unit | forks | spread | B/op | x ceiling | per pass | x 1 thread |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in out:
        lines.append("| {run} | {benchmark} | {regime} | {batch} | {src} -> {dtype} | {threads} | {method} | {m:.4g} | {unit} | "
                     "{forks} | {s:.0f}% | {a} | {x} | {pp} | {t} |".format(
                         m=r["median"], s=100 * r["spread"], a="" if r["alloc_bytes_per_op"] is None else f"{r['alloc_bytes_per_op']:.1f}",
                         x="" if r["ratio_to_ceiling"] is None else f"{r['ratio_to_ceiling']:.2f}",
                         pp=", ".join(f"{v:.2f}" for v in r["ratio_per_pass"]),
                         t="" if r["scaling_vs_1_thread"] is None else f"{r['scaling_vs_1_thread']:.2f}",
                         **{k: (", ".join(f"{v:.4g}" for v in r[k]) if k == "forks" else r[k]) for k in r
                            if k != "ratio_per_pass"}))
    lines += ["", "## Short of target", ""]
    lines += [f"- {r['run']} {r['benchmark']} {r['regime']} B={r['batch']} {r['src']}->{r['dtype']} t={r['threads']} "
              f"{r['method']}: {w}" for r, w in short] or ["- none"]
    open(os.path.join(d, "summary.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
