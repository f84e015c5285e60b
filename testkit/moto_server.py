"""moto_server with two fixes to RDS export tasks, each to do what AWS does.

1. StartExportTask reads the snapshot id from the source ARN. moto splits the ARN on its last
   ':', so every snapshot whose id contains ':' (all automated snapshots, `rds:<db>-<date>`, and
   AWS Backup ones, `awsbackup:job-<uuid>`) fails with a 500. RDS ARNs are
   `arn:<partition>:rds:<region>:<account>:<type>:<id>`, where only <id> may hold ':'.
2. DescribeExportTasks applies its filters (export-task-identifier, s3-bucket, source-arn,
   status), SourceArn and SourceType. moto ignores them and returns every task the account ever
   ran, so a lookup of the running exports slows down with each export a test or benchmark adds.

Remove each fix once moto does it itself.
"""

import sys

from moto.core.responses import ActionResult
from moto.rds import models
from moto.rds.exceptions import InvalidParameterValue
from moto.rds.responses import RDSResponse
from moto.server import main

_original = models.RDSBackend.start_export_task


def start_export_task(self, kwargs):
    parts = kwargs["source_arn"].split(":", 6)
    if len(parts) == 7 and ":" in parts[6]:
        # Rebuild the ARN so moto's last-':' split finds the full id: look the snapshot up by
        # its real id under an alias that has no ':' in it, then restore the names.
        kind, snapshot_id = parts[5], parts[6]
        table = self.database_snapshots if kind == "snapshot" else self.cluster_snapshots
        if snapshot_id in table:
            alias = snapshot_id.replace(":", "--colon--")
            table[alias] = table[snapshot_id]
            try:
                task = _original(self, dict(kwargs, source_arn=":".join(parts[:6] + [alias])))
                task.source_arn = kwargs["source_arn"]
                return task
            finally:
                del table[alias]
    return _original(self, kwargs)


models.RDSBackend.start_export_task = start_export_task


def describe_export_tasks(self):
    tasks = self.backend.describe_export_tasks(self.params.get("ExportTaskIdentifier"))
    # Filters AND together; a filter matches any of its values (case-sensitive, as on AWS).
    wanted = [(f["Name"], set(f["Values"])) for f in self.params.get("Filters", [])]
    if self.params.get("SourceArn"):
        wanted.append(("source-arn", {self.params["SourceArn"]}))
    if self.params.get("SourceType"):
        wanted.append(("source-type", {self.params["SourceType"]}))
    fields = {"export-task-identifier": "export_task_identifier", "s3-bucket": "s3_bucket",
              "source-arn": "source_arn", "status": "status", "source-type": "source_type"}
    unknown = [name for name, _ in wanted if name not in fields]
    if unknown:
        raise InvalidParameterValue(f"Unrecognized filter name: {unknown[0]}")
    tasks = [t for t in tasks if all(getattr(t, fields[name]) in values for name, values in wanted)]
    return ActionResult({"ExportTasks": tasks})


RDSResponse.describe_export_tasks = describe_export_tasks

if __name__ == "__main__":
    sys.exit(main())
