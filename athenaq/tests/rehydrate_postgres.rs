//! `athenaq rehydrate` into a real PostgreSQL (started by the test, stopped at its end): the
//! sample export with its original types and exact values, reruns, a damaged part, schema
//! only, odd identifiers, and the errors a user meets.

mod rehydrating;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int32Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use rehydrating::{damage, export_of, numbered_table, rehydrate};
use s3exports_rds::layout::TableStatus;
use s3exports_testkit::databases::{PASSWORD, Postgres};
use s3exports_testkit::export_writer::{ExportSpec, TableSpec, column, write_export};
use s3exports_testkit::sample::{SampleSpec, write_sample};

const NULL: &str = "<NULL>";

/// Rows of a query, NULL as [`NULL`], values unaltered (unit and record separators).
fn psql_rows(pg: &Postgres, database: &str, sql: &str) -> Vec<Vec<String>> {
    let out = Command::new(pg.bin().join("psql"))
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres", "-P"])
        .arg(format!("null={NULL}"))
        .args(["-F", "\u{1f}", "-R", "\u{1e}", "-p", &pg.port.to_string(), "-d", database, "-c", sql])
        .env("PGPASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let text = text.strip_suffix('\n').unwrap_or(&text);
    if text.is_empty() {
        return Vec::new();
    }
    text.split('\u{1e}').map(|row| row.split('\u{1f}').map(str::to_owned).collect()).collect()
}

/// Rows of `athenaq query --local DIR SQL`, in the same form.
fn local_rows(dir: &Path, sql: &str) -> Vec<Vec<String>> {
    let out = Command::new(env!("CARGO_BIN_EXE_athenaq"))
        .args(["--format", "json", "query", "--local"])
        .arg(dir)
        .arg(sql)
        .output()
        .unwrap();
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let row: serde_json::Map<String, serde_json::Value> = serde_json::from_str(l).unwrap();
            row.values()
                .map(|v| match v {
                    serde_json::Value::Null => NULL.to_owned(),
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

fn count(pg: &Postgres, database: &str, table: &str) -> u64 {
    pg.psql(database, &format!("SELECT count(*) FROM {table}")).parse().unwrap()
}

#[test]
fn the_sample_loads_with_its_types_and_exact_values_and_reruns_safely() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let facts = write_sample(dir.path(), SampleSpec::default()).unwrap();
    let latest = &facts[1];
    let local = dir.path().to_str().unwrap();
    let url = pg.url("postgres");

    let run = rehydrate(&[&latest.export_id, "--local", local, "--into", &url], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    for (table, rows) in &latest.rows {
        let proof = run.table(&format!("pams.public.{table}"));
        assert_eq!(proof["status"], "loaded", "{proof}");
        assert_eq!(proof["rows_expected"].as_u64(), Some(*rows), "{proof}");
        assert_eq!(proof["rows_loaded"].as_u64(), Some(*rows), "{proof}");
        assert_eq!(proof["into"], format!("public.{table}"));
        assert_eq!(count(&pg, "postgres", &format!("public.{table}")), *rows);
    }
    assert!(run.stderr.contains("events.tags"), "a note names the array column: {}", run.stderr);

    // The original types, in the original column order.
    let types = |table: &str| {
        pg.psql(
            "postgres",
            &format!(
                "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) \
                 FROM pg_attribute WHERE attrelid = 'public.{table}'::regclass AND attnum > 0"
            ),
        )
    };
    assert_eq!(
        types("orders"),
        "id bigint, customer_id bigint, status text, total numeric, placed_at timestamp without time zone, \
         note text, channel text"
    );
    assert_eq!(
        types("customers"),
        "id bigint, name text, email text, country text, created_at timestamp with time zone, vip boolean, \
         score double precision"
    );
    assert_eq!(types("events"), "id uuid, payload jsonb, tags text, raw bytea, happened_on date");
    assert_eq!(types("order_items"), "order_id bigint, line integer, sku text, quantity smallint, unit_price numeric");

    // Exact values: numeric sums to the cent, NULL apart from empty, text, bytes and instants
    // as the export holds them.
    let total = pg.psql("postgres", "SELECT sum(total) FROM orders");
    let cents = latest.orders_total_cents;
    assert_eq!(total, format!("{}.{:02}", cents / 100, cents % 100));
    assert_eq!(
        pg.psql("postgres", "SELECT count(*) FROM orders WHERE note IS NULL"),
        latest.orders_with_null_note.to_string()
    );
    assert_eq!(
        pg.psql("postgres", "SELECT count(*) FROM orders WHERE note = ''"),
        latest.orders_with_empty_note.to_string()
    );
    let snapshot = format!("snapshot_date = '{}'", latest.snapshot_date);
    assert_eq!(
        psql_rows(
            &pg,
            "postgres",
            "SELECT id, name, email, vip, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00' FROM customers ORDER BY id"
        ),
        local_rows(
            dir.path(),
            &format!(
                "SELECT id, name, email, CASE WHEN vip THEN 't' WHEN NOT vip THEN 'f' END, created_at FROM pams_public_customers WHERE {snapshot} ORDER BY id"
            )
        ),
    );
    assert_eq!(
        psql_rows(&pg, "postgres", "SELECT id::text, payload::text, encode(raw, 'hex'), happened_on::text FROM events ORDER BY id"),
        local_rows(dir.path(), &format!("SELECT id, payload, encode(raw, 'hex'), happened_on FROM pams_public_events WHERE {snapshot} ORDER BY id"))
            .into_iter()
            // jsonb prints its keys in its own order and spacing; compare it as jsonb would.
            .map(|mut row| {
                row[1] = pg.psql("postgres", &format!("SELECT '{}'::jsonb::text", row[1].replace('\'', "''")));
                row
            })
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        psql_rows(
            &pg,
            "postgres",
            "SELECT id, to_char(placed_at, 'YYYY-MM-DD HH24:MI:SS'), total::text, note FROM orders ORDER BY id"
        ),
        local_rows(
            dir.path(),
            &format!("SELECT id, placed_at, total, note FROM pams_public_orders WHERE {snapshot} ORDER BY id")
        ),
    );

    // A second run finds every table loaded, and changes nothing.
    let again = rehydrate(&[&latest.export_id, "--local", local, "--into", &url], &[]);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(again.rows.iter().all(|r| r["status"] == "already loaded"), "{:?}", again.rows);

    // A partial table is emptied and loaded again, with no row doubled.
    pg.psql("postgres", "DELETE FROM orders WHERE id > 400");
    let reload = rehydrate(&[&latest.export_id, "--local", local, "--into", &url, "--table", "public.orders"], &[]);
    assert_eq!(reload.code, Some(0), "{}", reload.stderr);
    assert_eq!(reload.rows.len(), 1, "{:?}", reload.rows);
    assert!(reload.status("pams.public.orders").starts_with("reloaded"), "{:?}", reload.rows);
    assert_eq!(pg.psql("postgres", "SELECT count(*) = count(DISTINCT id) AND count(*) = 1000 FROM orders"), "t");
}

/// A table whose name and columns need quoting everywhere.
fn odd_columns_table(target: &str) -> TableSpec {
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("select", Arc::new(Int32Array::from(vec![Some(1), None, Some(3)]))),
        ("naïve \"q\"", Arc::new(StringArray::from(vec![Some("ä"), Some(""), None]))),
        ("Größe", Arc::new(StringArray::from(vec![Some("12345678901234567890.123456789"), Some("-0.5"), None]))),
    ];
    TableSpec {
        target: target.into(),
        columns: vec![
            column("select", "integer", "INT32"),
            column("naïve \"q\"", "text", "STRING"),
            column("Größe", "numeric", "STRING"),
        ],
        parts: vec![RecordBatch::try_from_iter(columns).unwrap()],
    }
}

#[test]
fn odd_identifiers_schema_only_and_a_damaged_part_that_commits_nothing() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let written = export_of(
        dir.path(),
        "odd-stack-prod",
        vec![numbered_table("shop.Sales Dept.order lines", "text", 4, 5_000), odd_columns_table("shop.public.user")],
    );
    let local = dir.path().to_str().unwrap();
    let url = pg.url("postgres");

    let schema_only = rehydrate(&[&written.export_id, "--local", local, "--into", &url, "--schema-only"], &[]);
    assert_eq!(schema_only.code, Some(0), "{}", schema_only.stderr);
    assert_eq!(schema_only.status("shop.Sales Dept.order lines"), "created (schema only)");
    assert_eq!(count(&pg, "postgres", "\"Sales Dept\".\"order lines\""), 0);
    assert_eq!(
        pg.psql("postgres", "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'public.\"user\"'::regclass AND attnum > 0"),
        "select integer, naïve \"q\" text, Größe numeric"
    );

    let loaded = rehydrate(&[&written.export_id, "--local", local, "--into", &url], &[]);
    assert_eq!(loaded.code, Some(0), "{}", loaded.stderr);
    assert_eq!(count(&pg, "postgres", "\"Sales Dept\".\"order lines\""), 20_000);
    assert_eq!(
        psql_rows(
            &pg,
            "postgres",
            "SELECT \"select\", \"naïve \"\"q\"\"\", \"Größe\"::text FROM public.\"user\" ORDER BY \"select\" NULLS LAST"
        ),
        vec![
            vec!["1".to_owned(), "ä".into(), "12345678901234567890.123456789".into()],
            vec!["3".to_owned(), NULL.into(), NULL.into()],
            vec![NULL.to_owned(), "".into(), "-0.5".into()],
        ]
    );

    // A part damaged after three good ones: the table's load rolls back whole, the run says
    // which table, exits 1, and the other table is not held back.
    pg.psql("postgres", "DROP SCHEMA \"Sales Dept\" CASCADE; DROP TABLE public.\"user\"");
    let (_, parts) = written.parts.iter().find(|(t, _)| t.contains("order lines")).unwrap();
    damage(&parts[3]);
    let damaged = rehydrate(&[&written.export_id, "--local", local, "--into", &url], &[]);
    assert_eq!(damaged.code, Some(1), "{}", damaged.stderr);
    let status = damaged.status("shop.Sales Dept.order lines");
    assert!(status.starts_with("failed"), "{status}");
    assert!(status.contains("rolled back") && status.contains("part file"), "{status}");
    assert_eq!(count(&pg, "postgres", "\"Sales Dept\".\"order lines\""), 0, "nothing half-committed");
    assert_eq!(damaged.status("shop.public.user"), "loaded");
}

#[test]
fn errors_name_what_is_wrong_and_never_print_the_password() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let facts = write_sample(dir.path(), SampleSpec { orders: 100, customers: 10 }).unwrap();
    let id = facts[1].export_id.as_str();
    let local = dir.path().to_str().unwrap();
    let port = pg.port;

    // Wrong credentials, from the URL or from PGPASSWORD.
    let wrong = rehydrate(
        &[id, "--local", local, "--into", &format!("postgresql://postgres:hunter2@127.0.0.1:{port}/postgres")],
        &[],
    );
    assert_eq!(wrong.code, Some(1));
    assert!(wrong.stderr.contains("password") && wrong.stderr.contains("127.0.0.1"), "{}", wrong.stderr);
    assert!(!wrong.stderr.contains("hunter2"), "{}", wrong.stderr);
    let no_password = format!("postgresql://postgres@127.0.0.1:{port}/postgres");
    let wrong_env = rehydrate(&[id, "--local", local, "--into", &no_password], &[("PGPASSWORD", "hunter2")]);
    assert_eq!(wrong_env.code, Some(1));
    assert!(wrong_env.stderr.contains("PGPASSWORD") && !wrong_env.stderr.contains("hunter2"), "{}", wrong_env.stderr);

    // The password from ~/.pgpass (PGPASSFILE), which must be private to its owner.
    let pgpass = dir.path().join("pgpass");
    std::fs::write(&pgpass, format!("127.0.0.1:{port}:*:postgres:{PASSWORD}\n")).unwrap();
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let from_file = rehydrate(
        &[id, "--local", local, "--into", &no_password, "--table", "public.customers"],
        &[("PGPASSFILE", pgpass.to_str().unwrap())],
    );
    assert_eq!(from_file.code, Some(0), "{}", from_file.stderr);

    // Nobody listening.
    let closed = s3exports_testkit::moto::free_port();
    let unreachable = rehydrate(
        &[id, "--local", local, "--into", &format!("postgresql://postgres:x@127.0.0.1:{closed}/postgres")],
        &[],
    );
    assert_eq!(unreachable.code, Some(1));
    assert!(unreachable.stderr.contains(&format!("127.0.0.1:{closed}")), "{}", unreachable.stderr);

    // A table of another shape is left alone unless --drop-existing.
    pg.psql(
        "postgres",
        "CREATE TABLE public.orders (id integer, kept text); INSERT INTO public.orders VALUES (1, 'mine')",
    );
    let url = pg.url("postgres");
    let clash = rehydrate(&[id, "--local", local, "--into", &url, "--table", "public.orders"], &[]);
    assert_eq!(clash.code, Some(1), "{}", clash.stderr);
    assert!(clash.status("pams.public.orders").contains("--drop-existing"), "{:?}", clash.rows);
    assert_eq!(pg.psql("postgres", "SELECT kept FROM public.orders"), "mine");
    let replaced =
        rehydrate(&[id, "--local", local, "--into", &url, "--table", "public.orders", "--drop-existing"], &[]);
    assert_eq!(replaced.code, Some(0), "{}", replaced.stderr);
    assert_eq!(count(&pg, "postgres", "public.orders"), 100);

    // A table that is not in the export, and one RDS skipped.
    let missing = rehydrate(&[id, "--local", local, "--into", &url, "--table", "public.nope"], &[]);
    assert_eq!(missing.code, Some(1));
    assert!(
        missing.stderr.contains("public.nope") && missing.stderr.contains("pams.public.orders"),
        "{}",
        missing.stderr
    );
    let skipped_dir = tempfile::tempdir().unwrap();
    let snapshot_time =
        chrono::DateTime::parse_from_rfc3339("2026-11-20T05:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let skipped_export = write_export(
        skipped_dir.path(),
        &ExportSpec {
            instance: "odd-stack-prod".into(),
            bucket: "odd".into(),
            snapshot_time,
            tables: vec![numbered_table("shop.public.kept", "text", 1, 10)],
            notes: vec![TableStatus {
                target: "shop.public.huge".into(),
                status: "SKIPPED".into(),
                warning_message: Some("Table has a row larger than 2 GB".into()),
                ..TableStatus::default()
            }],
        },
    )
    .unwrap();
    let skipped = rehydrate(
        &[
            &skipped_export.export_id,
            "--local",
            skipped_dir.path().to_str().unwrap(),
            "--into",
            &url,
            "--table",
            "public.huge",
        ],
        &[],
    );
    assert_eq!(skipped.code, Some(1));
    assert!(
        skipped.stderr.contains("did not export table shop.public.huge") && skipped.stderr.contains("2 GB"),
        "{}",
        skipped.stderr
    );

    // No export_tables_info: nothing to take the types from.
    for file in std::fs::read_dir(&skipped_export.root).unwrap() {
        let path = file.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("export_tables_info") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let no_info =
        rehydrate(&[&skipped_export.export_id, "--local", skipped_dir.path().to_str().unwrap(), "--into", &url], &[]);
    assert_eq!(no_info.code, Some(1));
    assert!(no_info.stderr.contains("export_tables_info"), "{}", no_info.stderr);

    // A MySQL export is not loaded into PostgreSQL.
    let my = tempfile::tempdir().unwrap();
    let mysql = s3exports_testkit::mysql_sample::write_mysql_sample(my.path(), 5).unwrap();
    let engine = rehydrate(&[&mysql.export_id, "--local", my.path().to_str().unwrap(), "--into", &url], &[]);
    assert_eq!(engine.code, Some(1));
    assert!(engine.stderr.contains("mysql://"), "{}", engine.stderr);
}
