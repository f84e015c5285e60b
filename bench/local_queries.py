"""Local queries: `athenaq query --local` against DuckDB on the same Parquet files (the
repository's generated export), alternating, several runs each. Both get identical SQL: DuckDB
is given views with the Glue names and the snapshot_date partition column athenaq provides.

athenaq is timed as a whole process (start, discovery, planning, query, output), which is what
an analyst waits for; DuckDB in-process, from a fresh connection with its views. Prints JSON.
"""

import argparse
import csv
import io
import json
import statistics
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import duckdb

QUERIES = {
    "scan_filter": """SELECT count(*) AS orders, sum(CAST(total AS DECIMAL(14,2))) AS revenue
        FROM pams_stack_prod.pams_public_orders
        WHERE snapshot_date = '2026-11-24' AND status = 'shipped' AND note IS NOT NULL""",
    "group_by": """SELECT snapshot_date, status, count(*) AS orders, sum(CAST(total AS DECIMAL(14,2))) AS revenue
        FROM pams_stack_prod.pams_public_orders GROUP BY snapshot_date, status ORDER BY snapshot_date, status""",
    "join": """SELECT c.country, count(*) AS items, sum(i.quantity) AS quantity
        FROM pams_stack_prod.pams_public_order_items i
        JOIN pams_stack_prod.pams_public_orders o ON o.id = i.order_id AND o.snapshot_date = i.snapshot_date
        JOIN pams_stack_prod.pams_public_customers c ON c.id = o.customer_id AND c.snapshot_date = o.snapshot_date
        WHERE o.snapshot_date = '2026-11-24' GROUP BY c.country ORDER BY c.country""",
    "distinct_count": """SELECT snapshot_date, count(DISTINCT customer_id) AS customers,
        count(DISTINCT placed_at) AS placed_times
        FROM pams_stack_prod.pams_public_orders GROUP BY snapshot_date ORDER BY snapshot_date""",
    "top_n": """SELECT id, customer_id, total FROM pams_stack_prod.pams_public_orders
        WHERE snapshot_date = '2026-11-24' ORDER BY CAST(total AS DECIMAL(14,2)) DESC, id LIMIT 10""",
    "snapshot_diff": """SELECT count(*) AS shipped_since
        FROM pams_stack_prod.pams_public_orders a JOIN pams_stack_prod.pams_public_orders b ON a.id = b.id
        WHERE a.snapshot_date = '2026-11-23' AND b.snapshot_date = '2026-11-24'
          AND a.status = 'pending' AND b.status = 'shipped'""",
}


def duckdb_connection(exports):
    """Views named as in Glue over each export's part files, with the snapshot date."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA pams_stack_prod")
    tables = {}
    for export in sorted(Path(exports).iterdir()):
        info = json.loads(next(export.glob("export_info_*.json")).read_text())
        date = info["snapshotTime"][:10]
        for table in sorted((export / "pams").iterdir()):
            name = "pams_" + table.name.replace(".", "_")
            files = [str(p) for p in sorted(table.rglob("*.parquet"))]
            tables.setdefault(name, []).append(
                f"SELECT *, '{date}' AS snapshot_date, '{export.name}' AS export_id "
                f"FROM read_parquet({files!r})")
    for name, parts in tables.items():
        con.execute(f"CREATE VIEW pams_stack_prod.{name} AS " + " UNION ALL BY NAME ".join(parts))
    return con


def normal(value):
    if value is None or value == "":
        return None
    try:
        return round(float(Decimal(str(value))), 4)
    except ArithmeticError:
        return str(value)
    except ValueError:
        return str(value)


def run_athenaq(athenaq, exports, sql):
    started = time.perf_counter()
    out = subprocess.run([athenaq, "query", "--local", exports, "--format", "csv", sql],
                         capture_output=True, text=True, check=True)
    elapsed = (time.perf_counter() - started) * 1000
    rows = list(csv.reader(io.StringIO(out.stdout)))[1:]
    return elapsed, [[normal(v) for v in row] for row in rows]


def run_duckdb(exports, sql):
    started = time.perf_counter()
    con = duckdb_connection(exports)
    rows = con.execute(sql).fetchall()
    elapsed = (time.perf_counter() - started) * 1000
    con.close()
    return elapsed, [[normal(v) for v in row] for row in rows]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--athenaq", required=True)
    parser.add_argument("--exports", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results = []
    for name, sql in QUERIES.items():
        ours, theirs, same = [], [], True
        for _ in range(args.runs):
            ms, a = run_athenaq(args.athenaq, args.exports, sql)
            ours.append(ms)
            ms, d = run_duckdb(args.exports, sql)
            theirs.append(ms)
            same = same and a == d
        athenaq_ms, duckdb_ms = statistics.median(ours), statistics.median(theirs)
        results.append({"name": name, "athenaq_ms": round(athenaq_ms, 1), "duckdb_ms": round(duckdb_ms, 1),
                        "ratio": round(athenaq_ms / duckdb_ms, 2), "same_rows": same, "rows": len(a)})
    con = duckdb_connection(args.exports)
    order_rows = con.execute("SELECT count(*) FROM pams_stack_prod.pams_public_orders").fetchone()[0]
    print(json.dumps({"queries": results, "runs": args.runs, "order_rows": order_rows, "duckdb": duckdb.__version__},
                     indent=2))


if __name__ == "__main__":
    main()
