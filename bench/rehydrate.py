"""athenaq rehydrate against PostgreSQL's own COPY FROM of the same rows as local CSV files.

Starts a PostgreSQL of its own (Debian's initdb and pg_ctl, a free port, as `postgres` when run
as root), rehydrates the sample export's latest snapshot into a fresh database with --jobs 1,
then has the server write each table to CSV (COPY TO) and times COPY FROM of those files into
a fresh database with the same tables, one after another: the same rows, the same server, the
same settings, the physical limit of a load on this machine. The two alternate, --runs times;
medians. Also records athenaq's peak RSS and its rate with --jobs 2. Prints JSON.
"""

import argparse
import glob
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PASSWORD = "bench"


def as_postgres(cmd):
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    def __init__(self, pg_bin, work):
        self.bin, self.work = Path(pg_bin), Path(work)
        self.data = self.work / "data"
        self.port = free_port()
        self.work.mkdir(parents=True, exist_ok=True)
        (self.work / "pw").write_text(PASSWORD)
        if os.geteuid() == 0:
            shutil.chown(self.work, "postgres")
            shutil.chown(self.work / "pw", "postgres")
        subprocess.run(as_postgres([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                                    "--auth=scram-sha-256", f"--pwfile={self.work / 'pw'}", "--encoding=UTF8",
                                    "--locale=C.UTF-8"]), check=True, stdout=subprocess.DEVNULL)
        # The same settings for both loads; no fsync, so the disk does not decide the figure.
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.work} "
                   "-c fsync=off -c max_wal_size=8GB -c wal_level=minimal -c max_wal_senders=0")
        subprocess.run(as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.work / "log"),
                                    "-o", options, "-w", "start"]), check=True, stdout=subprocess.DEVNULL)

    def url(self, db):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def psql(self, db, sql):
        out = subprocess.run([str(self.bin / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                              "-p", str(self.port), "-U", "postgres", "-d", db, "-c", sql],
                             env={**os.environ, "PGPASSWORD": PASSWORD}, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"psql {sql[:80]}: {out.stderr}")
        return out.stdout.strip()

    def fresh(self, db):
        self.psql("postgres", f"DROP DATABASE IF EXISTS {db}")
        self.psql("postgres", f"CREATE DATABASE {db}")

    def stop(self):
        subprocess.run(as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def rehydrate(athenaq, export_id, exports, url, jobs):
    """Runs athenaq rehydrate; its rows, seconds and peak RSS (MB)."""
    started = time.perf_counter()
    proc = subprocess.Popen([athenaq, "--format", "json", "rehydrate", export_id, "--local", exports, "--into", url,
                             "--jobs", str(jobs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PGPASSWORD": PASSWORD})
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - started
    # communicate() reaped the child; its rusage is in the children's totals, the max of which
    # is this child's, since it is the largest process this script starts.
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if proc.returncode != 0:
        sys.exit(f"athenaq rehydrate failed ({proc.returncode}): {stderr.decode()}")
    rows = [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]
    if any(r["status"] != "loaded" for r in rows):
        sys.exit(f"a table did not load: {rows}")
    return sum(int(r["rows_loaded"]) for r in rows), seconds, peak_mb


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--athenaq", required=True)
    p.add_argument("--exports", required=True, help="the sample export (gen-export --orders 2000000)")
    p.add_argument("--pg-bin", default=None)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    pg_bin = args.pg_bin or sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))[-1]
    infos = sorted(Path(args.exports).glob("*/export_info_*.json"))
    export_id = infos[-1].parent.name  # the later snapshot: ids sort by date

    work = Path(tempfile.mkdtemp(prefix="rehydrate-bench-"))
    os.chmod(work, 0o755)
    pg = Postgres(pg_bin, work / "pg")
    try:
        rows, _, _ = rehydrate(args.athenaq, export_id, args.exports, pg.url("postgres"), 1)  # warm the page cache
        tables = pg.psql("postgres", "SELECT string_agg(quote_ident(schemaname) || '.' || quote_ident(tablename), ' ') "
                                     "FROM pg_tables WHERE schemaname = 'public'").split()
        csv_dir = work / "csv"
        csv_dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(csv_dir, "postgres")
        for t in tables:
            pg.psql("postgres", f"COPY {t} TO '{csv_dir / t}.csv' WITH (FORMAT csv)")
        ours, copies, peaks, parallel = [], [], [], []
        for _ in range(args.runs):
            pg.fresh("rehydrated")
            n, seconds, peak = rehydrate(args.athenaq, export_id, args.exports, pg.url("rehydrated"), 1)
            assert n == rows
            ours.append(seconds)
            peaks.append(peak)
            # The same tables (LIKE the rehydrated ones) in a schema of their own, emptied each run.
            like = "; ".join(f"CREATE TABLE copied.{t.split('.', 1)[1]} (LIKE {t})" for t in tables)
            pg.psql("postgres", f"DROP SCHEMA IF EXISTS copied CASCADE; CREATE SCHEMA copied; {like}")
            copy = "; ".join(f"COPY copied.{t.split('.', 1)[1]} FROM '{csv_dir / t}.csv' WITH (FORMAT csv)" for t in tables)
            started = time.perf_counter()
            pg.psql("postgres", copy)
            copies.append(time.perf_counter() - started)
            pg.fresh("rehydrated")
            _, seconds, _ = rehydrate(args.athenaq, export_id, args.exports, pg.url("rehydrated"), 2)
            parallel.append(seconds)
        ours_s, copy_s, parallel_s = (statistics.median(x) for x in (ours, copies, parallel))
        result = {
            "rows": rows,
            "tables": len(tables),
            "rows_per_s": round(rows / ours_s),
            "copy_rows_per_s": round(rows / copy_s),
            "ratio": round(copy_s / ours_s, 3),
            "peak_mb": round(max(peaks), 1),
            "jobs_2_rows_per_s": round(rows / parallel_s),
            "seconds": round(ours_s, 2),
            "copy_seconds": round(copy_s, 2),
            "runs": args.runs,
            "what": "athenaq rehydrate --jobs 1 of the 2-million-order sample's latest snapshot (all tables) against "
                    "COPY FROM of the same rows as server-side CSV files, one table after another, into the same "
                    "PostgreSQL (fsync off, wal_level minimal); medians",
            "server": pg.psql("postgres", "SHOW server_version"),
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
            "date": time.strftime("%Y-%m-%d"),
            "cpus": os.cpu_count(),
        }
        print(json.dumps(result, indent=2))
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
