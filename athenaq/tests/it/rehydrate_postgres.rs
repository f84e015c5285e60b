//! `athenaq rehydrate` into a real PostgreSQL (started by the test, stopped at its end): the
//! sample export with its original types and exact values, reruns, a damaged part, schema
//! only, odd identifiers, and the errors a user meets; a server in another zone, columns RDS
//! did not export or only some parts have, values the original type cannot hold, two runs at
//! once, and what "already loaded" takes.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use crate::rehydrating::{
    damage, export_of, labelled_table, numbered_table, one_column_table, rehydrate, rehydrate_at_once,
};
use datafusion::arrow::array::{ArrayRef, Float64Array, Int32Array, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use s3exports_rds::layout::{TableStatus, TypeMapping};
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

fn sized(mut m: TypeMapping, length: Option<i64>, fraction: Option<i64>) -> TypeMapping {
    m.original_char_max_length = length;
    m.original_date_time_precision = fraction;
    m
}

fn strings(values: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

#[test]
fn the_session_pins_its_zone_and_date_style_whatever_the_servers_are() {
    // A server whose zone and date order are not the tool's: a timestamptz given as text
    // without an offset is UTC (not 5:30 earlier), a date in M/D/Y order is read as such.
    let pg = Postgres::start_with(&[("timezone", "Asia/Kolkata"), ("datestyle", "SQL,DMY")]);
    let dir = tempfile::tempdir().unwrap();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("at_tz", strings(&["2026-11-20 10:00:00", "2026-11-20 10:00:00.25+00"])),
        ("at", strings(&["2026-11-20 10:00:00.5", "2026-11-20 23:59:59"])),
        ("on_day", strings(&["2026-11-12", "11/12/2026"])),
    ];
    let table = TableSpec {
        target: "shop.public.times".into(),
        columns: vec![
            column("at_tz", "timestamp with time zone", "STRING"),
            column("at", "timestamp without time zone", "STRING"),
            column("on_day", "date", "STRING"),
        ],
        parts: vec![RecordBatch::try_from_iter(columns).unwrap()],
    };
    let written = export_of(dir.path(), "zones-stack-prod", vec![table]);
    let run =
        rehydrate(&[&written.export_id, "--local", dir.path().to_str().unwrap(), "--into", &pg.url("postgres")], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        pg.psql(
            "postgres",
            "SELECT string_agg(to_char(at_tz AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.FF2') || ' ' || \
             to_char(at, 'YYYY-MM-DD HH24:MI:SS.FF1') || ' ' || to_char(on_day, 'YYYY-MM-DD'), ' | ' ORDER BY at) \
             FROM public.times"
        ),
        "2026-11-20 10:00:00.00 2026-11-20 10:00:00.5 2026-11-12 | 2026-11-20 10:00:00.25 2026-11-20 23:59:59.0 2026-11-12"
    );
    // The server has no TLS and the URL did not turn it off: said, not silent.
    assert!(run.stderr.contains("not encrypted") && run.stderr.contains("sslmode=require"), "{}", run.stderr);
}

#[test]
fn columns_rds_did_not_export_and_columns_only_some_parts_have() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    // AWS's "Data conversion when exporting to an Amazon S3 bucket for Amazon RDS" (RDS user
    // guide, PostgreSQL data type mapping to Parquet): object identifier types are N/A, so the
    // metadata lists `owner` and no part file has it.
    let owned = TableSpec {
        target: "shop.public.owned".into(),
        columns: vec![column("id", "bigint", "INT64"), column("owner", "oid", "N/A")],
        parts: vec![
            RecordBatch::try_from_iter(vec![("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef)]).unwrap(),
        ],
    };
    // `added` appears in the second part only.
    let grown = TableSpec {
        target: "shop.public.grown".into(),
        columns: vec![column("id", "bigint", "INT64"), column("added", "text", "STRING")],
        parts: vec![
            RecordBatch::try_from_iter(vec![("id", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef)]).unwrap(),
            RecordBatch::try_from_iter(vec![
                ("id", Arc::new(Int64Array::from(vec![3])) as ArrayRef),
                ("added", strings(&["late"])),
            ])
            .unwrap(),
        ],
    };
    // The parts disagree on `id`'s type.
    let clash = TableSpec {
        target: "shop.public.clash".into(),
        columns: vec![column("id", "bigint", "INT64")],
        parts: vec![
            RecordBatch::try_from_iter(vec![("id", Arc::new(Int64Array::from(vec![1])) as ArrayRef)]).unwrap(),
            RecordBatch::try_from_iter(vec![("id", strings(&["2"]))]).unwrap(),
        ],
    };
    let written = export_of(dir.path(), "columns-stack-prod", vec![owned, grown, clash]);
    let run =
        rehydrate(&[&written.export_id, "--local", dir.path().to_str().unwrap(), "--into", &pg.url("postgres")], &[]);
    assert_eq!(run.code, Some(1), "the clashing table is refused: {}", run.stderr);
    assert_eq!(run.status("shop.public.owned"), "loaded");
    assert!(
        run.stderr.contains("shop.public.owned.owner (oid): in the export's metadata but in no part file"),
        "{}",
        run.stderr
    );
    assert_eq!(
        pg.psql(
            "postgres",
            "SELECT string_agg(attname, ',') FROM pg_attribute WHERE attrelid = 'public.owned'::regclass AND attnum > 0"
        ),
        "id"
    );
    assert_eq!(count(&pg, "postgres", "public.owned"), 3);
    assert_eq!(run.status("shop.public.grown"), "loaded");
    assert_eq!(
        psql_rows(&pg, "postgres", "SELECT id, added FROM public.grown ORDER BY id"),
        vec![vec!["1".to_owned(), NULL.into()], vec!["2".to_owned(), NULL.into()], vec!["3".to_owned(), "late".into()]]
    );
    assert!(run.stderr.contains("shop.public.grown.added: not in 1 of the 2 part files"), "{}", run.stderr);
    let refused = run.status("shop.public.clash");
    let (_, clash_parts) = written.parts.iter().find(|(t, _)| t.ends_with("clash")).unwrap();
    assert!(refused.starts_with("refused: column `id` is Int64 in part file"), "{refused}");
    for part in clash_parts {
        assert!(refused.contains(&part.display().to_string()), "{refused}");
    }
}

#[test]
fn values_the_original_type_cannot_hold_are_refused_naming_table_column_and_row() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let doubles = |v: Vec<f64>| -> ArrayRef { Arc::new(Float64Array::from(v)) };
    let tables = vec![
        one_column_table("shop.public.reals", column("r", "real", "DOUBLE"), doubles(vec![0.5, 16_777_217.0])),
        one_column_table("shop.public.fractions", column("f", "real", "DOUBLE"), doubles(vec![0.123_456_789_012_3])),
        one_column_table(
            "shop.public.stamps",
            sized(column("t", "timestamp without time zone", "STRING"), None, Some(0)),
            strings(&["2026-11-20 10:00:00", "2026-11-20 10:00:00.5"]),
        ),
        one_column_table(
            "shop.public.clocks",
            sized(column("c", "time without time zone", "STRING"), None, Some(0)),
            strings(&["23:59:59.9"]),
        ),
        one_column_table(
            "shop.public.codes",
            sized(column("v", "character varying", "STRING"), Some(3), None),
            strings(&["abc", "ab   "]),
        ),
        one_column_table(
            "shop.public.fine",
            column("r", "real", "DOUBLE"),
            doubles(vec![0.1, 16_777_216.0, f64::from(0.3f32)]),
        ),
    ];
    let written = export_of(dir.path(), "values-stack-prod", tables);
    let run =
        rehydrate(&[&written.export_id, "--local", dir.path().to_str().unwrap(), "--into", &pg.url("postgres")], &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    for (table, column, row, why) in [
        ("reals", "r", 2, "not a single-precision value"),
        ("fractions", "f", 1, "not a single-precision value"),
        ("stamps", "t", 2, "would be rounded"),
        ("clocks", "c", 1, "would be rounded"),
        ("codes", "v", 2, "trailing spaces"),
    ] {
        let status = run.status(&format!("shop.public.{table}"));
        assert!(
            status.starts_with("failed: table shop.public.")
                && status.contains(&format!("column `{column}`, row {row}:"))
                && status.contains(why),
            "{table}: {status}"
        );
        assert_eq!(count(&pg, "postgres", &format!("public.{table}")), 0, "{table}: nothing kept");
    }
    assert_eq!(run.status("shop.public.fine"), "loaded");
    assert_eq!(
        pg.psql("postgres", "SELECT count(*) FROM public.fine WHERE r IN (0.1::real, 16777216::real, 0.3::real)"),
        "3"
    );
}

#[test]
fn two_rehydrates_at_once_load_a_table_once_and_a_held_lock_is_waited_for_then_refused() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    // A schema that does not exist yet: both runs would create it and the table at once.
    let written = export_of(dir.path(), "race-stack-prod", vec![numbered_table("shop.fresh.big", "text", 4, 25_000)]);
    let local = dir.path().to_str().unwrap();
    let url = pg.url("postgres");
    let runs = rehydrate_at_once(&[&written.export_id, "--local", local, "--into", &url], 2);
    let mut statuses: Vec<String> = runs.iter().map(|r| r.status("shop.fresh.big")).collect();
    statuses.sort();
    assert_eq!(statuses, ["already loaded", "loaded"], "{}\n{}", runs[0].stderr, runs[1].stderr);
    assert!(runs.iter().all(|r| r.code == Some(0)));
    assert_eq!(pg.psql("postgres", "SELECT count(*), count(DISTINCT id) FROM fresh.big"), "100000|100000");

    // Another session holds the table's lock: the run waits its --lock-wait, then says so.
    let key = s3exports_rehydrate::lock_key(&["postgres", "fresh", "big"]);
    let mut holder = Command::new(pg.bin().join("psql"))
        .args(["-X", "-q", "-h", "127.0.0.1", "-U", "postgres", "-p", &pg.port.to_string(), "-d", "postgres", "-c"])
        .arg(format!("SELECT pg_advisory_lock({key}), pg_sleep(8)"))
        .env("PGPASSWORD", PASSWORD)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let waited = rehydrate(&[&written.export_id, "--local", local, "--into", &url, "--lock-wait", "1"], &[]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(waited.code, Some(1), "{}", waited.stderr);
    let status = waited.status("shop.fresh.big");
    assert!(status.contains("held its lock for 1 s") && status.contains("--lock-wait"), "{status}");
    assert!(waited.stderr.contains("another load of this table is under way"), "{}", waited.stderr);
}

#[test]
fn already_loaded_means_this_export_unchanged_never_a_count_or_a_view() {
    let pg = Postgres::start();
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first =
        export_of(one.path(), "items-stack-prod", vec![labelled_table("shop.public.items", "text", "first", 100)]);
    let second =
        export_of(two.path(), "items-stack-dev", vec![labelled_table("shop.public.items", "text", "second", 100)]);
    let url = pg.url("postgres");
    let load = |written: &s3exports_testkit::export_writer::Written, dir: &Path, more: &[&str]| {
        let mut args = vec![written.export_id.as_str(), "--local", dir.to_str().unwrap(), "--into", url.as_str()];
        args.extend_from_slice(more);
        rehydrate(&args, &[])
    };
    assert_eq!(load(&first, one.path(), &[]).status("shop.public.items"), "loaded");
    // Another export of the table with the same count replaces the first's rows.
    let replaced = load(&second, two.path(), &[]);
    assert_eq!(replaced.code, Some(0), "{}", replaced.stderr);
    let status = replaced.status("shop.public.items");
    assert!(
        status.starts_with("reloaded (had 100 rows: they were export ") && status.contains(&first.export_id),
        "{status}"
    );
    assert_eq!(pg.psql("postgres", "SELECT label FROM public.items WHERE id = 7"), "second 7");
    assert_eq!(load(&second, two.path(), &[]).status("shop.public.items"), "already loaded");
    // A row edited by hand: the count is the same, the table is not the load's any more.
    pg.psql("postgres", "UPDATE public.items SET label = 'edited' WHERE id = 7");
    let edited = load(&second, two.path(), &[]);
    assert!(edited.status("shop.public.items").contains("changed since export"), "{:?}", edited.rows);
    assert_eq!(pg.psql("postgres", "SELECT label FROM public.items WHERE id = 7"), "second 7");
    // A view with the export's columns and count is never the loaded table, nor dropped.
    pg.psql(
        "postgres",
        "CREATE TABLE public.items_copy AS SELECT * FROM public.items; DROP TABLE public.items; \
         CREATE VIEW public.items AS SELECT id, label FROM public.items_copy",
    );
    for more in [&[][..], &["--drop-existing"][..]] {
        let view = load(&second, two.path(), more);
        assert_eq!(view.code, Some(1), "{more:?}: {}", view.stderr);
        assert!(view.status("shop.public.items").contains("is a view, not a table"), "{:?}", view.rows);
    }
    assert_eq!(pg.psql("postgres", "SELECT relkind FROM pg_class WHERE oid = 'public.items'::regclass"), "v");
}
