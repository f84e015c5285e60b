"""The benchmark's queries, and how DuckDB is given the same tables athenaq discovers: views
named as in Glue over each export's part files, with the snapshot_date and export_id partition
columns, for a folder of exports or for exports read in place on S3."""

import json
from decimal import Decimal
from pathlib import Path

ORDERS = "pams_stack_prod.pams_public_orders"
ITEMS = "pams_stack_prod.pams_public_order_items"
CUSTOMERS = "pams_stack_prod.pams_public_customers"

# name -> (SQL, how rows are compared: "rows" exactly, "count" only their number for a LIMIT
# without ORDER BY, which any engine may answer with different rows)
QUERIES = {
    "scan_filter": (f"""SELECT count(*) AS orders, sum(CAST(total AS DECIMAL(14,2))) AS revenue
        FROM {ORDERS} WHERE snapshot_date = '2026-11-24' AND status = 'shipped' AND note IS NOT NULL""", "rows"),
    "group_by": (f"""SELECT snapshot_date, status, count(*) AS orders, sum(CAST(total AS DECIMAL(14,2))) AS revenue
        FROM {ORDERS} GROUP BY snapshot_date, status ORDER BY snapshot_date, status""", "rows"),
    "join": (f"""SELECT c.country, count(*) AS items, sum(i.quantity) AS quantity
        FROM {ITEMS} i
        JOIN {ORDERS} o ON o.id = i.order_id AND o.snapshot_date = i.snapshot_date
        JOIN {CUSTOMERS} c ON c.id = o.customer_id AND c.snapshot_date = o.snapshot_date
        WHERE o.snapshot_date = '2026-11-24' GROUP BY c.country ORDER BY c.country""", "rows"),
    "distinct_count": (f"""SELECT snapshot_date, count(DISTINCT customer_id) AS customers,
        count(DISTINCT placed_at) AS placed_times
        FROM {ORDERS} GROUP BY snapshot_date ORDER BY snapshot_date""", "rows"),
    "top_n": (f"""SELECT id, customer_id, total FROM {ORDERS}
        WHERE snapshot_date = '2026-11-24' ORDER BY CAST(total AS DECIMAL(14,2)) DESC, id LIMIT 10""", "rows"),
    "snapshot_diff": (f"""SELECT count(*) AS shipped_since
        FROM {ORDERS} a JOIN {ORDERS} b ON a.id = b.id
        WHERE a.snapshot_date = '2026-11-23' AND b.snapshot_date = '2026-11-24'
          AND a.status = 'pending' AND b.status = 'shipped'""", "rows"),
    # Every line of the largest table matched with itself in the other snapshot.
    "items_across_snapshots": (f"""SELECT count(*) AS lines, sum(CASE WHEN a.quantity <> b.quantity THEN 1 ELSE 0 END) AS changed
        FROM {ITEMS} a JOIN {ITEMS} b ON a.order_id = b.order_id AND a.line = b.line
        WHERE a.snapshot_date = '2026-11-23' AND b.snapshot_date = '2026-11-24'""", "rows"),
    # Every column of the orders table read.
    "wide_scan": (f"""SELECT snapshot_date, count(*) AS orders, count(customer_id) AS with_customer,
        count(DISTINCT status) AS statuses, max(CAST(total AS DECIMAL(14,2))) AS largest, min(placed_at) AS first,
        max(placed_at) AS last, count(note) AS notes, max(length(note)) AS longest_note, count(channel) AS channels
        FROM {ORDERS} GROUP BY snapshot_date ORDER BY snapshot_date""", "rows"),
    "string_group_by": (f"""SELECT sku, count(*) AS lines, sum(quantity) AS quantity,
        max(unit_price) AS highest_price
        FROM {ITEMS} GROUP BY sku ORDER BY lines DESC, sku LIMIT 20""", "rows"),
    "limit_largest": (f"""SELECT order_id, line, sku, quantity FROM {ITEMS}
        WHERE snapshot_date = '2026-11-24' LIMIT 100""", "count"),
}


def normal(value):
    """One spelling per value across engines: NULL and empty alike, numbers to 4 places."""
    if value is None or value == "":
        return None
    try:
        return round(float(Decimal(str(value))), 4)
    except (ArithmeticError, ValueError):
        return str(value)


def normal_rows(rows):
    return [[normal(v) for v in row] for row in rows]


def same(a, b, mode):
    return len(a) == len(b) if mode == "count" else a == b


def create_views(con, exports):
    """`exports`: export id -> (snapshot date, {glue table: [part file URLs]})."""
    con.execute("CREATE SCHEMA IF NOT EXISTS pams_stack_prod")
    tables = {}
    for export_id, (date, parts) in sorted(exports.items()):
        for name, files in sorted(parts.items()):
            tables.setdefault(name, []).append(
                f"SELECT *, '{date}' AS snapshot_date, '{export_id}' AS export_id FROM read_parquet({sorted(files)!r})")
    for name, selects in tables.items():
        con.execute(f"CREATE VIEW pams_stack_prod.{name} AS " + " UNION ALL BY NAME ".join(selects))


def glue_name(table_folder):
    """`public.orders` -> `pams_public_orders`."""
    return "pams_" + table_folder.replace(".", "_")


def folder_exports(folder):
    """The exports of a local folder, found as athenaq finds them: info files read, part files listed."""
    exports = {}
    for export in sorted(Path(folder).iterdir()):
        if not export.is_dir():
            continue
        info = json.loads(next(export.glob("export_info_*.json")).read_text())
        parts = {}
        for table in sorted((export / "pams").iterdir()):
            parts[glue_name(table.name)] = [str(p) for p in sorted(table.rglob("*.parquet"))]
        exports[info["exportTaskIdentifier"]] = (info["snapshotTime"][:10], parts)
    return exports


def s3_exports(con, bucket, prefix):
    """The exports under s3://bucket/prefix, found with DuckDB's own S3 client: the info files
    read and the part files listed, as athenaq's discovery does."""
    base = f"s3://{bucket}/{prefix}".rstrip("/")
    infos = con.execute(
        f"SELECT exportTaskIdentifier, snapshotTime FROM read_json('{base}/*/export_info_*.json')").fetchall()
    # Batch folders (`<table>/<batch>/part-*`) and the older flat layout (`<table>/part-*`) alike.
    files = [row[0] for row in con.execute(f"SELECT file FROM glob('{base}/*/pams/**/*.parquet')").fetchall()]
    exports = {}
    for export_id, snapshot_time in infos:
        parts = {}
        for file in files:
            rest = file[len(base) + 1:]
            owner, _, table, *_ = rest.split("/")
            if owner == export_id:
                parts.setdefault(glue_name(table), []).append(file)
        exports[export_id] = (str(snapshot_time)[:10], parts)
    return exports
