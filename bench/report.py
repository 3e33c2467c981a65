#!/usr/bin/env python3
"""bench/report.py — turns bench/run's raw numbers into OUT.md and OUT.png.

  report.py RAW.tsv META COMMANDS CALLGRIND_TOP OUT

RAW holds one line per measurement: a kind (run, strace, memory,
callgrind) and key=value fields. Only the standard library; the chart is
drawn by gnuplot.
"""
import os
import statistics
import subprocess
import sys
import tempfile

SCENARIOS = ["keepalive-50", "keepalive-1000", "pipeline-50",
             "pipeline-256", "close-50"]
# floor: bench/floor.c; hellod-base: bench/run's HELLOD_BASE_BIN
SERVERS = ["hellod", "hellod-base", "nginx", "nginx-deferred", "h2o",
           "lighttpd", "floor"]
# Issue 5's targets on server-core CPU per response, hellod / nginx.
CPU_TARGETS = {"keepalive-50": 0.75, "keepalive-1000": 0.75,
               "pipeline-50": 0.075, "pipeline-256": 0.075,
               "close-50": 0.90}
SYSCALL_TARGET = 2.1
RSS_TARGET = 256
# Issue 13's goals on hellod ÷ nginx: within a margin of the floor's own
# ratio in the same run, or a fixed bound; and instructions per request.
FLOOR_MARGINS = {"keepalive-50": 0.02, "pipeline-50": 0.008,
                 "pipeline-256": 0.008}
FIXED_GOALS = {"close-50": 0.75}
INSTRUCTION_GOALS = {"keepalive": 1500, "pipeline-16": 1100}


def parse(path):
    rows = []
    for line in open(path):
        parts = line.split()
        if not parts:
            continue
        row = {"kind": parts[0]}
        for field in parts[1:]:
            key, _, value = field.partition("=")
            row[key] = value
        rows.append(row)
    return rows


def read_kv(path):
    out = {}
    if os.path.exists(path):
        for line in open(path):
            key, _, value = line.rstrip("\n").partition("=")
            out[key] = value
    return out


def spread(values):
    """(median, min, max), or None for no values."""
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def speed_stats(rows):
    """{(scenario, server): {metric: (median, min, max)}}"""
    groups = {}
    for r in rows:
        if r["kind"] != "run":
            continue
        responses = int(r["responses"])
        if responses <= 0:
            continue
        busy, other = int(r["busy_jiffies"]), int(r.get("other_jiffies", 0))
        us_per_jiffy = 1e6 / int(r["hz"])
        cpu_us = busy * us_per_jiffy / responses
        g = groups.setdefault((r["scenario"], r["server"]),
                              {"rps": [], "p99": [], "cpu": [], "net": [],
                               "other": [], "errors": 0})
        g["net"].append((busy - other) * us_per_jiffy / responses)
        for part in ("user", "sys", "softirq"):
            g.setdefault(part, []).append(
                int(r.get(part + "_jiffies", 0)) * us_per_jiffy / responses)
        g["other"].append(100.0 * other / busy if busy else 0.0)
        g["rps"].append(float(r["rps"]))
        # wrk times one response per pipelined batch and then sometimes
        # prints 0 for its 99th percentile: no measurement, not zero.
        if float(r["p99_us"]) > 0:
            g["p99"].append(float(r["p99_us"]))
        g["cpu"].append(cpu_us)
        g["errors"] += int(r["errors"])
    stats = {}
    for key, g in groups.items():
        stats[key] = {m: spread(g[m])
                      for m in ("rps", "p99", "cpu", "net", "other",
                                "user", "sys", "softirq")}
        stats[key]["errors"] = g["errors"]
        stats[key]["runs"] = len(g["cpu"])
    for r in rows:
        if r["kind"] == "strace" and int(r["responses"]) > 0:
            s = stats.setdefault((r["scenario"], r["server"]), {})
            s["syscalls"] = int(r["syscalls"]) / int(r["responses"])
            s["syscall_top"] = r.get("top", "")
    return stats


def fmt(v, digits=1):
    return "–" if v is None else f"{v:,.{digits}f}"


def fmt_spread(s, digits=1, scale=1.0):
    if not s:
        return "–"
    med, lo, hi = (x * scale for x in s)
    return f"{fmt(med, digits)} ({fmt(lo, digits)}–{fmt(hi, digits)})"


def ratio(stats, scen, metric, server="hellod", base="nginx"):
    h = stats.get((scen, server), {}).get(metric)
    n = stats.get((scen, base), {}).get(metric)
    if h is None or n is None:
        return None
    h = h[0] if isinstance(h, tuple) else h
    n = n[0] if isinstance(n, tuple) else n
    return h / n if n else None


def per_rep(rows):
    """{(scenario, server, rep): CPU 0 jiffies per response}"""
    out = {}
    for r in rows:
        if r["kind"] == "run" and int(r["responses"]) > 0:
            key = (r["scenario"], r["server"], r.get("rep", "1"))
            out[key] = int(r["busy_jiffies"]) / int(r["responses"])
    return out


def rep_ratio(by_rep, scen, server, base="nginx"):
    """(median, min, max) over the repetitions of server ÷ base, each
    repetition's pair on its own: the servers of a repetition ran back
    to back, so a slow spell of the shared machine that lasts one
    cancels out. None without a pair."""
    values = [v / by_rep[(sc, base, rep)]
              for (sc, sv, rep), v in by_rep.items()
              if sc == scen and sv == server and by_rep.get((sc, base, rep))]
    return spread(values)


def verdict(ok):
    return "–" if ok is None else ("**met**" if ok else "**not met**")


def speed_table(stats):
    lines = [
        "| scenario | server | requests/s | p99 latency (ms) | CPU 0 µs / response | ÷ nginx | other tasks on CPU 0 | µs / response without them | system calls / response |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scen in SCENARIOS:
        for server in SERVERS:
            s = stats.get((scen, server))
            if not s:
                continue
            r = ratio(stats, scen, "cpu", server) if server != "nginx" else None
            other = s.get("other")
            lines.append(
                f"| {scen} | {server} | {fmt_spread(s.get('rps'), 0)} "
                f"| {fmt_spread(s.get('p99'), 2, 1e-3)} "
                f"| {fmt_spread(s.get('cpu'), 2)} "
                f"| {fmt(r, 3) if r is not None else ''} "
                f"| {fmt(other[0] if other else None, 0)} % "
                f"| {fmt_spread(s.get('net'), 2)} "
                f"| {fmt(s.get('syscalls'), 2)} |")
    return lines


def breakdown_table(stats):
    """Where CPU 0's time per response goes, by /proc/stat column."""
    lines = ["| scenario | server | user | system | irq + softirq | busy |",
             "|---|---|---:|---:|---:|---:|"]
    for scen in SCENARIOS:
        for server in SERVERS:
            s = stats.get((scen, server))
            if not s or not any(s.get(p, (0,))[0] for p in ("user", "sys", "softirq")):
                continue
            lines.append(f"| {scen} | {server} | {fmt(s['user'][0], 2)} "
                         f"| {fmt(s['sys'][0], 2)} | {fmt(s['softirq'][0], 2)} "
                         f"| {fmt(s['cpu'][0], 2)} |")
    return lines


def memory_rows(rows):
    out = {}
    for r in rows:
        if r["kind"] == "memory":
            conns = int(r["conns"])
            delta = (int(r["rss_after_kb"]) - int(r["rss_before_kb"])) * 1024
            out[r["server"]] = (conns, int(r["rss_before_kb"]),
                                int(r["rss_after_kb"]), delta / conns)
    return out


def callgrind_rows(rows):
    out = []
    for r in rows:
        if r["kind"] == "callgrind" and int(r["requests"]) > 0:
            n = int(r["requests"])
            ir, base = int(r["ir"]), int(r["base"])
            out.append((r.get("server", "hellod"), r["scenario"], n, ir,
                        base, (ir - base) / n))
    return out


def target_rows(stats, memory):
    lines = ["| target | measured | verdict |", "|---|---:|---|"]
    for scen, limit in CPU_TARGETS.items():
        r = ratio(stats, scen, "cpu")
        net = ratio(stats, scen, "net")
        lines.append(f"| CPU per response, {scen}: hellod ÷ nginx ≤ {limit} "
                     f"| {fmt(r, 3)} (without other tasks: {fmt(net, 3)}) "
                     f"| {verdict(None if r is None else r <= limit)} |")
    for scen in ("keepalive-50", "keepalive-1000"):
        s = stats.get((scen, "hellod"), {}).get("syscalls")
        lines.append(f"| system calls per keep-alive response ({scen}) ≤ {SYSCALL_TARGET} "
                     f"| {fmt(s, 2)} | {verdict(None if s is None else s <= SYSCALL_TARGET)} |")
    m = memory.get("hellod")
    per = m[3] if m else None
    lines.append(f"| RSS per idle connection ≤ {RSS_TARGET} B | {fmt(per, 0)} B "
                 f"| {verdict(None if per is None else per <= RSS_TARGET)} |")
    h = stats.get(("keepalive-1000", "hellod"), {}).get("p99")
    n = stats.get(("keepalive-1000", "nginx"), {}).get("p99")
    ok = None if not (h and n) else h[0] <= n[0]
    lines.append(f"| p99 latency at 1,000 connections ≤ nginx's "
                 f"| {fmt(h[0] / 1000 if h else None, 2)} ms vs {fmt(n[0] / 1000 if n else None, 2)} ms "
                 f"| {verdict(ok)} |")
    return lines


def goal_rows(by_rep, cg):
    """Issue 13's goals: each ratio per repetition, median (min–max)."""
    lines = ["| goal | measured, median (min–max) over the repetitions | verdict |",
             "|---|---|---|"]
    for scen, margin in FLOOR_MARGINS.items():
        h, f = rep_ratio(by_rep, scen, "hellod"), rep_ratio(by_rep, scen, "floor")
        ok = None if not (h and f) else h[0] <= f[0] + margin
        lines.append(f"| {scen}: hellod ÷ nginx ≤ floor ÷ nginx + {margin} "
                     f"| {fmt_spread(h, 3)} vs floor {fmt_spread(f, 3)} "
                     f"| {verdict(ok)} |")
    for scen, limit in FIXED_GOALS.items():
        h = rep_ratio(by_rep, scen, "hellod")
        d = rep_ratio(by_rep, scen, "hellod", "nginx-deferred")
        also = f"; ÷ nginx-deferred {fmt_spread(d, 3)}" if d else ""
        lines.append(f"| {scen}: hellod ÷ nginx ≤ {limit} "
                     f"| {fmt_spread(h, 3)}{also} "
                     f"| {verdict(None if not h else h[0] <= limit)} |")
    for server, scen, n, ir, base, per in cg:
        if server == "hellod" and scen in INSTRUCTION_GOALS:
            limit = INSTRUCTION_GOALS[scen]
            lines.append(f"| instructions per {scen} request ≤ {limit:,} "
                         f"| {per:,.0f} | {verdict(per <= limit)} |")
    return lines


def chart(stats, png):
    """Two panels: CPU µs per response (median, min–max bars) and system
    calls per response, hellod beside nginx for every scenario."""
    servers = [sv for sv in SERVERS
               if any(stats.get((sc, sv), {}).get("cpu") for sc in SCENARIOS)]
    data = []
    for scen in SCENARIOS:
        row = [stats.get((scen, sv), {}) for sv in servers]
        if not all(r.get("cpu") for r in row):
            continue
        cols = [scen]
        for r in row:
            cols += [f"{v:.4f}" for v in r["cpu"]]
        cols += [f"{r.get('syscalls', 0):.4f}" for r in row]
        data.append(" ".join(cols))
    if not servers or not data:
        return False
    colors = {"hellod": "#2a7fbf", "hellod-base": "#8fc0e8",
              "nginx": "#999999", "nginx-deferred": "#cccccc",
              "h2o": "#6a3d9a", "lighttpd": "#33a02c",
              "floor": "#e0a030"}
    cpu_plot = ", ".join(
        f'"{{dat}}" using {2 + 3 * i}:{3 + 3 * i}:{4 + 3 * i}'
        + (":xtic(1)" if i == 0 else "")
        + f' title "{sv}" lc rgb "{colors[sv]}"'
        for i, sv in enumerate(servers))
    k = 2 + 3 * len(servers)
    sys_plot = ", ".join(
        f'"{{dat}}" using {k + i}' + (":xtic(1)" if i == 0 else "")
        + f' title "{sv}" lc rgb "{colors[sv]}"'
        for i, sv in enumerate(servers))
    with tempfile.TemporaryDirectory() as tmp:
        dat = os.path.join(tmp, "chart.dat")
        with open(dat, "w") as f:
            f.write("\n".join(data) + "\n")
        cpu_plot = cpu_plot.replace("{dat}", dat)
        sys_plot = sys_plot.replace("{dat}", dat)
        script = f"""
set terminal pngcairo size 1400,560 font "sans,10"
set output "{png}"
set multiplot layout 1,2 title "one worker each on CPU 0, wrk on CPU 1 (median, bars min–max)"
set style data histogram
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top left
set xtics noenhanced
set logscale y
set yrange [0.1:*]
set style histogram errorbars gap 2 lw 1
set title "server-core CPU µs per response (log scale)"
plot {cpu_plot}
unset logscale y
set yrange [0:*]
set style histogram clustered gap 2
set title "system calls per response (strace -c -f)"
plot {sys_plot}
unset multiplot
"""
        gp = os.path.join(tmp, "chart.gp")
        with open(gp, "w") as f:
            f.write(script)
        subprocess.run(["gnuplot", gp], check=True)
    return True


def main(argv):
    if len(argv) != 6:
        sys.exit(__doc__)
    raw, meta_path, commands_path, top_path, out = argv[1:]
    rows = parse(raw)
    meta = read_kv(meta_path)
    stats = speed_stats(rows)
    memory = memory_rows(rows)
    cg = callgrind_rows(rows)
    png = out + ".png"
    have_chart = chart(stats, png)

    md = [f"# hellod vs nginx — {meta.get('date', '')}", ""]
    md += [f"- CPU: {meta.get('cpu', '?')}",
           f"- kernel: {meta.get('kernel', '?')}",
           f"- nginx {meta.get('nginx', '?')} (1 worker, `return 200`; "
           f"nginx-deferred the same with `listen ... deferred`), "
           f"h2o {meta.get('h2o', '?')} (`-m worker`, 1 thread) and "
           f"lighttpd {meta.get('lighttpd', '?')} (1 process), both serving "
           f"the body as a file, "
           f"wrk {meta.get('wrk', '?')}, hellod {meta.get('hellod', '?')} "
           f"(`-w 1`, -O2, `defer_accept 1s`)"
           + (f", hellod-base `{meta['hellod_base']}`" if meta.get("hellod_base") else ""),
           f"- settings: {meta.get('settings', '')}",
           "- each server alone on CPU 0 (`taskset -c 0`), wrk on CPU 1; "
           "the servers alternate run by run",
           ""]
    if stats:
        md += ["## Speed", "",
               "*floor* is `bench/floor.c`: one epoll loop with no parser "
               "and no Date, one `send` per read; the least a server can do "
               "per response here.", "",
               "Median of the runs, (min–max) beside it. *CPU 0 µs / response* is "
               "CPU 0's busy time from /proc/stat (every column but idle and "
               "iowait, so softirq counts) over the run, divided by the "
               "responses wrk counted; the ratio and the targets use it. "
               "*Other tasks* is the share of that busy time that neither the "
               "server's processes, nor CPU 0's ksoftirqd, nor irq/softirq "
               "account for: other programs on this shared machine. The "
               "column after it leaves that share out, as a check on noise. "
               "System calls come from a separate short run under "
               "`strace -c -f` that includes connection set-up.", ""]
        md += speed_table(stats)
        errs = [f"{k[1]} {k[0]}: {v['errors']}" for k, v in stats.items()
                if v.get("errors")]
        if errs:
            md += ["", "wrk reported errors (socket errors or non-2xx): " +
                   ", ".join(sorted(errs)) + "."]
        tops = [f"- {k[1]} {k[0]}: {v['syscall_top']}"
                for k, v in sorted(stats.items()) if v.get("syscall_top")]
        if tops:
            md += ["", "<details><summary>Busiest system calls (strace run)</summary>",
                   "", *tops, "", "</details>"]
        md += ["", "Where CPU 0's time per response goes (µs, medians, by "
               "/proc/stat column; *system* includes ksoftirqd and other "
               "tasks' kernel time):", ""] + breakdown_table(stats)
        md += [""]
    if have_chart:
        md += [f"![CPU µs and system calls per response]({os.path.basename(png)})", ""]
    if memory:
        md += ["## Memory per idle keep-alive connection", "",
               "RSS of a freshly started server (nginx: master + worker) before "
               "and while the connections are open, each idle after one "
               "request. Kernel socket memory is not in RSS.", "",
               "| server | connections | RSS before (kB) | RSS after (kB) | bytes per connection |",
               "|---|---:|---:|---:|---:|"]
        for server in SERVERS:
            if server in memory:
                c, b, a, per = memory[server]
                md.append(f"| {server} | {c:,} | {b:,} | {a:,} | {per:,.0f} |")
        md += [""]
    if cg:
        md += ["## Instructions per request (callgrind)", "",
               "hellod `-w 1` under `valgrind --tool=callgrind`, one connection, "
               "a fixed number of requests from `bench/client.py`; the "
               "instructions of a run that serves no request (start-up, "
               "shut-down) are subtracted.", "",
               "| server | run | requests | total Ir | Ir without requests | Ir per request |",
               "|---|---|---:|---:|---:|---:|"]
        for server, scen, n, ir, base, per in cg:
            md.append(f"| {server} | {scen} | {n:,} | {ir:,} | {base:,} | {per:,.0f} |")
        if os.path.exists(top_path) and os.path.getsize(top_path):
            md += ["", "Where the keep-alive run's instructions go "
                   "(`callgrind_annotate`, top of the list):", "", "```"]
            md += [l.rstrip() for l in open(top_path)]
            md += ["```"]
        md += [""]
    if stats or cg:
        md += ["## Goals (issue 13)", "",
               "Ratios of CPU 0 µs per response, taken within each "
               "repetition (the servers of one repetition ran back to "
               "back), then median and min–max over the repetitions; "
               "the verdict uses the medians.", ""] + goal_rows(per_rep(rows), cg) + [""]
    if stats or memory:
        md += ["## Targets (issue 5)", ""] + target_rows(stats, memory) + [""]
    if os.path.exists(commands_path) and os.path.getsize(commands_path):
        md += ["## Commands", "", "The load of each scenario (`PORT` is the "
               "server's; wrk runs the same line against nginx):", "", "```"]
        md += [l.rstrip() for l in open(commands_path)]
        md += ["```", ""]
    md += ["Reproduce: `make bench` (see docs/performance.md). Raw numbers: "
           f"`{os.path.basename(out)}.tsv`.", ""]
    with open(out + ".md", "w") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    main(sys.argv)
