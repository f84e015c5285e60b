"""Queries side by side: `athenaq query --local` against DuckDB on the same Parquet files, either
in a folder (`--exports DIR`) or in place on S3 (`--s3 ENDPOINT BUCKET PREFIX`, DuckDB through
httpfs on the same endpoint). Both get identical SQL: DuckDB is given views with the Glue names
and the partition columns athenaq provides, after the same discovery (info files read, part
files listed).

Every run is a fresh process on both sides. athenaq is timed as a whole process (start,
discovery, planning, query, output), which is what an analyst waits for: with its metadata
cache as it is after a first run, and with --no-cache. DuckDB is timed from connect to the last
row, its interpreter's start not counted. Runs alternate; medians. Peak RSS of each process from
wait4. Prints JSON.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from queries import QUERIES, normal_rows, same

HERE = Path(__file__).resolve().parent


def run_measured(cmd, env):
    """Runs `cmd`; its wall time (ms), stdout, and peak RSS (MB, from wait4)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    ms = (time.perf_counter() - started) * 1000
    if proc.returncode:
        sys.exit(f"{' '.join(cmd[:3])} ... failed ({proc.returncode}): {err.decode(errors='replace')}")
    return ms, out.decode(), usage.ru_maxrss / 1024


def athenaq_rows(csv_text):
    import csv
    import io
    return normal_rows(list(csv.reader(io.StringIO(csv_text)))[1:])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--athenaq", required=True)
    parser.add_argument("--exports", help="a folder of exports")
    parser.add_argument("--s3", nargs=3, metavar=("ENDPOINT", "BUCKET", "PREFIX"))
    parser.add_argument("--python", default=sys.executable, help="the Python with the DuckDB to compare with")
    parser.add_argument("--extensions", help="DuckDB's extension directory (httpfs for --s3)")
    parser.add_argument("--cache-dir", required=True, help="athenaq's metadata cache for this run (emptied first)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", nargs="*", help="these queries only")
    args = parser.parse_args()

    env = dict(os.environ, ATHENAQ_CACHE_DIR=args.cache_dir)
    shutil.rmtree(args.cache_dir, ignore_errors=True)
    if args.s3:
        endpoint, bucket, prefix = args.s3
        env["AWS_ENDPOINT_URL"] = endpoint
        source = f"s3://{bucket}/{prefix}"
        duck_source = ["--s3", endpoint, bucket, prefix]
    else:
        source = args.exports
        duck_source = ["--exports", args.exports]
    if args.extensions:
        duck_source += ["--extensions", args.extensions]
    duck_env = dict(env, PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH", "")])))

    def athenaq(sql, *flags):
        ms, out, mb = run_measured([args.athenaq, *flags, "query", "--local", source, "--format", "csv", sql], env)
        return ms, athenaq_rows(out), mb

    def duckdb(name):
        _, out, mb = run_measured([args.python, str(HERE / "duckdb_run.py"), "--query", name, *duck_source], duck_env)
        result = json.loads(out)
        return result["ms"], result["rows"], mb, result["duckdb"]

    results = []
    version = None
    for name, (sql, mode) in QUERIES.items():
        if args.only and name not in args.only:
            continue
        athenaq(sql)  # the first run: files into the page cache, metadata into athenaq's cache
        duckdb(name)
        cached, fresh, theirs, ours_mb, theirs_mb, agree = [], [], [], [], [], True
        for _ in range(args.runs):
            ms, a, mb = athenaq(sql)
            cached.append(ms)
            ours_mb.append(mb)
            ms, _, mb = athenaq(sql, "--no-cache")
            fresh.append(ms)
            ours_mb.append(mb)
            ms, d, mb, version = duckdb(name)
            theirs.append(ms)
            theirs_mb.append(mb)
            agree = agree and same(a, d, mode)
        a_ms, f_ms, d_ms = statistics.median(cached), statistics.median(fresh), statistics.median(theirs)
        results.append({
            "name": name, "athenaq_ms": round(a_ms, 1), "athenaq_no_cache_ms": round(f_ms, 1),
            "duckdb_ms": round(d_ms, 1), "ratio": round(a_ms / d_ms, 2), "ratio_no_cache": round(f_ms / d_ms, 2),
            "same_rows": agree, "compared": mode, "rows": len(a),
            "athenaq_peak_mb": round(max(ours_mb), 1), "duckdb_peak_mb": round(max(theirs_mb), 1),
        })
        print(f"{name}: athenaq {a_ms:.0f} ms ({f_ms:.0f} without cache), duckdb {d_ms:.0f} ms", file=sys.stderr)
    geomean = statistics.geometric_mean([q["ratio"] for q in results])
    # What DuckDB's process holds before any query: the interpreter and the library.
    _, idle_mb = measure_idle(args.python, duck_env)
    print(json.dumps({
        "queries": results, "runs": args.runs, "geomean_ratio": round(geomean, 3),
        "geomean_ratio_no_cache": round(statistics.geometric_mean([q["ratio_no_cache"] for q in results]), 3),
        "duckdb": version, "duckdb_process_idle_mb": round(idle_mb, 1), "source": "s3" if args.s3 else "folder",
    }, indent=2))


def measure_idle(python, env):
    ms, _, mb = run_measured([python, "-c", "import duckdb; duckdb.connect().execute('SELECT 1').fetchall()"], env)
    return ms, mb


if __name__ == "__main__":
    main()
