//! The exactly-once promise under load and faults, at a size the test suite can afford; the
//! benchmark (`cargo run --release -p s3exports-burst --bin burst`) runs 1,000 snapshots.

use s3exports_burst::{BurstSpec, run};

fn small() -> BurstSpec {
    BurstSpec { snapshots: 120, databases: 12, export_minutes: 20, ..BurstSpec::default() }
}

fn assert_exactly_once(spec: &BurstSpec) {
    let report = tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run(spec));
    let summary = serde_json::to_string_pretty(&report).unwrap();
    assert_eq!(report.exported, spec.snapshots, "every snapshot exported: {summary}");
    assert_eq!((report.lost, report.duplicates, report.dlq), (0, 0, 0), "{summary}");
    // Snapshots whose event never came were found by the daily reconcile.
    assert_eq!(report.recovered_by_reconcile, report.lost_events_injected, "{summary}");
    // The faults and races really happened, so the run proves something.
    assert!(report.faults_injected > 0 && report.deliveries > spec.snapshots as u64, "{summary}");
    assert!(report.drain_minutes >= report.ideal_minutes, "{summary}");
    // Finished exports hand their slots straight on: the arrived events drain near the ideal.
    assert!(report.drain_minutes <= report.ideal_minutes * 1.1, "{summary}");
}

#[test]
fn a_burst_with_faults_exports_every_snapshot_exactly_once() {
    let spec = small();
    assert!(spec.lost_event_rate > 0.0);
    assert_exactly_once(&spec);
}

#[test]
fn harsher_faults_and_lost_invocations_still_lose_nothing() {
    let spec = BurstSpec {
        throttle_rate: 0.25,
        server_error_rate: 0.10,
        duplicate_rate: 0.5,
        lost_invocation_rate: 0.15,
        concurrency: 4,
        seed: 99,
        ..BurstSpec { snapshots: 40, databases: 8, ..small() }
    };
    assert_exactly_once(&spec);
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let spec = BurstSpec { snapshots: 30, databases: 5, ..BurstSpec::default() };
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_eq!(rt.block_on(run(&spec)), rt.block_on(run(&spec)));
}
