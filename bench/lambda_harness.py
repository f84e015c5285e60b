"""Exporter start-up and cost: a local stand-in for the Lambda Runtime API serves events to the
real `bootstrap` (the packaged release zip, unzipped) and to the Python baseline, alternating,
with AWS calls going to the same moto. Prints one JSON object.

Per cold start: init (process start -> first GET /next), first event (process start -> first
response posted), then warm events (event handed out -> response posted), peak RSS (VmHWM).
"""

import argparse
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
KEY = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
API_PREFIX = "/2018-06-01/runtime/invocation/"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RuntimeApi(BaseHTTPRequestHandler):
    """GET next hands out the next event (blocking until there is one); POST response/error
    records when the function answered."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        run = self.server.run
        if not self.path.endswith("/next"):
            self.send_error(404)
            return
        run.polled.set()
        run.first_next = run.first_next or time.perf_counter()
        event = run.events.get()
        if event is None:
            # Keeps the connection open until the harness stops the process.
            time.sleep(3600)
            return
        request_id, body = event
        payload = json.dumps(body).encode()
        self.send_response(200)
        for header, value in [
            ("Lambda-Runtime-Aws-Request-Id", request_id),
            ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000)),
            ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench"),
            ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
        ]:
            self.send_header(header, value)
        self.end_headers()
        self.wfile.write(payload)
        run.handed_out[request_id] = time.perf_counter()

    def do_POST(self):
        run = self.server.run
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        parts = self.path[len(API_PREFIX):].split("/") if self.path.startswith(API_PREFIX) else []
        self.send_response(202)
        self.end_headers()
        if len(parts) == 2:
            request_id, kind = parts
            run.answers[request_id] = (time.perf_counter(), kind, body.decode(errors="replace"))
            run.answered.release()


class Run:
    def __init__(self):
        self.events = queue.Queue()
        self.polled = threading.Event()
        self.first_next = None
        self.handed_out = {}
        self.answers = {}
        self.answered = threading.Semaphore(0)


def sqs_event(message, queue):
    body = json.dumps({"Type": "Notification", "MessageId": "n1", "Message": json.dumps(message)})
    return {"Records": [{
        "messageId": "m1", "receiptHandle": "rh1", "body": body, "attributes": {"ApproximateReceiveCount": "1"},
        "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue}",
    }]}


def sns_event(message, _queue):
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"Type": "Notification", "Message": json.dumps(message)}}]}


def rds_message(snapshot):
    return {
        "Event Source": "db-snapshot", "Event Time": "2026-11-24 03:14:12.412",
        "Source ID": snapshot["DBSnapshotIdentifier"], "Source ARN": snapshot["DBSnapshotArn"],
        "Event ID": "http://docs.amazonwebservices.com/AmazonRDS/latest/UserGuide/USER_Events.html#RDS-EVENT-0042",
        "Event Message": "Manual snapshot created",
    }


def peak_rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cold_start(server, command, env, events, label):
    run = Run()
    server.run = run
    for i, event in enumerate(events):
        run.events.put((f"{label}-{i}", event))
    run.events.put(None)
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in events:
            if not run.answered.acquire(timeout=60):
                raise RuntimeError(f"{label}: no answer in 60 s: {process.stderr.read1().decode(errors='replace')}")
        rss = peak_rss_mb(process.pid)
    finally:
        process.kill()
        process.wait()
    ids = [f"{label}-{i}" for i in range(len(events))]
    errors = [run.answers[i][2] for i in ids if run.answers[i][1] != "response"]
    if errors:
        raise RuntimeError(f"{label}: the function reported errors: {errors[:2]}")
    warm = [(run.answers[i][0] - run.handed_out[i]) * 1000 for i in ids[1:]]
    return {
        "init_ms": (run.first_next - started) * 1000,
        "first_event_ms": (run.answers[ids[0]][0] - started) * 1000,
        "warm_record_ms": statistics.median(warm) if warm else None,
        "rss_mb": rss,
        "answers": [run.answers[i][2] for i in ids[:1]],
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--zip", default=str(ROOT / "target/lambda/exporter/bootstrap.zip"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--names", required=True, help="names.json of prod, from `infra --env prod synth`")
    args = parser.parse_args()
    names = json.loads(Path(args.names).read_text())
    database = names["databases"][0]
    DB, BUCKET = database["db_name"], database["s3_bucket"]
    ROLE = f"arn:aws:iam::{ACCOUNT}:role{names['export_role_path']}export"

    work = Path(tempfile.mkdtemp())
    with zipfile.ZipFile(args.zip) as z:
        z.extractall(work)
    bootstrap = work / "bootstrap"
    bootstrap.chmod(0o755)

    moto_port = free_port()
    moto = subprocess.Popen([sys.executable, str(ROOT / "testkit/moto_server.py"), "-H", "127.0.0.1", "-p", str(moto_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = ThreadingHTTPServer(("127.0.0.1", free_port()), RuntimeApi)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    try:
        aws_env = {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}", "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        os.environ.update(aws_env)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", moto_port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        rds, ssm = boto3.client("rds"), boto3.client("ssm")
        rds.create_db_instance(DBInstanceIdentifier=DB, Engine="postgres", DBInstanceClass="db.t3.micro",
                               AllocatedStorage=20, MasterUsername="admin_user", MasterUserPassword="password123")
        target = {"s3_bucket_name": BUCKET, "s3_prefix": "", "iam_role_arn": ROLE, "kms_key_arn": KEY}
        ssm.put_parameter(Name=database["target_parameter"], Value=json.dumps(target), Type="String")

        # Lambda's Amazon Linux trusts one CA bundle file; Debian also keeps ~150 hashed copies
        # in /etc/ssl/certs, which rustls-native-certs would read one by one (~8 ms at start).
        bundle = next((p for p in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
                       if os.path.exists(p)), None)
        lambda_env = {
            **({"SSL_CERT_FILE": bundle} if bundle else {}),
            "PATH": os.environ["PATH"], "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.server_address[1]}",
            "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
            "AWS_LAMBDA_LOG_STREAM_NAME": "bench", **aws_env,
        }
        runtimes = {
            "exporter": ([str(bootstrap)], {**lambda_env, "ENVIRONMENT": "prod"}, sqs_event),
            "python_baseline": ([sys.executable, str(ROOT / "bench/baseline/runtime.py")],
                                {**lambda_env, "EXPORT_BUCKET": BUCKET, "EXPORT_ROLE_ARN": ROLE,
                                 "EXPORT_KMS_KEY_ARN": KEY}, sns_event),
        }
        results = {name: [] for name in runtimes}
        for run in range(args.runs):
            for name, (command, env, wrap) in runtimes.items():
                events = []
                for i in range(1 + args.warm):
                    snapshot = rds.create_db_snapshot(DBInstanceIdentifier=DB,
                                                      DBSnapshotIdentifier=f"{name.replace('_', '-')}-{run}-{i}")["DBSnapshot"]
                    events.append(wrap(rds_message(snapshot), names["events_queue"]))
                results[name].append(cold_start(api, command, env, events, f"{name}-{run}"))
        exported = len(rds.describe_export_tasks()["ExportTasks"])
        expected = 2 * args.runs * (1 + args.warm)
        if exported != expected:
            raise RuntimeError(f"expected {expected} export tasks, moto has {exported}")
        summary = {}
        for name, runs in results.items():
            summary[name] = {key: statistics.median(r[key] for r in runs)
                             for key in ("init_ms", "first_event_ms", "warm_record_ms", "rss_mb")}
            summary[name]["runs"] = len(runs)
            summary[name]["first_answer"] = runs[0]["answers"][0][:300]
        summary["exporter"]["zip_mb"] = os.path.getsize(args.zip) / 1e6
        summary["exporter"]["unzipped_mb"] = bootstrap.stat().st_size / 1e6
        summary["python"] = sys.version.split()[0]
        print(json.dumps(summary, indent=2))
    finally:
        api.shutdown()
        moto.kill()


if __name__ == "__main__":
    main()
