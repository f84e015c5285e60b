//! The cataloguing function: export-completed events in, Glue tables and partitions out.

use std::future::Future;
use std::ops::ControlFlow;

use crate::catalogue::Cataloguer;
use crate::classify::{EventKind, ExportResult, classify};
use crate::decide::RetryKind;
use crate::decision::{Decision, Outcome};
use crate::edge::{Aws, ExportAlert};
use crate::event::Record;
use crate::handler::{RecordDecider, locate_finished_task, start_decision};
use crate::model::ExportStatus;

#[derive(Debug)]
pub struct Cataloguing<'a, A> {
    pub aws: &'a A,
    pub cataloguer: &'a Cataloguer,
    pub dry_run: bool,
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
    let EventKind::ExportFinished { cluster, result: ExportResult::Completed } = classify(&event.event_id) else {
        return d.with(
            Outcome::Skip,
            format!("{}: cataloguing acts only on export-completed events (0161, 0164)", event.event_id),
        );
    };
    let task = match locate_finished_task(c.aws, event, cluster, ExportStatus::Complete, &mut d).await {
        Ok(Some(task)) => task,
        Ok(None) => {
            return d
                .retry(RetryKind::Transient, format!("no COMPLETE export task found for `{}` yet", event.source_id));
        }
        Err(e) => return d.failed("finding the completed export task", &e),
    };
    if c.dry_run {
        return d.with(Outcome::ExportCompleted, format!("dry run: would catalogue {}", task.s3_location()));
    }
    let report = match c.cataloguer.catalogue(&task).await {
        Ok(report) => report,
        Err(e) => return d.failed(&format!("cataloguing export {}", task.id), &e),
    };
    if !report.not_exported.is_empty() {
        let alert = ExportAlert {
            export_task_identifier: task.id.clone(),
            status: "PARTIAL".into(),
            source_arn: task.source_arn.clone(),
            db: d.db.clone(),
            s3_location: task.s3_location(),
            failure_cause: Some(format!("tables not exported: {}", report.not_exported.join(", "))),
            event_message: event.message.clone(),
        };
        if let Err(e) = c.aws.alert(&alert).await {
            return d.failed("alerting on tables the export left out", &e);
        }
    }
    d.with(Outcome::ExportCompleted, report.summary())
}
