"""The emulator's side of scripts/demo: what AWS itself would do around the pipeline.

- `wire`: what moto's CloudFormation skips, created from the synthesized templates
  (testkit/moto_wiring.py).
- `snapshot`: what RDS does: databases, snapshots, and the RDS events published to the topic.
- `complete`: RDS's export-completed events (0161 / 0164) for the export tasks it finished.
- `lose-event`: a snapshot taken while its event is lost (nothing is published).
- `backlog`: more snapshots at once than there are export slots, with their events.
- `upload-sample` / `fetch`: the emulator writes no Parquet, so the repository's sample export is
  uploaded in place of an export's files, and a completed export is copied back for local queries.
- `manifests`: the evidence the cataloguer left in a bucket: each manifest, its seal, and how many
  of its export's objects carry one.
- `tamper`: what anyone with s3:PutObject on the bucket can do under a lock: put a new version
  over one of an export's part files.
"""

import argparse
import hashlib
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "testkit"))
from moto_wiring import stack_resources, wire  # noqa: E402
EVENTS_DOC = "http://docs.amazonwebservices.com/AmazonRDS/latest/UserGuide/USER_Events.html#"
# What RDS says in each event this demo sends.
MESSAGES = {
    "RDS-EVENT-0091": "Automated snapshot created",
    "RDS-EVENT-0042": "Manual snapshot created",
    "RDS-EVENT-0169": "Automated cluster snapshot created",
    "RDS-EVENT-0075": "Manual cluster snapshot created",
    "RDS-EVENT-0161": "Snapshot export task completed",
    "RDS-EVENT-0164": "DB cluster snapshot export task completed",
}


def say(text):
    print(f"    {text}", file=sys.stderr)


def load_names(path):
    """The environment's names, as `infra synth` wrote them (names.json)."""
    return json.loads(Path(path).read_text())


def events_topic(names):
    return stack_resources(boto3.client("cloudformation"), names["core_stack"])["EventsTopic"]


def publish(topic, source_type, event_id, source_id, source_arn):
    message = {
        "Event Source": source_type,
        "Event Time": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
        "Identifier Link": f"https://console.aws.amazon.com/rds/home#{source_type}:id={source_id}",
        "Source ID": source_id,
        "Source ARN": source_arn,
        "Event ID": EVENTS_DOC + event_id,
        "Event Message": MESSAGES[event_id],
    }
    boto3.client("sns").publish(TopicArn=topic, Message=json.dumps(message))
    say(f"{event_id} {source_id}")


def snapshot(args):
    """The config's databases: the first an RDS instance and the last an Aurora cluster, each with
    an automated and a manual snapshot, the others MySQL instances with their automated snapshot;
    and a database the config does not name."""
    rds = boto3.client("rds")
    databases = [d["db_name"] for d in args.names["databases"]]
    instance, others, cluster = databases[0], databases[1:-1], databases[-1]
    topic = events_topic(args.names)
    login = {"MasterUsername": "admin_user", "MasterUserPassword": "password123"}

    rds.create_db_instance(DBInstanceIdentifier=instance, Engine="postgres", DBInstanceClass="db.t3.micro",
                           AllocatedStorage=20, **login)
    manual = rds.create_db_snapshot(DBInstanceIdentifier=instance, DBSnapshotIdentifier=f"{instance}-before-migration")
    say(f"RDS instance {instance} (postgres) with an automated and a manual snapshot")
    rds.create_db_cluster(DBClusterIdentifier=cluster, Engine="aurora-postgresql", **login)
    cluster_manual = rds.create_db_cluster_snapshot(DBClusterIdentifier=cluster,
                                                    DBClusterSnapshotIdentifier=f"{cluster}-before-upgrade")
    say(f"Aurora cluster {cluster} (aurora-postgresql) with an automated and a manual cluster snapshot")
    for other in others:
        rds.create_db_instance(DBInstanceIdentifier=other, Engine="mysql", DBInstanceClass="db.t3.micro",
                               AllocatedStorage=20, **login)
        say(f"RDS instance {other} (mysql) with an automated snapshot")
    rds.create_db_instance(DBInstanceIdentifier="scratch-db", Engine="mysql", DBInstanceClass="db.t3.micro",
                           AllocatedStorage=20, **login)
    scratch = rds.create_db_snapshot(DBInstanceIdentifier="scratch-db", DBSnapshotIdentifier="scratch-db-manual")
    say("RDS instance scratch-db, which the config does not name, with a manual snapshot")

    print(f"\n\033[1m==> RDS publishes its snapshot events to the topic {topic.rsplit(':', 1)[-1]}\033[0m",
          file=sys.stderr)
    auto = rds.describe_db_snapshots(DBInstanceIdentifier=instance, SnapshotType="automated")["DBSnapshots"][0]
    auto_cluster = rds.describe_db_cluster_snapshots(DBClusterIdentifier=cluster,
                                                     SnapshotType="automated")["DBClusterSnapshots"][0]
    others_auto = [rds.describe_db_snapshots(DBInstanceIdentifier=o, SnapshotType="automated")["DBSnapshots"][0]
                   for o in others]
    for event_id, s in [("RDS-EVENT-0091", auto), ("RDS-EVENT-0042", manual["DBSnapshot"]),
                        *[("RDS-EVENT-0091", o) for o in others_auto], ("RDS-EVENT-0042", scratch["DBSnapshot"])]:
        publish(topic, "db-snapshot", event_id, s["DBSnapshotIdentifier"], s["DBSnapshotArn"])
    for event_id, s in [("RDS-EVENT-0169", auto_cluster), ("RDS-EVENT-0075", cluster_manual["DBClusterSnapshot"])]:
        publish(topic, "db-cluster-snapshot", event_id, s["DBClusterSnapshotIdentifier"], s["DBClusterSnapshotArn"])


def republish(args):
    """The same snapshot events again, as SNS or a replay may deliver them."""
    rds, topic = boto3.client("rds"), events_topic(args.names)
    for s in rds.describe_db_snapshots()["DBSnapshots"]:
        event_id = "RDS-EVENT-0091" if s["SnapshotType"] == "automated" else "RDS-EVENT-0042"
        publish(topic, "db-snapshot", event_id, s["DBSnapshotIdentifier"], s["DBSnapshotArn"])
    for s in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]:
        event_id = "RDS-EVENT-0169" if s["SnapshotType"] == "automated" else "RDS-EVENT-0075"
        publish(topic, "db-cluster-snapshot", event_id, s["DBClusterSnapshotIdentifier"], s["DBClusterSnapshotArn"])


def export_tasks():
    return boto3.client("rds").describe_export_tasks()["ExportTasks"]


def tasks(args):
    found = sorted(export_tasks(), key=lambda t: t["ExportTaskIdentifier"])
    for t in found:
        print(f'    {t["ExportTaskIdentifier"]:<58} {t["Status"]:<9} s3://{t["S3Bucket"]}/{t.get("S3Prefix", "")}',
              file=sys.stderr)
    print(len(found))


def sample_snapshots(sample_dir):
    """The sample export's snapshots, oldest first: (export_info, folder)."""
    found = [(json.loads(p.read_text()), p.parent) for p in Path(sample_dir).glob("*/export_info_*.json")]
    return sorted(found, key=lambda pair: pair[0]["snapshotTime"])


def upload_sample(args):
    """The sample's snapshots, oldest first, go in place of the database's exports, manual before
    automated. Ids, ARNs, bucket, role and key are the real task's; data and dates the sample's."""
    rds, s3 = boto3.client("rds"), boto3.client("s3")
    kinds = {s["DBSnapshotArn"]: s["SnapshotType"]
             for s in rds.describe_db_snapshots(DBInstanceIdentifier=args.db)["DBSnapshots"]}
    mine = sorted((t for t in export_tasks() if t["SourceArn"] in kinds),
                  key=lambda t: (kinds[t["SourceArn"]] == "automated", t["ExportTaskIdentifier"]))
    for task, (info, folder) in zip(mine, sample_snapshots(args.sample)):
        old, new = info["exportTaskIdentifier"], task["ExportTaskIdentifier"]
        info.update(exportTaskIdentifier=new, sourceArn=task["SourceArn"], s3Bucket=task["S3Bucket"],
                    iamRoleArn=task["IamRoleArn"], kmsKeyId=task["KmsKeyId"])
        prefix = "/".join(p for p in (task.get("S3Prefix", "").strip("/"), new) if p)
        files = [path for path in sorted(folder.rglob("*")) if path.is_file()]
        for path in files:
            relative = path.relative_to(folder).as_posix().replace(old, new)
            body = json.dumps(info, indent=2).encode() if path.name.startswith("export_info_") else path.read_bytes()
            s3.put_object(Bucket=task["S3Bucket"], Key=f"{prefix}/{relative}", Body=body,
                          ServerSideEncryption="aws:kms", SSEKMSKeyId=task["KmsKeyId"])
        say(f"s3://{task['S3Bucket']}/{prefix}/: {len(files)} files of the sample's "
            f"{info['snapshotTime'][:10]} snapshot ({kinds[task['SourceArn']]} snapshot's export)")


def finished_tasks():
    """The export tasks once none is running: the emulator holds each in progress for
    MOTO_RDS_EXPORT_SECONDS (testkit/moto_server.py), as RDS takes its time."""
    for _ in range(600):
        found = export_tasks()
        if not any(t["Status"].lower() in ("starting", "in_progress") for t in found):
            return found
        time.sleep(0.1)
    raise SystemExit("exports still running after a minute")


def complete(args):
    """RDS announces each finished export on the topic, naming the snapshot. Only exports whose
    files are in place are announced, or with --snapshots, those of the snapshots whose id holds it."""
    topic, s3 = events_topic(args.names), boto3.client("s3")
    for t in finished_tasks():
        source_id = t["SourceArn"].split(":", 6)[6]
        if args.snapshots:
            if args.snapshots not in source_id:
                continue
        else:
            prefix = "/".join(p for p in (t.get("S3Prefix", "").strip("/"), t["ExportTaskIdentifier"]) if p)
            written = s3.list_objects_v2(Bucket=t["S3Bucket"], Prefix=f"{prefix}/export_info_").get("KeyCount", 0)
            if not written:
                say(f"{t['ExportTaskIdentifier']}: no data in the emulator, so no completion event")
                continue
        kind, source_id = t["SourceArn"].split(":", 6)[5:]
        cluster = kind == "cluster-snapshot"
        publish(topic, "db-cluster-snapshot" if cluster else "db-snapshot",
                "RDS-EVENT-0164" if cluster else "RDS-EVENT-0161", source_id, t["SourceArn"])


def lose_event(args):
    """A manual snapshot of the config's first database whose event never reaches the topic."""
    instance = args.names["databases"][0]["db_name"]
    s = boto3.client("rds").create_db_snapshot(DBInstanceIdentifier=instance,
                                               DBSnapshotIdentifier=f"{instance}-event-lost")["DBSnapshot"]
    say(f"{s['DBSnapshotIdentifier']}: taken, and its RDS-EVENT-0042 lost (nothing published)")


def backlog(args):
    """`count` manual snapshots of the config's first database at once, each with its event."""
    rds, topic = boto3.client("rds"), events_topic(args.names)
    instance = args.names["databases"][0]["db_name"]
    for i in range(args.count):
        s = rds.create_db_snapshot(DBInstanceIdentifier=instance,
                                   DBSnapshotIdentifier=f"{instance}-backlog-{i + 1}")["DBSnapshot"]
        publish(topic, "db-snapshot", "RDS-EVENT-0042", s["DBSnapshotIdentifier"], s["DBSnapshotArn"])


def fetch(args):
    """Copies every export in the bucket that has an export_info file, as `aws s3 sync` would."""
    s3 = boto3.client("s3")
    keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=args.bucket) for o in p.get("Contents", [])]
    for key in keys:
        target = Path(args.out) / key
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(args.bucket, key, str(target))
    say(f"s3://{args.bucket}/ -> {args.out} ({len(keys)} files)")


def manifests(args):
    """Each manifest under `_evidence/`, with its retention, and the retention of its export's objects."""
    s3 = boto3.client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=args.bucket)
    keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
    found = [k for k in keys if "/_evidence/" in f"/{k}" and "/_state/" not in k and k.endswith(".json")]
    if not found:
        raise SystemExit(f"no manifest under s3://{args.bucket}/: the cataloguer wrote none")
    for key in found:
        head = s3.head_object(Bucket=args.bucket, Key=key)
        body = s3.get_object(Bucket=args.bucket, Key=key)["Body"].read()
        sha, manifest = hashlib.sha256(body).hexdigest(), json.loads(body)
        objects, locked = manifest["objects"], 0
        for o in objects:
            version = {"VersionId": o["version_id"]} if o.get("version_id") else {}
            retention = s3.head_object(Bucket=args.bucket, Key=o["key"], **version)
            locked += bool(retention.get("ObjectLockMode"))
        until = head.get("ObjectLockRetainUntilDate")
        seal = f"{head['ObjectLockMode']} until {until:%Y-%m-%d}" if until else "not sealed"
        previous = (manifest.get("previous") or {}).get("export_id", "none (first of the chain)")
        say(f"s3://{args.bucket}/{key}")
        say(f"    sha256 {sha}; manifest {seal}; {locked} of {len(objects)} objects sealed; previous: {previous}")


def tamper(args):
    """A new version over one part file of the export: a valid Parquet file, another part's bytes.
    Prints the key replaced."""
    s3 = boto3.client("s3")
    task = next(t for t in export_tasks() if t["ExportTaskIdentifier"] == args.export_id)
    prefix = "/".join(p for p in (task.get("S3Prefix", "").strip("/"), args.export_id) if p) + "/"
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=task["S3Bucket"], Prefix=prefix)
    parts = sorted(o["Key"] for p in pages for o in p.get("Contents", []) if o["Key"].endswith(".parquet"))
    if len(parts) < 2:
        raise SystemExit(f"export {args.export_id} has fewer than two part files to swap")
    victim, other = parts[0], parts[-1]
    body = s3.get_object(Bucket=task["S3Bucket"], Key=other)["Body"].read()
    s3.put_object(Bucket=task["S3Bucket"], Key=victim, Body=body, ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=task["KmsKeyId"])
    say(f"s3://{task['S3Bucket']}/{victim}: a new version (the bytes of a {other.split('/')[-3]} part); "
        "the sealed original stays underneath, as Object Lock keeps versions, not keys")
    print(victim)


def decisions(args):
    """One line per decision, from the JSON lines the functions print (and the reconcile's
    summary line per database)."""
    for line in Path(args.file).read_text().splitlines():
        d = json.loads(line)
        if "summary" in d:
            s = d["summary"]
            say(f"{'summary':<16} {d['db']:<22} {s['examined']} examined: {s['exported']} exported, "
                f"{s['missing']} without an export, {s['failed']} failed, {s['skipped']} skipped")
            continue
        what = d.get("export_task_identifier") or d.get("snapshot") or d["record"]
        say(f"{d['outcome']:<16} {d.get('db') or '-':<22} {what:<48} {d['reason']}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", required=True, type=load_names,
                        help="names.json of the environment, from `infra synth`")
    commands = parser.add_subparsers(required=True)
    p = commands.add_parser("wire")
    p.add_argument("templates")
    p.set_defaults(run=lambda args: wire(args.templates))
    commands.add_parser("snapshot").set_defaults(run=snapshot)
    commands.add_parser("republish").set_defaults(run=republish)
    commands.add_parser("tasks").set_defaults(run=tasks)
    p = commands.add_parser("upload-sample")
    p.add_argument("sample")
    p.add_argument("--db", required=True)
    p.set_defaults(run=upload_sample)
    p = commands.add_parser("complete")
    p.add_argument("--snapshots", help="announce the exports of the snapshots whose id contains this, data or not")
    p.set_defaults(run=complete)
    commands.add_parser("lose-event").set_defaults(run=lose_event)
    p = commands.add_parser("backlog")
    p.add_argument("--count", type=int, default=8)
    p.set_defaults(run=backlog)
    p = commands.add_parser("fetch")
    p.add_argument("bucket")
    p.add_argument("out")
    p.set_defaults(run=fetch)
    p = commands.add_parser("manifests")
    p.add_argument("bucket")
    p.set_defaults(run=manifests)
    p = commands.add_parser("tamper")
    p.add_argument("export_id")
    p.set_defaults(run=tamper)
    p = commands.add_parser("decisions")
    p.add_argument("file")
    p.set_defaults(run=decisions)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
