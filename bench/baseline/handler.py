"""The baseline users run today, written to the seed's design: an SNS-subscribed Python 3.11
Lambda that describes the snapshot named in the RDS event and starts its export task."""

import json
import os
import re

import boto3

rds = boto3.client("rds")


def handler(event, context):
    started = []
    for record in event["Records"]:
        message = json.loads(record["Sns"]["Message"])
        snapshot_id = message["Source ID"]
        snapshot = rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)["DBSnapshots"][0]
        task_id = re.sub(r"[^a-zA-Z0-9-]", "-", snapshot_id)[:60].strip("-")
        rds.start_export_task(
            ExportTaskIdentifier=task_id,
            SourceArn=snapshot["DBSnapshotArn"],
            S3BucketName=os.environ["EXPORT_BUCKET"],
            IamRoleArn=os.environ["EXPORT_ROLE_ARN"],
            KmsKeyId=os.environ["EXPORT_KMS_KEY_ARN"],
        )
        started.append(task_id)
    return {"started": started}
