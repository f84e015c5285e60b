//! Dispatch: start pending exports into the free slots. Runs when exports finish and on a
//! schedule (the backstop). The receive takes the pending queue's lock (see [`super::pending`]),
//! then the exports in progress are counted once, the oldest snapshots are started into the
//! free slots, and the messages are settled in one call each way.

use s3exports_rds::{AwsError, ExportTask, TaskFilter};

use super::pending::{Parked, PendingExport};
use super::retry::RetryKind;
use super::rules;
use super::start::Started;
use crate::aws::Aws;
use crate::batch::Settings;
use crate::decision::{Decision, Outcome};

/// The most one receive returns (SQS).
pub const RECEIVE_MAX: usize = 10;

/// What one dispatch did.
#[derive(Debug, Default)]
pub struct Dispatched {
    /// One per pending export looked at.
    pub decisions: Vec<Decision>,
    /// Exports in progress before this dispatch started any.
    pub running: usize,
    /// Pending exports put back to wait.
    pub waiting: usize,
    /// Entries SQS failed to delete or put back (message id, code, message): deleted ones come
    /// back after the hold and are found already exported; the others return after the hold.
    pub unsettled: Vec<String>,
}

/// What to do with one pending message after a start was tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settle {
    /// Started, already exported, or dropped: delete it.
    Done,
    /// Not started: make it visible again.
    Back,
    /// Cannot ever start as it is (a misconfigured target): to the dead-letter queue, whose
    /// alarm tells a person, then deleted.
    DeadLetter,
}

/// Why a dispatch runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// This many exports of ours just finished: as many slots are expected free.
    Finished(usize),
    /// The schedule (or a person): count the free slots first, and stop if there are none.
    Schedule,
}

/// Rounds one dispatch makes at most: each starts at least one export or ends the dispatch.
const MAX_ROUNDS: usize = 10;

/// How long a receive waits for a pending export (an SQS long poll). A short poll samples some
/// of SQS's servers and can answer nothing while exports wait, leaving a freed slot idle until
/// the next schedule; a long poll answers as soon as one is there.
pub const RECEIVE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

pub async fn dispatch<A: Aws>(aws: &A, settings: &Settings, trigger: Trigger) -> Result<Dispatched, AwsError> {
    let mut wanted = match trigger {
        Trigger::Finished(n) => n.max(1),
        Trigger::Schedule => {
            let running = aws.export_tasks(&TaskFilter::active()).await?.len();
            if rules::slots_full(running, settings.defaults.export_slots) {
                return Ok(Dispatched { running, ..Dispatched::default() });
            }
            settings.defaults.export_slots as usize - running
        }
    };
    let mut out = Dispatched::default();
    // The finished events of one moment are split between invocations and only one holds the
    // lock at a time, so a dispatch that finds more slots free than it took goes round again.
    for round in 0..MAX_ROUNDS {
        let asked = wanted.min(RECEIVE_MAX);
        let Some(r) = dispatch_round(aws, settings, asked).await? else { break };
        if round == 0 {
            out.running = r.running;
        }
        out.decisions.extend(r.decisions);
        out.waiting = r.waiting;
        out.unsettled.extend(r.unsettled);
        if r.free_left == 0 || r.taken < asked || r.waiting > 0 || settings.dry_run {
            break;
        }
        wanted = r.free_left;
    }
    Ok(out)
}

/// One receive's worth: taken under the lock, counted, started, settled.
struct Round {
    decisions: Vec<Decision>,
    running: usize,
    taken: usize,
    waiting: usize,
    free_left: usize,
    unsettled: Vec<String>,
}

async fn dispatch_round<A: Aws>(aws: &A, settings: &Settings, asked: usize) -> Result<Option<Round>, AwsError> {
    let taken = aws.take_pending(asked, RECEIVE_WAIT).await?;
    if taken.is_empty() {
        return Ok(None);
    }
    // Counted now that the lock is held: this count is the one that decides.
    let active = match aws.export_tasks(&TaskFilter::active()).await {
        Ok(active) => active,
        Err(e) => {
            if let Err(back) = aws.settle_pending(&[], &taken).await {
                tracing::warn!(error = %back, "could not put pending exports back; they return when their visibility ends");
            }
            return Err(e);
        }
    };
    let mut round = Round {
        decisions: Vec::new(),
        running: active.len(),
        taken: taken.len(),
        waiting: 0,
        free_left: 0,
        unsettled: Vec::new(),
    };
    let mut free = (settings.defaults.export_slots as usize).saturating_sub(active.len());
    let (mut done, mut back): (Vec<Parked>, Vec<Parked>) = (Vec::new(), Vec::new());

    let mut parked: Vec<(Parked, PendingExport)> = Vec::new();
    for p in taken {
        match PendingExport::from_body(&p.body) {
            Ok(pending) => parked.push((p, pending)),
            Err(why) => {
                let d = Decision::new(&format!("pending:message:{}", p.message_id), Outcome::Reject, why);
                // Dead-lettered with its reason, then deleted: kept for a person, never retried.
                let settled = settle_rejected(aws, settings, &p, &d).await;
                round.decisions.push(d);
                if settled { done.push(p) } else { back.push(p) }
            }
        }
    }
    // Oldest snapshot first, as far as one receive's worth allows.
    parked.sort_by_key(|(_, a)| a.snapshot.created);
    let mut quota_refused = false;
    for (p, pending) in parked {
        let (settle, d) = if quota_refused || free == 0 {
            (Settle::Back, waiting(&pending, active.len(), settings.defaults.export_slots))
        } else {
            start_one(aws, settings, &pending, &active).await
        };
        match (settle, d.outcome) {
            (Settle::Done, Outcome::StartExport) => free -= 1,
            (Settle::Back, _) if d.retry == Some(RetryKind::QuotaFull) => quota_refused = true,
            _ => {}
        }
        match settle {
            Settle::Done => done.push(p),
            Settle::Back => {
                // Only an export that is readable and still to start waits.
                round.waiting += 1;
                back.push(p);
            }
            Settle::DeadLetter if settle_rejected(aws, settings, &p, &d).await => done.push(p),
            Settle::DeadLetter => back.push(p),
        }
        round.decisions.push(d);
    }
    round.free_left = if quota_refused { 0 } else { free };
    if settings.dry_run {
        // Nothing was started, so nothing leaves the queue.
        back.append(&mut done);
    }
    round.unsettled = aws.settle_pending(&done, &back).await?;
    for failure in &round.unsettled {
        tracing::warn!(failure = %failure, "SQS did not settle a pending export");
    }
    Ok(Some(round))
}

fn decision_for(pending: &PendingExport) -> Decision {
    let mut d = Decision::new(&format!("pending:{}", pending.export_id()), Outcome::Skip, "");
    d.db = Some(pending.snapshot.db_id.clone());
    d.snapshot = Some(pending.snapshot.id.clone());
    d.source_arn = Some(pending.snapshot.arn.clone());
    d.export_task_identifier = Some(pending.export_id().to_owned());
    d
}

fn waiting(pending: &PendingExport, running: usize, slots: u32) -> Decision {
    decision_for(pending).retry(
        RetryKind::QuotaFull,
        format!("{running} exports in progress, {slots} slots: waits in the pending queue"),
    )
}

/// Starts one pending export if it is still ours to start.
async fn start_one<A: Aws>(
    aws: &A,
    settings: &Settings,
    pending: &PendingExport,
    active: &[ExportTask],
) -> (Settle, Decision) {
    let d = decision_for(pending);
    let id = pending.export_id();
    if active.iter().any(|t| t.id == id) {
        return (Settle::Done, d.with(Outcome::Skip, format!("export task {id} is already running")));
    }
    // The request as resolved when it was parked: reading the target again would cost a call
    // per start. What changed since is for RDS to say: a deleted snapshot is dropped below, a
    // removed role, key or bucket sends the export to the dead-letter queue with RDS's reason.
    let request = &pending.request;
    let destination = request.destination();
    if settings.dry_run {
        return (Settle::Done, d.with(Outcome::StartExport, format!("dry run: would export to {destination}")));
    }
    match super::start::start(aws, request).await {
        Ok(started @ (Started::New | Started::Moved { new: true, .. })) => {
            (Settle::Done, d.with(Outcome::StartExport, format!("{} (was pending)", started.describe(request))))
        }
        Ok(started) => (Settle::Done, d.with(Outcome::Skip, started.describe(request))),
        Err(AwsError::NotFound(why)) => (
            Settle::Done,
            d.with(Outcome::Skip, format!("snapshot `{}` is gone ({why}): dropped", pending.snapshot.id)),
        ),
        Err(AwsError::Unmodelled(msg)) if rules::slots_full(active.len() + 1, rules::ACCOUNT_EXPORT_QUOTA) => (
            Settle::Back,
            d.retry(
                RetryKind::QuotaFull,
                format!("StartExportTask refused while exports are running ({msg}): quota full, waits"),
            ),
        ),
        Err(e) => {
            let d = d.failed("StartExportTask", &e);
            let settle = if d.outcome == Outcome::Reject { Settle::DeadLetter } else { Settle::Back };
            (settle, d)
        }
    }
}

async fn settle_rejected<A: Aws>(aws: &A, settings: &Settings, p: &Parked, d: &Decision) -> bool {
    if settings.dry_run {
        return false;
    }
    match aws.dead_letter(&d.record, &p.body, &d.reason).await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, "could not dead-letter an unreadable pending export; it stays pending");
            false
        }
    }
}
