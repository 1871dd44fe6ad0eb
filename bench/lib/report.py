#!/usr/bin/env python3
"""report.py - turn bench/run's raw results into the table and the JSON.

Usage: report.py RUNDIR [JSON_OUT]

RUNDIR/meta holds KEY=VALUE lines (machine, workers, mode, readiness
times, supervisor and nginx memory); RUNDIR/results holds one line per
timed row: STACK<TAB>NAME<TAB>CONCURRENCY<TAB>RSS_KB<TAB>RESULT, RESULT
being wrk's JSON line from lib/report.lua or "n/a: why".  Ratios are
mwsup / FPM: above 1 is better for req/s, below 1 is better for latency
and memory.  With --page-cache a third stack, "varnish", has rows too:
they go in their own table (page_cache in the JSON).
"""
import json
import sys

ORDER = ["main_page", "main_page_gz", "article_heavy", "api_siteinfo",
         "api_recentchanges", "api_allmessages", "load_startup",
         "load_startup_gz", "static_file", "static_asset", "hello_php",
         "bootstrap_only"]


def read_meta(path):
    meta = {}
    for line in open(path):
        k, _, v = line.rstrip("\n").partition("=")
        meta[k] = v
    return meta


def num(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        try:
            return float(v)
        except (TypeError, ValueError):
            return None


def read_rows(path):
    rows = []
    for line in open(path):
        stack, name, conc, rss, result = line.rstrip("\n").split("\t", 4)
        row = {"name": name, "concurrency": int(conc), "stack": stack}
        if result.startswith("{"):
            w = json.loads(result)
            secs = w["duration_us"] / 1e6
            row.update(rps=round(w["requests"] / secs, 1),
                       p50_ms=round(w["p50_us"] / 1000.0, 2),
                       p99_ms=round(w["p99_us"] / 1000.0, 2),
                       errors=w["status_errors"] + w["socket_errors"],
                       requests=w["requests"],
                       cpu_ms=(round(w["cpu_ticks"] * 1000.0 / w["clk_tck"]
                                     / w["requests"], 3)
                               if w.get("clk_tck") and w["requests"] else None),
                       bytes_per=(round(w["bytes"] / w["requests"])
                                  if w["requests"] else None))
        else:
            row.update(rps=None, p50_ms=None, p99_ms=None, errors=None,
                       na=result.replace("n/a: ", "", 1))
        row["rss_kb"] = num(rss)
        rows.append(row)
    rows.sort(key=lambda r: (ORDER.index(r["name"]) if r["name"] in ORDER
                             else 99, r["concurrency"], r["stack"] != "mwsup"))
    return rows


def peak_worker_rss(rows, stack):
    """The largest per-row average worker RSS: what a worker grows to.

    The end-of-run value can be a worker just recycled (both stacks
    replace a worker after 10000 requests), so it says little."""
    vals = [r["rss_kb"] for r in rows
            if r["stack"] == stack and r.get("rss_kb") is not None]
    return max(vals) if vals else None


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


# The MediaWiki rows a warm worker serves without the bootstrap.
MW_ROWS = ["main_page", "article_heavy", "api_siteinfo", "api_recentchanges",
           "api_allmessages", "load_startup"]


def bootstrap_share(rows):
    """What FPM's bootstrap alone is of each MediaWiki row at concurrency 1.

    bootstrap_only runs WebStart.php (all of Setup.php) and prints a line:
    under FPM, its p50 is what a request pays before MediaWiki's own work.
    A stack that skipped that and nothing else would answer a row in
    (fpm p50 - bootstrap p50): without_bootstrap is fpm p50 over that.  A warm
    worker keeps more than the bootstrap (loaded classes, kept services),
    so mwsup's ratio can be above it."""
    at = {(r["name"], r["stack"]): r for r in rows if r["concurrency"] == 1}
    boot = at.get(("bootstrap_only", "fpm"), {}).get("p50_ms")
    if not boot:
        return None, []
    out = []
    for name in MW_ROWS:
        f = at.get((name, "fpm"), {}).get("p50_ms")
        m = at.get((name, "mwsup"), {}).get("p50_ms")
        if not f:
            continue
        rest = f - boot
        out.append({"name": name, "fpm_p50_ms": f, "share": min(boot / f, 1.0),
                    "without_bootstrap": f / rest if rest > 0 else None,
                    "mwsup": ratio(f, m)})
    return boot, out


def page_cache(rows):
    """With --page-cache: each row Varnish was timed on, mwsup's hits
    against Varnish's, against uncached FPM, and against mwsup's own
    static-file rate at the same concurrency (the goals: >= 0.8, >= 50,
    >= 0.8)."""
    at = {(r["name"], r["concurrency"], r["stack"]): r for r in rows}
    out = []
    for r in rows:
        if r["stack"] != "varnish":
            continue
        name, conc = r["name"], r["concurrency"]
        m = at.get((name, conc, "mwsup"), {}).get("rps")
        f = at.get((name, conc, "fpm"), {}).get("rps")
        s = at.get(("static_file", conc, "mwsup"), {}).get("rps")
        out.append({"name": name, "concurrency": conc, "mwsup_rps": m,
                    "varnish_rps": r.get("rps"), "fpm_rps": f,
                    "mwsup_static_file_rps": s,
                    "mwsup_vs_varnish": ratio(m, r.get("rps")),
                    "mwsup_vs_fpm": ratio(m, f),
                    "mwsup_vs_static_file": ratio(m, s)})
    return out


def fmt(v, spec, width):
    if v is None:
        return "-".rjust(width)
    return format(v, spec).rjust(width)


def table(meta, rows, boot, share):
    out = []
    w = meta.get("workers", "?")
    out.append("mwsup%s vs nginx + PHP-FPM 8.2 (pm=static), %s workers each, "
               "%s mode (%s s per row), %s" % (
                   (" (warm workers)" if meta.get("mwsup_warm") == "1" else "")
                   + (" (page cache on)" if meta.get("mwsup_page_cache") == "1"
                      else ""),
                   w, meta.get("mode", "?"),
                                             meta.get("duration", "?"),
                                             meta.get("date", "?")))
    out.append("machine: %s" % meta.get("machine", "?"))
    if meta.get("db", "sqlite") != "sqlite" or meta.get("cache", "db") != "db":
        out.append("wiki: database %s, object cache and sessions in %s"
                   % (meta.get("db", "sqlite"), meta.get("cache", "db")))
    if meta.get("load_start"):
        out.append("load average (1/5/15 min): at start %s, at end %s "
                   "(other work on the machine competes with both stacks)"
                   % (meta["load_start"], meta.get("load_end", "?")))
    out.append("")
    head = ("%-17s %4s | %9s %8s %8s %5s | %9s %8s %8s %5s | %6s %6s | %9s %9s"
            % ("workload", "conc", "mwsup r/s", "p50 ms", "p99 ms", "err",
               "fpm r/s", "p50 ms", "p99 ms", "err", "r/s x", "p50 x",
               "mwsup KB", "fpm KB"))
    out.append(head)
    out.append("-" * len(head))
    by = {}
    for r in rows:
        by.setdefault((r["name"], r["concurrency"]), {})[r["stack"]] = r
    notes = []
    for (name, conc), st in sorted(by.items(), key=lambda kv: (
            ORDER.index(kv[0][0]) if kv[0][0] in ORDER else 99, kv[0][1])):
        m, f = st.get("mwsup", {}), st.get("fpm", {})
        cells = []
        for r in (m, f):
            if r.get("na"):
                cells.append("%9s %8s %8s %5s" % ("n/a", "", "", ""))
                note = "%s %s: n/a: %s" % (r["stack"], name, r["na"])
                if note not in notes:
                    notes.append(note)
            else:
                cells.append("%s %s %s %s" % (
                    fmt(r.get("rps"), ".1f", 9), fmt(r.get("p50_ms"), ".2f", 8),
                    fmt(r.get("p99_ms"), ".2f", 8), fmt(r.get("errors"), "d", 5)))
        rr = ratio(m.get("rps"), f.get("rps"))
        pr = ratio(m.get("p50_ms"), f.get("p50_ms"))
        out.append("%-17s %4d | %s | %s | %s %s | %s %s" % (
            name, conc, cells[0], cells[1], fmt(rr, ".2f", 6), fmt(pr, ".2f", 6),
            fmt(m.get("rss_kb"), "d", 9), fmt(f.get("rss_kb"), "d", 9)))
    out.append("")
    out.append("r/s x, p50 x: mwsup / FPM (r/s above 1 and p50 below 1 favour "
               "mwsup); err: non-2xx/3xx + socket errors;")
    out.append("KB: average VmRSS of one PHP worker (mwworker / php-fpm child) "
               "right after the row.")
    sup, ngx = num(meta.get("mwsup_sup_rss_kb")), num(meta.get("nginx_rss_kb"))
    mw, fc = peak_worker_rss(rows, "mwsup"), peak_worker_rss(rows, "fpm")
    out.append("")
    out.append("memory (VmRSS): PHP worker, largest row average: mwsup %s KB vs "
               "FPM %s KB (x%s);\n                at the end: mwsup supervisor %s KB vs nginx master+workers "
               "%s KB (x%s)" % (
                   mw if mw is not None else "-", fc if fc is not None else "-",
                   fmt(ratio(mw, fc), ".2f", 0).strip(),
                   sup if sup is not None else "-",
                   ngx if ngx is not None else "-",
                   fmt(ratio(sup, ngx), ".2f", 0).strip()))
    out.append("start to ready: mwsup %s ms (\"ready:\" logged), php-fpm %s ms "
               "(socket accepts)" % (meta.get("mwsup_ready_ms", "-") or "-",
                                    meta.get("fpm_ready_ms", "-") or "-"))
    if share:
        out.append("")
        out.append("FPM's bootstrap alone (bootstrap_only, c=1): p50 %.2f ms. Its share "
                   "of each FPM row; the p50 ratio" % boot)
        out.append("of skipping the bootstrap and nothing else (fpm p50 / (fpm p50 - "
                   "bootstrap)); mwsup's (fpm p50 / mwsup p50):")
        for b in share:
            out.append("  %-17s fpm p50 %7.2f ms  bootstrap %3.0f%%  without it x%s  "
                       "mwsup x%s" % (b["name"], b["fpm_p50_ms"], 100 * b["share"],
                                      fmt(b["without_bootstrap"], ".2f", 0).strip(),
                                      fmt(b["mwsup"], ".2f", 0).strip()))
    cpu = [(name, conc, st.get("mwsup", {}), st.get("fpm", {}))
           for (name, conc), st in sorted(by.items(), key=lambda kv: (
               ORDER.index(kv[0][0]) if kv[0][0] in ORDER else 99, kv[0][1]))]
    if any(m.get("cpu_ms") is not None for _, _, m, _ in cpu):
        out.append("")
        out.append("CPU per answer (user + system of all the stack's processes: "
                   "mwsup and its workers; nginx and php-fpm), ms, and bytes "
                   "per answer as wrk read them (head included):")
        for name, conc, m, f in cpu:
            out.append("  %-17s c=%-3d mwsup %s ms %s B   fpm %s ms %s B   x%s" % (
                name, conc, fmt(m.get("cpu_ms"), ".2f", 6),
                fmt(m.get("bytes_per"), "d", 7), fmt(f.get("cpu_ms"), ".2f", 6),
                fmt(f.get("bytes_per"), "d", 7),
                fmt(ratio(m.get("cpu_ms"), f.get("cpu_ms")), ".2f", 0).strip()))
    pc = page_cache(rows)
    if pc:
        out.append("")
        out.append("page cache: mwsup's hits vs Varnish (in front of the same "
                   "nginx + FPM) vs uncached FPM, r/s,")
        out.append("and vs mwsup's static_file at the same concurrency "
                   "(goals: x varnish >= 0.8, x fpm >= 50, x static >= 0.8):")
        for p in pc:
            out.append("  %-17s c=%-3d mwsup %s  varnish %s  fpm %s  static %s"
                       "  x varnish %s  x fpm %s  x static %s" % (
                           p["name"], p["concurrency"],
                           fmt(p["mwsup_rps"], ".0f", 7),
                           fmt(p["varnish_rps"], ".0f", 7),
                           fmt(p["fpm_rps"], ".0f", 6),
                           fmt(p["mwsup_static_file_rps"], ".0f", 7),
                           fmt(p["mwsup_vs_varnish"], ".2f", 5),
                           fmt(p["mwsup_vs_fpm"], ".1f", 6),
                           fmt(p["mwsup_vs_static_file"], ".2f", 5)))
    sizes = [l for l in meta.get("sizes", "").split(";") if l]
    if sizes:
        out.append("")
        out.append("compressed rows, as the check received them: " + "; ".join(sizes))
    for n in notes:
        out.append(n)
    for stack in ("mwsup", "fpm"):
        bad = meta.get(stack + "_check_after")
        if bad:
            out.append("WARNING: after timing, %s answered wrong for: %s"
                       % (stack, bad.strip()))
    return "\n".join(out)


def main():
    if len(sys.argv) not in (2, 3):
        sys.stderr.write(__doc__)
        sys.exit(2)
    rundir = sys.argv[1]
    meta = read_meta(rundir + "/meta")
    rows = read_rows(rundir + "/results")
    boot, share = bootstrap_share(rows)
    print(table(meta, rows, boot, share))
    if len(sys.argv) == 3:
        doc = {
            "machine": meta.get("machine"),
            "workers": num(meta.get("workers")),
            "mode": meta.get("mode"),
            "mwsup_warm": meta.get("mwsup_warm") == "1",
            "mwsup_page_cache": meta.get("mwsup_page_cache") == "1",
            "duration_s": num(meta.get("duration")),
            "date": meta.get("date"),
            "mwsup_commit": meta.get("commit"),
            "load_average_start": meta.get("load_start"),
            "load_average_end": meta.get("load_end"),
            "mwsup_ready_ms": num(meta.get("mwsup_ready_ms")),
            "fpm_ready_ms": num(meta.get("fpm_ready_ms")),
            "memory_kb": {
                "mwsup_worker_peak_row_avg": peak_worker_rss(rows, "mwsup"),
                "fpm_child_peak_row_avg": peak_worker_rss(rows, "fpm"),
                "mwsup_worker_avg_at_end": num(meta.get("mwsup_worker_rss_kb")),
                "fpm_child_avg_at_end": num(meta.get("fpm_child_rss_kb")),
                "mwsup_supervisor": num(meta.get("mwsup_sup_rss_kb")),
                "nginx_master_and_workers": num(meta.get("nginx_rss_kb")),
            },
            "check_after_failed": {s: meta[s + "_check_after"].split()
                                   for s in ("mwsup", "fpm")
                                   if meta.get(s + "_check_after")},
            "fpm_bootstrap_p50_ms": boot,
            "page_cache": [{k: round(v, 3) if isinstance(v, float) else v
                            for k, v in p.items()} for p in page_cache(rows)],
            "bootstrap_share": [{k: round(v, 3) if isinstance(v, float) else v
                                 for k, v in b.items()}
                                for b in share],
            "rows": [{k: r.get(k) for k in
                      ("name", "concurrency", "stack", "rps", "p50_ms",
                       "p99_ms", "errors", "rss_kb", "cpu_ms", "bytes_per",
                       "na") if k != "na"
                      or r.get("na")} for r in rows],
        }
        with open(sys.argv[2], "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
