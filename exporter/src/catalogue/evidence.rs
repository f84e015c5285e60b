//! The evidence step of cataloguing: the export's manifest written (or found from an earlier
//! delivery) and linked into the database's chain, what it says against the previous manifest
//! (or why it could not be compared with it: archived, gone, altered, unreadable), and the seal
//! placed, up to the invocation's deadline.

use std::time::Instant;

use s3exports_config::ExportTarget;
use s3exports_evidence::completeness;
use s3exports_evidence::record::{Previous, previous, read_manifest};
use s3exports_evidence::seal::{Held, require_lock};
use s3exports_evidence::text::{listed, shown};
use s3exports_evidence::{EvidenceError, ExportFacts, SealReport, Sealed, record, seal};
use s3exports_rds::ExportTask;
use s3exports_rds::layout::TableStatus;

use super::cataloguer::Cataloguer;

/// What the evidence step did.
#[derive(Debug, Clone)]
pub struct EvidenceReport {
    pub key: String,
    pub sha256: String,
    /// Written by this delivery (findings are alerted once, when it is).
    pub new: bool,
    pub sealed: Sealed,
    /// Versions found already retained at least as long as the seal asks (counted as sealed).
    pub held: Vec<Held>,
    /// Tables gone, skipped or shrunk against the previous manifest, or why it could not be
    /// compared with (new manifests only).
    pub findings: Vec<String>,
}

impl EvidenceReport {
    /// The evidence step's report, from its two halves.
    pub fn new(manifested: Manifested, sealed: SealReport) -> Self {
        let Manifested { recorded, findings } = manifested;
        let SealReport { sealed, held } = sealed;
        Self { key: recorded.key, sha256: recorded.sha256, new: recorded.new, sealed, held, findings }
    }

    pub fn summary(&self) -> String {
        let mut sealed = match &self.sealed {
            Sealed::Off => "not sealed (object_lock off)".to_owned(),
            Sealed::Done { objects } => format!("{objects} objects sealed"),
            Sealed::Partial { sealed, of } => format!("sealed {sealed} of {of}, the rest follow"),
        };
        if !self.held.is_empty() {
            let found: Vec<String> = self
                .held
                .iter()
                .map(|h| format!("{} ({} until {})", shown(&h.key), h.mode, h.until.format("%Y-%m-%d")))
                .collect();
            sealed.push_str(&format!(
                " ({} already held a retention at least as long: {})",
                self.held.len(),
                listed(&found)
            ));
        }
        format!(
            "manifest {} {} (SHA-256 {}), {sealed}",
            self.key,
            if self.new { "written" } else { "already there" },
            &self.sha256[..self.sha256.len().min(12)]
        )
    }
}

/// A manifest written or found, and what it says against the previous one.
#[derive(Debug, Clone)]
pub struct Manifested {
    pub recorded: s3exports_evidence::Recorded,
    /// Tables gone, skipped or shrunk against the previous manifest (new manifests only).
    pub findings: Vec<String>,
}

impl Cataloguer {
    /// Manifests and seals one completed export of `db`, whose published target is `target`;
    /// sealing stops before `deadline` (and continues on the next delivery).
    pub async fn evidence(
        &self,
        task: &ExportTask,
        db: &str,
        target: &ExportTarget,
        entries: &[TableStatus],
        deadline: Option<Instant>,
    ) -> Result<EvidenceReport, EvidenceError> {
        let manifested = self.manifest(task, db, target, entries).await?;
        let sealed = seal(&self.s3, &manifested.recorded, deadline).await?;
        Ok(EvidenceReport::new(manifested, sealed))
    }

    /// The export's manifest, written and linked into the chain (or found from an earlier
    /// delivery), with its completeness findings when written now. A target that asks for a
    /// seal on a bucket without Object Lock is refused before anything is written, so no
    /// manifest ever records a seal that cannot be placed.
    pub async fn manifest(
        &self,
        task: &ExportTask,
        db: &str,
        target: &ExportTarget,
        entries: &[TableStatus],
    ) -> Result<Manifested, EvidenceError> {
        if let Some((lock, _)) = target.seal() {
            require_lock(&self.s3, &task.s3_bucket, db, lock.mode().unwrap_or_default()).await?;
        }
        let info = self.export_info(task).await;
        let facts = ExportFacts {
            database: db,
            task,
            entries,
            info: info.as_ref(),
            seal: target.seal(),
            expire_days: target.retain_days,
        };
        let recorded = record(&self.s3, &facts).await?;
        let mut findings = Vec::new();
        if recorded.new {
            let pct = target.row_drop_warn_pct.unwrap_or(50);
            let link = recorded.manifest.previous.as_ref();
            findings = match previous(&self.s3, &task.s3_bucket, link).await {
                Previous::None => completeness::warnings(&recorded.manifest, None, pct),
                Previous::Read(p) => completeness::warnings(&recorded.manifest, Some(&p.manifest), pct),
                // Never silent: a comparison not made is a finding of its own.
                Previous::Unavailable(why) => {
                    let mut out = completeness::warnings(&recorded.manifest, None, pct);
                    if let Some(link) = link {
                        out.push(completeness::not_compared(&link.export_id, &why));
                    }
                    out
                }
            };
        }
        Ok(Manifested { recorded, findings })
    }
}

/// What the backfill did for one export.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Backfilled {
    pub db: String,
    pub export_id: String,
    /// `written`, `already there`, `would write` (dry run) or `error`.
    pub outcome: &'static str,
    pub manifest: Option<String>,
    pub sha256: Option<String>,
    pub detail: String,
}

impl Cataloguer {
    /// Manifests (and seals) the completed exports of `db` that have none, oldest snapshot first,
    /// so the chain starts at the oldest export still in the bucket. `tasks`: the export tasks
    /// RDS lists for the bucket; exports RDS no longer lists are found from the bucket itself.
    pub async fn backfill(
        &self,
        db: &str,
        target: &ExportTarget,
        tasks: Vec<ExportTask>,
        dry_run: bool,
    ) -> Result<Vec<Backfilled>, s3exports_rds::AwsError> {
        let mut exports: Vec<ExportTask> =
            tasks.into_iter().filter(|t| t.status == s3exports_rds::ExportStatus::Complete).collect();
        for info in self.exports_in_bucket(&target.s3_bucket_name, &target.s3_prefix).await? {
            if !exports.iter().any(|t| t.id == info.export_task_identifier) {
                let task = info.to_task();
                if task.status == s3exports_rds::ExportStatus::Complete {
                    exports.push(task);
                }
            }
        }
        exports.sort_by(|a, b| {
            (a.snapshot_time.or(a.task_end_time), &a.id).cmp(&(b.snapshot_time.or(b.task_end_time), &b.id))
        });
        let mut out = Vec::new();
        for task in exports {
            let key = s3exports_config::names::manifest_key(&task.s3_prefix, db, &task.id);
            let line = |outcome: &'static str, sha: Option<String>, detail: String| Backfilled {
                db: db.to_owned(),
                export_id: task.id.clone(),
                outcome,
                manifest: Some(key.clone()),
                sha256: sha,
                detail,
            };
            match read_manifest(&self.s3, &task.s3_bucket, &key).await {
                Ok(Some(found)) => {
                    out.push(line("already there", Some(found.sha256), String::new()));
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    out.push(line("error", None, e.to_string()));
                    continue;
                }
            }
            if dry_run {
                out.push(line("would write", None, format!("export {} has no manifest", task.id)));
                continue;
            }
            let entries = match self.tables_info(&task.s3_bucket, &task.s3_prefix, &task.id).await {
                Ok(entries) => entries,
                Err(e) => {
                    out.push(line("error", None, format!("reading export_tables_info: {e}")));
                    continue;
                }
            };
            match self.evidence(&task, db, target, &entries, None).await {
                Ok(e) if e.findings.is_empty() => out.push(line("written", Some(e.sha256.clone()), e.summary())),
                Ok(e) => {
                    let detail = format!("{}; {}", e.summary(), listed(&e.findings));
                    out.push(line("written", Some(e.sha256.clone()), detail));
                }
                Err(e) => out.push(line("error", None, e.to_string())),
            }
        }
        Ok(out)
    }
}
