"""One benchmark query in DuckDB, in this fresh process: connect, discover the exports (a folder,
or S3 in place through httpfs), create the views, run the query. Prints the time from connect to
the last row (the interpreter's own start is not counted) and the rows, as JSON; the caller
reads this process's peak RSS."""

import argparse
import json
import os
import time

import duckdb

from queries import QUERIES, create_views, folder_exports, normal_rows, s3_exports


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--query", required=True, choices=sorted(QUERIES))
    parser.add_argument("--exports", help="a folder of exports")
    parser.add_argument("--s3", nargs=3, metavar=("ENDPOINT", "BUCKET", "PREFIX"), help="exports in place")
    parser.add_argument("--extensions", help="DuckDB's extension directory (httpfs for --s3)")
    args = parser.parse_args()
    sql, _ = QUERIES[args.query]
    started = time.perf_counter()
    con = duckdb.connect(config={"extension_directory": args.extensions} if args.extensions else {})
    if args.s3:
        endpoint, bucket, prefix = args.s3
        con.execute("LOAD httpfs")
        con.execute(f"""CREATE SECRET local_s3 (TYPE s3, KEY_ID '{os.environ["AWS_ACCESS_KEY_ID"]}',
            SECRET '{os.environ["AWS_SECRET_ACCESS_KEY"]}', REGION '{os.environ.get("AWS_REGION", "us-east-1")}',
            ENDPOINT '{endpoint.split("://", 1)[-1]}', URL_STYLE 'path', USE_SSL false)""")
        exports = s3_exports(con, bucket, prefix)
    else:
        exports = folder_exports(args.exports)
    create_views(con, exports)
    rows = con.execute(sql).fetchall()
    ms = (time.perf_counter() - started) * 1000
    print(json.dumps({"ms": ms, "rows": normal_rows(rows), "duckdb": duckdb.__version__}))


if __name__ == "__main__":
    main()
