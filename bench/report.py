"""Merges the benchmark parts into bench/results.json, checks the targets, prints a table and
draws bench/startup.png, bench/local_queries.png and bench/synth.png."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(parts, name):
    return json.loads((parts / f"{name}.json").read_text())


def bars(path, labels, ours, theirs, ylabel, title):
    """Two bars per label, side by side."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    xs = range(len(labels))
    for offset, (name, values) in ((-0.2, ours), (0.2, theirs)):
        ax.bar([x + offset for x in xs], values, 0.4, label=name)
    ax.set_xticks(list(xs), labels, rotation=15)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    parts, out = Path(sys.argv[1]), Path(sys.argv[2])
    lam, burst, queries, synth = (load(parts, n) for n in ("lambda", "burst", "local_queries", "synth"))
    exporter, python = lam["exporter"], lam["python_baseline"]
    report = burst["report"]
    results = {
        "exporter": {k: round(exporter[k], 2) for k in ("init_ms", "first_event_ms", "warm_record_ms", "rss_mb", "zip_mb")},
        "python_baseline": {k: round(python[k], 2) for k in ("init_ms", "first_event_ms", "warm_record_ms", "rss_mb")},
        "burst": {
            **{k: report[k] for k in ("snapshots", "exported", "lost", "duplicates", "dlq", "deliveries",
                                      "invocations", "faults_injected", "quota_refusals", "lost_events_injected",
                                      "recovered_by_reconcile", "reconcile_runs", "scheduled_dispatches")},
            "api_calls_per_snapshot": round(report["api_calls_per_snapshot"], 2),
            "drain_minutes": round(report["drain_minutes"], 1),
            "ideal_minutes": report["ideal_minutes"],
            "all_exported_minutes": round(report["all_exported_minutes"], 1),
            "calls": report["calls"],
            "spec": burst["spec"],
        },
        "local_query": queries,
        "synth": synth,
        "rehydrate": load(parts, "rehydrate"),
    }
    speedup = python["first_event_ms"] / exporter["first_event_ms"]
    worst = max(queries["queries"], key=lambda q: q["ratio"])
    results["targets"] = {
        "first_event_speedup": round(speedup, 1),
        "first_event_10x": speedup >= 10,
        "rss_under_25_mb": exporter["rss_mb"] < 25,
        "zip_under_8_mb": exporter["zip_mb"] < 8,
        "burst_exactly_once": report["exported"] == report["snapshots"] and not (report["lost"] or report["duplicates"] or report["dlq"]),
        "burst_lost_events_recovered": report["recovered_by_reconcile"] == report["lost_events_injected"],
        "burst_at_most_8_calls_per_snapshot": report["api_calls_per_snapshot"] <= 8,
        "burst_drain_within_1_1x": report["drain_minutes"] <= 1.1 * report["ideal_minutes"],
        "queries_within_1_5x_of_duckdb": worst["ratio"] <= 1.5,
        "queries_same_rows": all(q["same_rows"] for q in queries["queries"]),
        "templates_within_limits": all(s["within_limits"] for s in synth),
        "rehydrate_at_least_0_8_of_copy": results["rehydrate"]["ratio"] >= 0.8,
    }
    results["provenance"] = {
        "date": time.strftime("%Y-%m-%d"),
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
        "cpus": os.cpu_count(),
        # Before the benchmarks started: much above 0.5 means another process shared the cores.
        "load_average_1m_at_start": float((parts / "loadavg_at_start").read_text().split()[0]),
        "builds": "exporter: the packaged release zip (x86_64); athenaq, infra, burst: profile bench-build",
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")

    print(f"{'exporter start-up':<34}{'exporter':>12}{'python':>12}")
    for key, label in [("init_ms", "init (ms)"), ("first_event_ms", "process start -> 1st response (ms)"),
                       ("warm_record_ms", "warm record (ms)"), ("rss_mb", "peak RSS (MB)")]:
        print(f"{label:<34}{exporter[key]:>12.1f}{python[key]:>12.1f}")
    print(f"{'zip (MB)':<34}{exporter['zip_mb']:>12.2f}")
    b = results["burst"]
    print(f"\nburst: {b['snapshots']} snapshots, {b['exported']} exported, {b['lost']} lost, {b['duplicates']} duplicates, "
          f"{b['dlq']} in the DLQ; {b['lost_events_injected']} events lost, {b['recovered_by_reconcile']} recovered by "
          f"the reconcile; {b['api_calls_per_snapshot']} API calls/snapshot; "
          f"drain {b['drain_minutes']} min vs ideal {b['ideal_minutes']} min (all, reconciled included: "
          f"{b['all_exported_minutes']} min)")
    print(f"\n{'query':<16}{'athenaq ms':>12}{'duckdb ms':>12}{'ratio':>8}  same rows")
    for q in queries["queries"]:
        print(f"{q['name']:<16}{q['athenaq_ms']:>12.1f}{q['duckdb_ms']:>12.1f}{q['ratio']:>8.2f}  {q['same_rows']}")
    r = results["rehydrate"]
    print(f"\nrehydrate: {r['rows']} rows at {r['rows_per_s']} rows/s (--jobs 1; {r['jobs_2_rows_per_s']} with --jobs 2), "
          f"COPY FROM CSV {r['copy_rows_per_s']} rows/s: ratio {r['ratio']}; peak {r['peak_mb']} MB")
    print(f"\n{'databases':>10}{'synth ms':>10}{'stacks':>8}{'max bytes':>11}{'max resources':>15}")
    for s in synth:
        print(f"{s['databases']:>10}{s['ms']:>10.1f}{s['stacks']:>8}{s['max_template_bytes']:>11}{s['max_resources']:>15}")
    print("\ntargets: " + ", ".join(f"{k}={v}" for k, v in results["targets"].items()))

    bars(out / "startup.png", ["init", "first response"],
         ("exporter (Rust)", [exporter["init_ms"], exporter["first_event_ms"]]),
         ("Python 3.11 + boto3", [python["init_ms"], python["first_event_ms"]]),
         "ms from process start", "Cold start against the local Runtime API (median)")
    bars(out / "local_queries.png", [q["name"] for q in queries["queries"]],
         ("athenaq --local", [q["athenaq_ms"] for q in queries["queries"]]),
         ("DuckDB", [q["duckdb_ms"] for q in queries["queries"]]),
         "ms (median)", "Local queries on the generated export")

    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot([s["databases"] for s in synth], [s["ms"] for s in synth], marker="o")
    ax.set_xscale("log")
    ax.set_xlabel("databases")
    ax.set_ylabel("infra synth (ms)")
    ax.set_title("Synthesis time by fleet size")
    fig.tight_layout()
    fig.savefig(out / "synth.png", dpi=120)


if __name__ == "__main__":
    main()
