"""moto_server with one fix: StartExportTask reads the snapshot id from the source ARN.

moto splits the ARN on its last ':', so every snapshot whose id contains ':' (all automated
snapshots, `rds:<db>-<date>`, and AWS Backup ones, `awsbackup:job-<uuid>`) fails with a 500.
RDS ARNs are `arn:<partition>:rds:<region>:<account>:<type>:<id>`, where only <id> may hold ':'.
Remove this launcher once moto parses the ARN itself.
"""

import sys

from moto.rds import models
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

if __name__ == "__main__":
    sys.exit(main())
