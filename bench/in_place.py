"""In place on S3: starts a local S3 server (s3rver, Node.js, files on disk; see README for why
not moto), uploads the generated export once, measures the server's own ceiling (ranged GETs of
a part file, and one listing), then runs the side-by-side queries of local_queries.py against
`s3://bench/exports`: athenaq --local s3:// against DuckDB with httpfs on the same endpoint.
Prints JSON."""

import argparse
import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config

HERE = Path(__file__).resolve().parent
BUCKET, PREFIX = "bench", "exports"
# s3rver checks signatures against its own key pair.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER", "AWS_REGION": "us-east-1"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    sys.exit(f"the S3 server did not listen on {port} within {seconds} s")


def upload(s3, exports):
    files = [p for p in sorted(Path(exports).rglob("*")) if p.is_file()]
    s3.create_bucket(Bucket=BUCKET)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda p: s3.upload_file(str(p), BUCKET, f"{PREFIX}/{p.relative_to(exports)}"), files))
    return len(files), sum(p.stat().st_size for p in files)


def ceiling(s3):
    """What the server itself delivers: the largest part file read whole in 8 MiB ranges, and
    small ranged GETs (a footer's worth) per second."""
    objects = [o for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=PREFIX)
               for o in page.get("Contents", [])]
    largest = max(objects, key=lambda o: o["Size"])
    started = time.perf_counter()
    step = 8 << 20
    for start in range(0, largest["Size"], step):
        s3.get_object(Bucket=BUCKET, Key=largest["Key"], Range=f"bytes={start}-{start + step - 1}")["Body"].read()
    mb_per_s = largest["Size"] / (1 << 20) / (time.perf_counter() - started)
    started = time.perf_counter()
    n = 200
    for _ in range(n):
        s3.get_object(Bucket=BUCKET, Key=largest["Key"], Range="bytes=-65536")["Body"].read()
    small_per_s = n / (time.perf_counter() - started)
    started = time.perf_counter()
    s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)
    list_ms = (time.perf_counter() - started) * 1000
    return {"read_mb_per_s": round(mb_per_s, 1), "small_gets_per_s": round(small_per_s, 1),
            "list_ms": round(list_ms, 1), "objects": len(objects), "largest_mb": round(largest["Size"] / (1 << 20), 1)}


def client(endpoint, key, secret):
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                        region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))


def moto_ceiling(moto_server, exports):
    """The same ceiling measured on moto, to show why it is not the endpoint here."""
    port = free_port()
    server = subprocess.Popen([moto_server, "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port)
        s3 = client(f"http://127.0.0.1:{port}", "testing", "testing")
        upload(s3, exports)
        return ceiling(s3)
    finally:
        server.terminate()
        server.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--athenaq", required=True)
    parser.add_argument("--exports", required=True)
    parser.add_argument("--s3rver", required=True, help="the s3rver executable")
    parser.add_argument("--duckdb-python", required=True, help="a Python whose DuckDB matches the httpfs extension")
    parser.add_argument("--extensions", required=True, help="the directory holding httpfs")
    parser.add_argument("--cache-dir", required=True)
    parser.add_argument("--moto-server", help="also measure moto's ceiling on the same objects")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="s3rver-", dir=Path(args.cache_dir).parent) as data:
        server = subprocess.Popen([args.s3rver, "--silent", "--address", "127.0.0.1", "--port", str(port),
                                   "--directory", data], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(port)
            s3 = client(endpoint, "S3RVER", "S3RVER")
            files, size = upload(s3, args.exports)
            limits = ceiling(s3)
            env = dict(os.environ, **CREDENTIALS)
            out = subprocess.run(
                [sys.executable, str(HERE / "local_queries.py"), "--athenaq", args.athenaq,
                 "--s3", endpoint, BUCKET, PREFIX, "--python", args.duckdb_python, "--extensions", args.extensions,
                 "--cache-dir", args.cache_dir, "--runs", str(args.runs)],
                env=env, check=True, capture_output=True, text=True)
            sys.stderr.write(out.stderr)
            result = json.loads(out.stdout)
        finally:
            server.terminate()
            server.wait()
    result["endpoint"] = {"server": "s3rver 3.7.1 (Node.js) on loopback", "files": files, "bytes": size, **limits}
    if args.moto_server:
        result["moto_ceiling"] = moto_ceiling(args.moto_server, args.exports)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
