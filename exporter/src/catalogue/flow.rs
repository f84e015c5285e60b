//! The cataloguing function's decision for one record: an export-completed event in, the
//! export found and catalogued, tables RDS left out alerted.

use std::future::Future;
use std::ops::ControlFlow;

use std::time::Instant;

use s3exports_config::names;
use s3exports_evidence::{Sealed, seal};
use s3exports_rds::ExportStatus;

use crate::aws::{Aws, ExportAlert};
use crate::batch::Settings;
use crate::batch::{RecordDecider, start_decision};
use crate::catalogue::Cataloguer;
use crate::catalogue::evidence::EvidenceReport;
use crate::decision::{Decision, Outcome};
use crate::event::Record;
use crate::event_kind::{EventKind, ExportResult, event_kind};
use crate::export::finished::{Located, locate_finished_task, not_ours_or_missing};
use crate::export::retry::RetryKind;

#[derive(Debug)]
pub struct Cataloguing<'a, A> {
    pub aws: &'a A,
    pub settings: &'a Settings,
    pub cataloguer: &'a Cataloguer,
    pub dry_run: bool,
    /// When sealing must stop so the invocation can answer (Lambda's deadline less a margin);
    /// `None` to seal to the end.
    pub deadline: Option<Instant>,
}

impl<A: Aws> RecordDecider for Cataloguing<'_, A> {
    fn decide<'a>(&'a self, record: &'a Record) -> impl Future<Output = Decision> + Send + 'a {
        decide(self, record)
    }
}

async fn decide<A: Aws>(c: &Cataloguing<'_, A>, record: &Record) -> Decision {
    let (event, mut d) = match start_decision(record) {
        ControlFlow::Continue(started) => started,
        ControlFlow::Break(done) => return done,
    };
    let EventKind::ExportFinished { cluster, result: ExportResult::Completed } = event_kind(&event.event_id) else {
        return d.with(
            Outcome::Skip,
            format!("{}: cataloguing acts only on export-completed events (0161, 0164)", event.event_id),
        );
    };
    let wanted = ExportStatus::Complete;
    let (task, db) = match locate_finished_task(c.aws, event, cluster, wanted, &mut d).await {
        Ok(Located::Ours { task, db }) => (*task, db),
        Ok(other) => return not_ours_or_missing(c.aws, c.settings, other, wanted, event, record.attempt(), d).await,
        Err(e) => return d.failed("finding the completed export task", &e),
    };
    if c.dry_run {
        return d.with(Outcome::ExportCompleted, format!("dry run: would catalogue {}", task.s3_location()));
    }
    let target = match c.aws.target(&db).await {
        Ok(Some(target)) => target,
        Ok(None) => return d.with(Outcome::Skip, format!("database `{db}` has no published export target any more")),
        Err(e) => return d.failed(&format!("reading the export target of `{db}`"), &e),
    };
    let report = match c.cataloguer.catalogue_for(&task, &db, &target).await {
        Ok(report) => report,
        Err(e) => return d.failed(&format!("cataloguing export {}", task.id), &e),
    };
    let manifested = match c.cataloguer.manifest(&task, &db, &target, &report.entries).await {
        Ok(manifested) => manifested,
        Err(e) => {
            count_incomplete(c.aws, &db).await;
            return d.failed(&format!("writing the evidence of export {} (catalogued)", task.id), &e.into_aws());
        }
    };
    // Said once, before sealing (which may take more deliveries): RDS's left-outs with the
    // catalogue, the findings when the manifest is written.
    let mut causes = Vec::new();
    if !report.not_exported.is_empty() {
        causes.push(format!("tables not exported: {}", report.not_exported.join(", ")));
    }
    causes.extend(manifested.findings.iter().cloned());
    if !causes.is_empty() && (manifested.recorded.new || !report.not_exported.is_empty()) {
        let alert = ExportAlert {
            export_task_identifier: task.id.clone(),
            status: "PARTIAL".into(),
            source_arn: task.source_arn.clone(),
            db: d.db.clone(),
            s3_location: task.s3_location(),
            failure_cause: Some(causes.join("; ")),
            event_message: event.message.clone(),
        };
        if let Err(e) = c.aws.alert(&alert).await {
            return d.failed("alerting on tables the export left out", &e);
        }
    }
    let key = manifested.recorded.key.clone();
    let evidence = match seal(&c.cataloguer.s3, &manifested.recorded, c.deadline).await {
        Ok(sealed) => EvidenceReport::new(manifested, sealed),
        Err(e) => {
            count_incomplete(c.aws, &db).await;
            return d.failed(&format!("sealing export {} ({key} written)", task.id), &e.into_aws());
        }
    };
    if let Sealed::Partial { sealed, of } = evidence.sealed {
        count_incomplete(c.aws, &db).await;
        return d.retry(
            RetryKind::Transient,
            format!(
                "{}; {}: sealed {sealed} of {of} objects before the invocation's deadline, the next delivery seals the rest",
                report.summary(),
                evidence.key
            ),
        );
    }
    d.with(Outcome::ExportCompleted, format!("{}; {}", report.summary(), evidence.summary()))
}

/// One count of `EvidenceIncomplete` (its alarm says which export to look at); a failure to
/// count is only logged, the decision already says what happened.
async fn count_incomplete<A: Aws>(aws: &A, db: &str) {
    if let Err(e) = aws.count(names::METRIC_EVIDENCE_INCOMPLETE, Some(db)).await {
        tracing::warn!(error = %e, "could not count EvidenceIncomplete");
    }
}
