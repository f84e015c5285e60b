"""Seeds the local emulator for scripts/demo and writes one SQS batch of RDS events.

Databases, buckets and parameter names come from the embedded prod config (config/prod.toml)
through `names`-equivalent paths: /rds-snapshot-s3exports/prod/databases/<db>.
"""

import json
import sys
import tomllib
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
prod = tomllib.loads((ROOT / "config/prod.toml").read_text())
rds, ssm, iam, kms, s3 = (boto3.client(s) for s in ("rds", "ssm", "iam", "kms", "s3"))
region = rds.meta.region_name

events = []


def event(event_id, source_id, cluster=False):
    message = {
        "Event Source": "db-cluster-snapshot" if cluster else "db-snapshot",
        "Event Time": "2026-11-24 03:14:12.412",
        "Source ID": source_id,
        "Event ID": f"http://docs.amazonwebservices.com/AmazonRDS/latest/UserGuide/USER_Events.html#{event_id}",
        "Event Message": "snapshot created",
    }
    body = {"Type": "Notification", "MessageId": f"n{len(events)}", "Message": json.dumps(message)}
    events.append({
        "messageId": f"m{len(events)}", "receiptHandle": f"rh{len(events)}", "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{region}:{ACCOUNT}:rds-snapshot-s3exports-prod-events",
    })


role = iam.create_role(RoleName="export", Path="/rds-snapshot-s3exports/prod/",
                       AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))["Role"]["Arn"]
for i, db in enumerate(prod["databases"]):
    name, bucket = db["db_name"], db["s3_bucket_name"]
    s3.create_bucket(Bucket=bucket)
    key = kms.create_key(Description=f"exports of {name}")["KeyMetadata"]["Arn"]
    target = {"s3_bucket_name": bucket, "s3_prefix": "", "iam_role_arn": role, "kms_key_arn": key}
    ssm.put_parameter(Name=f"/rds-snapshot-s3exports/prod/databases/{name}", Value=json.dumps(target), Type="String")
    if i == 2:
        # One of the databases is an Aurora cluster.
        rds.create_db_cluster(DBClusterIdentifier=name, Engine="aurora-postgresql",
                              MasterUsername="admin_user", MasterUserPassword="password123")
        rds.create_db_cluster_snapshot(DBClusterIdentifier=name, DBClusterSnapshotIdentifier=f"{name}-before-upgrade")
        auto = rds.describe_db_cluster_snapshots(DBClusterIdentifier=name, SnapshotType="automated")["DBClusterSnapshots"][0]
        event("RDS-EVENT-0169", auto["DBClusterSnapshotIdentifier"], cluster=True)
        event("RDS-EVENT-0075", f"{name}-before-upgrade", cluster=True)
    else:
        rds.create_db_instance(DBInstanceIdentifier=name, Engine="postgres", DBInstanceClass="db.t3.micro",
                               AllocatedStorage=20, MasterUsername="admin_user", MasterUserPassword="password123")
        rds.create_db_snapshot(DBInstanceIdentifier=name, DBSnapshotIdentifier=f"{name}-manual-1")
        auto = rds.describe_db_snapshots(DBInstanceIdentifier=name, SnapshotType="automated")["DBSnapshots"][0]
        event("RDS-EVENT-0091", auto["DBSnapshotIdentifier"])
        event("RDS-EVENT-0042", f"{name}-manual-1")

# A database the pipeline does not export, a snapshot still being created, and a plain-text
# subscription message: skipped with a reason.
rds.create_db_instance(DBInstanceIdentifier="scratch-db", Engine="mysql", DBInstanceClass="db.t3.micro",
                       AllocatedStorage=20, MasterUsername="admin_user", MasterUserPassword="password123")
rds.create_db_snapshot(DBInstanceIdentifier="scratch-db", DBSnapshotIdentifier="scratch-manual-1")
event("RDS-EVENT-0042", "scratch-manual-1")
event("RDS-EVENT-0090", "rds:pams-stack-prod-2026-11-24-03-10")
events.append(dict(events[0], messageId="m-text", body="This is a test notification from Amazon RDS."))

Path(sys.argv[1]).write_text(json.dumps({"Records": events}, indent=2))
print(f"{len(events)} events for {len(prod['databases'])} configured databases", file=sys.stderr)
