"""moto_server with three fixes to RDS export tasks, each to do what AWS does.

1. StartExportTask reads the snapshot id from the source ARN. moto splits the ARN on its last
   ':', so every snapshot whose id contains ':' (all automated snapshots, `rds:<db>-<date>`, and
   AWS Backup ones, `awsbackup:job-<uuid>`) fails with a 500. RDS ARNs are
   `arn:<partition>:rds:<region>:<account>:<type>:<id>`, where only <id> may hold ':'.
2. DescribeExportTasks applies its filters (export-task-identifier, s3-bucket, source-arn,
   status), SourceArn and SourceType. moto ignores them and returns every task the account ever
   ran, so a lookup of the running exports slows down with each export a test or benchmark adds.
3. An export takes time. moto completes every task the moment it starts, so the account's export
   slots never fill. With MOTO_RDS_EXPORT_SECONDS=N (the demo), a task is `in_progress` for N
   seconds after it starts, then `complete`. Unset, moto's behaviour is kept.

Remove each fix once moto does it itself.
"""

import os
import sys
from importlib.metadata import version

# The fixes below reach into moto 5.2's internals; another version would fail in odd ways.
if not version("moto").startswith("5.2."):
    sys.exit(f"testkit/moto_server.py patches moto 5.2.x, but moto {version('moto')} is installed: "
             "install moto[server]==5.2.1 (scripts/requirements.txt) or port the patches")

from moto.core.responses import ActionResult  # noqa: E402
from moto.core.utils import utcnow  # noqa: E402
from moto.rds import models  # noqa: E402
from moto.rds.exceptions import InvalidParameterValue  # noqa: E402
from moto.rds.responses import RDSResponse  # noqa: E402
from moto.server import main  # noqa: E402

_original = models.RDSBackend.start_export_task
EXPORT_SECONDS = float(os.environ.get("MOTO_RDS_EXPORT_SECONDS") or 0)


def running(task):
    """Starts a task as RDS does: in progress, when exports take time here."""
    if EXPORT_SECONDS:
        task.status = "in_progress"
    return task


def finish_due(tasks):
    for task in tasks:
        if task.status == "in_progress" and (utcnow() - task.created_at).total_seconds() >= EXPORT_SECONDS:
            task.status = "complete"


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
                return running(task)
            finally:
                del table[alias]
    return running(_original(self, kwargs))


models.RDSBackend.start_export_task = start_export_task


# The filter names RDS knows, and the task attribute each compares.
EXPORT_TASK_FILTERS = {"export-task-identifier": "export_task_identifier", "s3-bucket": "s3_bucket",
                       "source-arn": "source_arn", "status": "status"}


def describe_export_tasks(self):
    filters = [(f["Name"], set(f["Values"])) for f in self.params.get("Filters", [])]
    unknown = [name for name, _ in filters if name not in EXPORT_TASK_FILTERS]
    if unknown:
        raise InvalidParameterValue(f"Unrecognized filter name: {unknown[0]}")
    # Filters AND together; a filter matches any of its values (case-sensitive, as on AWS).
    wanted = [(EXPORT_TASK_FILTERS[name], values) for name, values in filters]
    if self.params.get("SourceArn"):
        wanted.append(("source_arn", {self.params["SourceArn"]}))
    if self.params.get("SourceType"):
        wanted.append(("source_type", {self.params["SourceType"]}))
    tasks = self.backend.describe_export_tasks(self.params.get("ExportTaskIdentifier"))
    finish_due(tasks)
    tasks = [t for t in tasks if all(getattr(t, field) in values for field, values in wanted)]
    return ActionResult({"ExportTasks": tasks})


RDSResponse.describe_export_tasks = describe_export_tasks

if __name__ == "__main__":
    sys.exit(main())
