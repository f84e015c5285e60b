"""Merges the benchmark parts into bench/results.json, checks the targets, prints a table and
draws bench/startup.png, bench/local_queries.png, bench/in_place_queries.png and bench/synth.png."""

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


def measured():
    """When and on what each part was measured: every part of one run has the same."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True).stdout.strip()
    return {"commit": commit + ("+uncommitted" if dirty else ""), "date": time.strftime("%Y-%m-%d"),
            "cpus": os.cpu_count()}


def main():
    parts, out = Path(sys.argv[1]), Path(sys.argv[2])
    lam, burst, queries, in_place, synth = (load(parts, n) for n in
                                            ("lambda", "burst", "local_queries", "in_place_queries", "synth"))
    when = measured()
    # Parts this script does not run (evidence_scale: `cargo run --example evidence_scale`) keep
    # the figures, commit and date they were measured with.
    previous = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
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
        "in_place_query": in_place,
        "synth": {"scales": synth},
        "rehydrate": load(parts, "rehydrate"),
    }
    for part in results.values():
        part["measured"] = when
    if "evidence_scale" in previous:
        results["evidence_scale"] = previous["evidence_scale"]
    speedup = python["first_event_ms"] / exporter["first_event_ms"]
    worst = max(queries["queries"], key=lambda q: q["ratio"])
    worst_in_place = max(in_place["queries"], key=lambda q: q["ratio"])
    results["targets"] = {
        "first_event_speedup": round(speedup, 1),
        "first_event_10x": speedup >= 10,
        "rss_under_25_mb": exporter["rss_mb"] < 25,
        "zip_under_8_mb": exporter["zip_mb"] < 8,
        "burst_exactly_once": report["exported"] == report["snapshots"] and not (report["lost"] or report["duplicates"] or report["dlq"]),
        "burst_lost_events_recovered": report["recovered_by_reconcile"] == report["lost_events_injected"],
        "burst_at_most_8_calls_per_snapshot": report["api_calls_per_snapshot"] <= 8,
        "burst_drain_within_1_1x": report["drain_minutes"] <= 1.1 * report["ideal_minutes"],
        "local_queries_each_at_most_1_0x_duckdb": worst["ratio"] <= 1.0,
        "local_queries_geomean_at_most_0_8x": queries["geomean_ratio"] <= 0.8,
        "in_place_queries_each_at_most_1_0x_duckdb_httpfs": worst_in_place["ratio"] <= 1.0,
        "peak_memory_at_most_duckdb": all(q["athenaq_peak_mb"] <= q["duckdb_peak_mb"]
                                          for q in queries["queries"] + in_place["queries"]),
        "queries_same_rows": all(q["same_rows"] for q in queries["queries"] + in_place["queries"]),
        "templates_within_limits": all(s["within_limits"] for s in synth),
        "rehydrate_at_least_0_8_of_copy": results["rehydrate"]["ratio"] >= 0.8,
    }
    results["provenance"] = {
        **when,
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
    for title, part in (("local", queries), ("in place on S3", in_place)):
        print(f"\n{title + ' query':<24}{'athenaq ms':>11}{'no cache':>10}{'duckdb ms':>11}{'ratio':>7}"
              f"{'athenaq MB':>11}{'duckdb MB':>11}  same rows")
        for q in part["queries"]:
            print(f"{q['name']:<24}{q['athenaq_ms']:>11.1f}{q['athenaq_no_cache_ms']:>10.1f}{q['duckdb_ms']:>11.1f}"
                  f"{q['ratio']:>7.2f}{q['athenaq_peak_mb']:>11.1f}{q['duckdb_peak_mb']:>11.1f}  {q['same_rows']}")
        print(f"geometric mean ratio {part['geomean_ratio']} ({part['geomean_ratio_no_cache']} without the cache)")
    r = results["rehydrate"]
    print(f"\nrehydrate: {r['rows']} rows at {r['rows_per_s']} rows/s (--jobs 1; {r['jobs_2_rows_per_s']} with --jobs 2), "
          f"COPY FROM CSV {r['copy_rows_per_s']} rows/s: ratio {r['ratio']}; peak {r['peak_mb']} MB")
    print(f"\n{'databases':>10}{'synth ms':>10}{'stacks':>8}{'max bytes':>11}{'max resources':>15}")
    for s in synth:
        if "refused" in s:
            print(f"{s['databases']:>10}{s['ms']:>10.1f}  refused: {s['refused']}")
            continue
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
    bars(out / "in_place_queries.png", [q["name"] for q in in_place["queries"]],
         ("athenaq --local s3://", [q["athenaq_ms"] for q in in_place["queries"]]),
         ("DuckDB httpfs", [q["duckdb_ms"] for q in in_place["queries"]]),
         "ms (median)", "In place on S3 (local s3rver)")

    fig, ax = plt.subplots(figsize=(6, 3.2))
    made = [s for s in synth if "refused" not in s]
    ax.plot([s["databases"] for s in made], [s["ms"] for s in made], marker="o")
    ax.set_xscale("log")
    ax.set_xlabel("databases")
    ax.set_ylabel("infra synth (ms)")
    ax.set_title("Synthesis time by fleet size")
    fig.tight_layout()
    fig.savefig(out / "synth.png", dpi=120)


if __name__ == "__main__":
    main()
