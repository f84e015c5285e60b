//! SQL over the generated export, checked against what the generator says it wrote.

use athenaq::engine::{self, catalog_tables};
use athenaq::output::Rows;
use athenaq::source::discover;
use s3exports_testkit::sample::{SampleSpec, SnapshotFacts, write_sample};

struct Fixture {
    _dir: tempfile::TempDir,
    facts: Vec<SnapshotFacts>,
    ctx: datafusion::prelude::SessionContext,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let facts = write_sample(dir.path(), SampleSpec { orders: 2_000, customers: 60 }).unwrap();
    let exports = discover::discover(dir.path()).unwrap().exports;
    let config = s3exports_config::embedded_env("prod").unwrap().config;
    let ctx = engine::session(&catalog_tables(&exports, Some(&config), None)).await.unwrap();
    Fixture { _dir: dir, facts, ctx }
}

async fn q(f: &Fixture, sql: &str) -> Rows {
    engine::query(&f.ctx, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn cell(rows: &Rows, r: usize, c: usize) -> String {
    rows.rows[r][c].clone().unwrap_or_else(|| "NULL".into())
}

#[tokio::test]
async fn counts_per_snapshot_match_what_was_written() {
    let f = fixture().await;
    for table in ["customers", "orders", "order_items", "events"] {
        let rows = q(&f, &format!("SELECT snapshot_date, export_id, count(*) FROM pams_stack_prod.pams_public_{table} GROUP BY 1, 2 ORDER BY 1")).await;
        assert_eq!(rows.rows.len(), 2, "{table}");
        for (i, facts) in f.facts.iter().enumerate() {
            assert_eq!(cell(&rows, i, 0), facts.snapshot_date);
            assert_eq!(cell(&rows, i, 1), facts.export_id);
            assert_eq!(cell(&rows, i, 2), facts.rows[table].to_string(), "{table} {}", facts.snapshot_date);
        }
    }
}

#[tokio::test]
async fn group_by_and_partition_filter() {
    let f = fixture().await;
    let second = &f.facts[1];
    let rows = q(
        &f,
        "SELECT status, count(*), sum(cast(total AS DECIMAL(14,2))) FROM pams_stack_prod.pams_public_orders \
         WHERE snapshot_date = '2026-11-24' GROUP BY status ORDER BY status",
    )
    .await;
    let got: Vec<(String, u64)> =
        rows.rows.iter().map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap().parse().unwrap())).collect();
    let want: Vec<(String, u64)> = second.orders_by_status.iter().map(|(k, v)| (k.clone(), *v)).collect();
    assert_eq!(got, want);
    let total: f64 = rows.rows.iter().map(|r| r[2].clone().unwrap().parse::<f64>().unwrap()).sum();
    assert!((total * 100.0 - second.orders_total_cents as f64).abs() < 0.5, "{total} vs {}", second.orders_total_cents);
}

#[tokio::test]
async fn null_and_empty_notes_stay_apart() {
    let f = fixture().await;
    let first = &f.facts[0];
    let rows = q(
        &f,
        "SELECT count(*) FILTER (WHERE note IS NULL), count(*) FILTER (WHERE note = '') \
         FROM pams_public_orders WHERE export_id = (SELECT min(export_id) FROM pams_public_orders WHERE snapshot_date = '2026-11-23')",
    )
    .await;
    assert_eq!(cell(&rows, 0, 0), first.orders_with_null_note.to_string());
    assert_eq!(cell(&rows, 0, 1), first.orders_with_empty_note.to_string());
    let unicode =
        q(&f, "SELECT count(*) FROM pams_public_customers WHERE name LIKE '%李小龙%' OR name LIKE '%Zoë%'").await;
    assert_ne!(cell(&unicode, 0, 0), "0");
}

#[tokio::test]
async fn join_across_tables() {
    let f = fixture().await;
    let second = &f.facts[1];
    let rows = q(
        &f,
        "SELECT count(*) FROM pams_public_order_items i \
         JOIN pams_public_orders o ON o.id = i.order_id AND o.snapshot_date = i.snapshot_date \
         JOIN pams_public_customers c ON c.id = o.customer_id AND c.snapshot_date = o.snapshot_date \
         WHERE c.country = 'DE' AND i.snapshot_date = '2026-11-24'",
    )
    .await;
    assert_eq!(cell(&rows, 0, 0), second.de_order_items.to_string());
}

#[tokio::test]
async fn compare_two_snapshots_with_a_changed_schema() {
    let f = fixture().await;
    // Orders that shipped between the snapshots: pending in the first, shipped in the second.
    let rows = q(
        &f,
        "SELECT count(*) FROM pams_public_orders a JOIN pams_public_orders b ON a.id = b.id \
         WHERE a.snapshot_date = '2026-11-23' AND b.snapshot_date = '2026-11-24' \
         AND a.status = 'pending' AND b.status = 'shipped'",
    )
    .await;
    assert_eq!(cell(&rows, 0, 0), f.facts[1].shipped_since_previous.to_string());
    assert!(f.facts[1].shipped_since_previous > 0);
    // The column added in the second snapshot is NULL in the first.
    let rows =
        q(&f, "SELECT snapshot_date, count(channel), count(*) FROM pams_public_orders GROUP BY 1 ORDER BY 1").await;
    assert_eq!(cell(&rows, 0, 1), "0");
    assert_eq!(cell(&rows, 1, 1), cell(&rows, 1, 2));
    // New orders only in the second snapshot.
    let rows = q(
        &f,
        "SELECT count(*) FROM pams_public_orders b WHERE b.snapshot_date = '2026-11-24' \
         AND b.id NOT IN (SELECT id FROM pams_public_orders WHERE snapshot_date = '2026-11-23')",
    )
    .await;
    assert_eq!(cell(&rows, 0, 0), (f.facts[1].rows["orders"] - f.facts[0].rows["orders"]).to_string());
}

#[tokio::test]
async fn distinct_and_top_n() {
    let f = fixture().await;
    let rows =
        q(&f, "SELECT count(DISTINCT customer_id) FROM pams_public_orders WHERE snapshot_date = '2026-11-24'").await;
    let distinct: u64 = cell(&rows, 0, 0).parse().unwrap();
    assert!(distinct > 0 && distinct <= 60);
    let rows = q(&f, "SELECT id, total FROM pams_public_orders WHERE snapshot_date = '2026-11-24' ORDER BY cast(total AS DECIMAL(14,2)) DESC LIMIT 3").await;
    assert_eq!(rows.rows.len(), 3);
    let totals: Vec<f64> = rows.rows.iter().map(|r| r[1].clone().unwrap().parse().unwrap()).collect();
    assert!(totals.windows(2).all(|w| w[0] >= w[1]));
}

#[tokio::test]
async fn text_to_decimal_casts_take_the_fast_path_and_keep_their_names() {
    let f = fixture().await;
    let plan = q(&f, "EXPLAIN SELECT sum(CAST(total AS DECIMAL(14,2))) FROM pams_public_orders").await;
    let plan: String = plan.rows.iter().flatten().flatten().cloned().collect();
    assert!(plan.contains("cast_text_to_decimal"), "{plan}");

    let rows = q(
        &f,
        "SELECT total, CAST(total AS DECIMAL(14,2)) AS amount, TRY_CAST(concat(total, 'x') AS DECIMAL(14,2)) AS bad \
         FROM pams_public_orders WHERE total IS NOT NULL LIMIT 5",
    )
    .await;
    for row in &rows.rows {
        let text: f64 = row[0].clone().unwrap().parse().unwrap();
        let decimal: f64 = row[1].clone().unwrap().parse().unwrap();
        assert!((text - decimal).abs() < 0.005, "{row:?}");
        assert_eq!(row[2], None, "TRY_CAST of invalid text is NULL");
    }
    let err = engine::query(&f.ctx, "SELECT CAST(concat(total, 'x') AS DECIMAL(14,2)) FROM pams_public_orders")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("Cannot cast string"), "{err}");

    // Unaliased, the column keeps the name DataFusion gives any cast of a column.
    let rows = q(&f, "SELECT CAST(total AS DECIMAL(14,2)) FROM pams_public_orders LIMIT 1").await;
    assert_eq!(rows.columns[0].name, "pams_public_orders.total");
}
