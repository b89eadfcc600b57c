#!/usr/bin/env python3
"""Summarizes bench/copy-vs-rclone.sh measurements.

usage: summarize.py RUNS.tsv RAW.tsv [--real-s3 SERVER]

RUNS.tsv, one line per measured copy:
  dataset tool round wall_s cpu_s rss_kib objects bytes list_wall_s list_cpu_s
  (tool: ferry | rclone | rclone-default; for ferry, wall_s and cpu_s are the
  worker's alone and list_* the listing step's, which the totals include)
RAW.tsv, one line per raw curl measurement:
  dataset what seconds objects bytes

Prints a Markdown table per dataset (one row per run, ratios against the
tuned rclone run of the same round), the raw limits, and as the last line
  RESULT small_wall_ratio=... small_cpu_ratio=... large_wall_ratio=... large_rss_mib=...
with the medians of the per-round ratios (large_rss_mib: the median peak RSS
of ferry-worker over the huge, 4 x 1 GiB, runs). With --real-s3 SERVER (the
copies ran between two real S3 servers, bench/copy-vs-rclone.sh --server):
  RESULT real_s3_small_wall_ratio=... real_s3_small_cpu_ratio=...
         real_s3_large_wall_ratio=... real_s3_large_cpu_ratio=... server=SERVER
"""
import statistics
import sys


def load(path, n):
    rows = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) == n:
                rows.append(p)
    return rows


def fmt(x, d=2):
    return "n/a" if x is None else f"{x:.{d}f}"


def cell(x):
    return "" if x is None else f"{x:.2f}"


def rate(x):
    return f"{x:.0f}" if x >= 100 else f"{x:.2g}" if x < 1 else f"{x:.1f}"


def main():
    runs = load(sys.argv[1], 10)
    raw = load(sys.argv[2], 5)
    recs = []
    for ds, tool, rnd, wall, cpu, rss, objs, nbytes, lw, lc in runs:
        wall, cpu, lw, lc = float(wall), float(cpu), float(lw), float(lc)
        recs.append(dict(ds=ds, tool=tool, round=int(rnd), worker_wall=wall, worker_cpu=cpu,
                         wall=wall + lw, cpu=cpu + lc, rss_mib=int(rss) / 1024.0,
                         objs=int(objs), bytes=int(nbytes), list_wall=lw, list_cpu=lc))
    out = []
    medians = {}
    for ds in ("small", "large", "huge"):
        rs = [r for r in recs if r["ds"] == ds]
        if not rs:
            continue
        out.append(f"\n### {ds}: {rs[0]['objs']} objects, {rs[0]['bytes'] / 1e6:.1f} MB\n")
        out.append("| run | tool | wall s | CPU s | peak RSS MiB | objects/s | MB/s "
                   "| wall ratio | CPU ratio | RSS ratio |")
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        ratios = {"wall": [], "cpu": [], "rss": [], "wwall": [], "wcpu": []}
        for r in sorted(rs, key=lambda r: (r["round"], r["tool"])):
            ref = [x for x in rs if x["tool"] == "rclone" and x["round"] == r["round"]]
            wr = cr = rr = None
            if r["tool"] == "ferry" and ref:
                wr = r["wall"] / ref[0]["wall"]
                cr = r["cpu"] / ref[0]["cpu"]
                rr = r["rss_mib"] / ref[0]["rss_mib"]
                ratios["wall"].append(wr)
                ratios["cpu"].append(cr)
                ratios["rss"].append(rr)
                ratios["wwall"].append(r["worker_wall"] / ref[0]["wall"])
                ratios["wcpu"].append(r["worker_cpu"] / ref[0]["cpu"])
            tool = r["tool"]
            if tool == "ferry":
                tool = (f"ferry (list {r['list_wall']:.2f} s / {r['list_cpu']:.2f} CPU-s "
                        f"+ worker {r['worker_wall']:.2f} s / {r['worker_cpu']:.2f} CPU-s)")
            out.append(f"| {r['round']} | {tool} | {r['wall']:.2f} | {r['cpu']:.2f} "
                       f"| {r['rss_mib']:.1f} | {rate(r['objs'] / r['wall'])} "
                       f"| {r['bytes'] / 1e6 / r['wall']:.1f} | {cell(wr)} | {cell(cr)} | {cell(rr)} |")
        for k, v in ratios.items():
            medians[(ds, k)] = statistics.median(v) if v else None
        ferry = [r for r in rs if r["tool"] == "ferry"]
        medians[(ds, "rss_mib")] = statistics.median([r["rss_mib"] for r in ferry]) if ferry else None
        medians[(ds, "ferry_wall")] = statistics.median([r["wall"] for r in ferry]) if ferry else None
        if ratios["wall"]:
            out.append(f"\nmedian ratios ferry/rclone: wall {fmt(medians[(ds, 'wall')])}, "
                       f"CPU {fmt(medians[(ds, 'cpu')])}, RSS {fmt(medians[(ds, 'rss')])}; "
                       f"worker alone (listing excluded): wall {fmt(medians[(ds, 'wwall')])}, "
                       f"CPU {fmt(medians[(ds, 'wcpu')])}")
        rw = [x for x in raw if x[0] == ds]
        if rw:
            out.append("\nraw server limit (one curl -Z process, 32 parallel): " + "; ".join(
                f"{w} {float(s):.2f} s ({rate(int(o) / float(s))} objects/s, "
                f"{int(b) / 1e6 / float(s):.1f} MB/s)" for _, w, s, o, b in rw))
    print("\n".join(out))
    if len(sys.argv) > 4 and sys.argv[3] == "--real-s3":
        print("\nRESULT real_s3_small_wall_ratio=%s real_s3_small_cpu_ratio=%s "
              "real_s3_large_wall_ratio=%s real_s3_large_cpu_ratio=%s server=%s" % (
                  fmt(medians.get(("small", "wall"))), fmt(medians.get(("small", "cpu"))),
                  fmt(medians.get(("large", "wall"))), fmt(medians.get(("large", "cpu"))), sys.argv[4]))
        return
    print("\nRESULT small_wall_ratio=%s small_cpu_ratio=%s large_wall_ratio=%s large_rss_mib=%s" % (
        fmt(medians.get(("small", "wall"))), fmt(medians.get(("small", "cpu"))),
        fmt(medians.get(("large", "wall"))), fmt(medians.get(("huge", "rss_mib")), 1)))


if __name__ == "__main__":
    main()
