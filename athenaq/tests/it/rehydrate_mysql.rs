//! `athenaq rehydrate` into a real MariaDB (started by the test, stopped at its end): the
//! MySQL-flavoured sample with MySQL's types and exact values, reruns, a damaged part, schema
//! only, odd identifiers, and the errors a user meets; two runs at once, what "already loaded"
//! takes, values the original type cannot hold, and TLS.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use crate::rehydrating::{
    damage, export_of, labelled_table, numbered_table, one_column_table, rehydrate, rehydrate_at_once,
};
use datafusion::arrow::array::{ArrayRef, Decimal128Array, Float64Array, Int32Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use s3exports_rds::layout::TypeMapping;
use s3exports_testkit::databases::{MARIADB_USER, MariaDb, PASSWORD};
use s3exports_testkit::export_writer::{TableSpec, column};
use s3exports_testkit::mysql_sample::write_mysql_sample;

/// One value of `athenaq query --local DIR SQL` (the first column of the first row).
fn local_value(dir: &Path, sql: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_athenaq"))
        .args(["--format", "csv", "query", "--local"])
        .arg(dir)
        .arg(sql)
        .output()
        .unwrap();
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().nth(1).unwrap_or_default().to_owned()
}

fn sql(db: &MariaDb, query: &str) -> String {
    db.sql_as_root(&format!("SET time_zone = '+00:00'; {query}"))
}

#[test]
fn the_mysql_sample_loads_with_its_types_and_exact_values_and_reruns_safely() {
    let db = MariaDb::start();
    let dir = tempfile::tempdir().unwrap();
    let facts = write_mysql_sample(dir.path(), 2_000).unwrap();
    let local = dir.path().to_str().unwrap();
    let url = db.url("");

    let run = rehydrate(&[&facts.export_id, "--local", local, "--into", &url], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let orders = run.table("maxone.orders");
    assert_eq!((orders["status"].as_str(), orders["rows_loaded"].as_u64()), (Some("loaded"), Some(2_000)), "{orders}");
    assert_eq!(orders["into"], "maxone.orders");
    // RDS wrote no part file for the empty table; it is created all the same.
    assert_eq!(run.status("maxone.archived_orders"), "loaded");
    assert_eq!(sql(&db, "SELECT COUNT(*) FROM maxone.archived_orders"), "0");
    for column in ["status", "big_total", "delta"] {
        assert!(run.stderr.contains(&format!("maxone.orders.{column}:")), "a note on {column}: {}", run.stderr);
    }

    // MySQL's types, in the original column order.
    assert_eq!(
        sql(
            &db,
            "SELECT GROUP_CONCAT(CONCAT(COLUMN_NAME, ' ', COLUMN_TYPE) ORDER BY ORDINAL_POSITION SEPARATOR ', ') FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'maxone' AND TABLE_NAME = 'orders'"
        ),
        "id bigint(20), customer_id int(10) unsigned, status varchar(9), total decimal(12,2), big_total varchar(42), \
         placed_at datetime, paid_at datetime(6), updated timestamp, shipped_on date, slot time, gift tinyint(1), \
         tiny tinyint(3) unsigned, delta mediumint(9), note varchar(200), code char(8), payload longtext, raw blob, \
         serial bigint(20) unsigned, score double, ratio float, yr year(4), flags bit(8)"
    );

    // Exact values: decimals to the cent, NULL apart from empty, bytes, microseconds.
    let cents = facts.total_cents;
    let sign = if cents < 0 { "-" } else { "" };
    assert_eq!(
        sql(&db, "SELECT SUM(total) FROM maxone.orders"),
        format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
    );
    assert_eq!(
        sql(&db, "SELECT SUM(note IS NULL), SUM(note = '') FROM maxone.orders"),
        format!("{}\t{}", facts.null_notes, facts.empty_notes)
    );
    assert_eq!(
        sql(&db, "SELECT SUM(LENGTH(raw)), SUM(raw IS NULL) FROM maxone.orders"),
        format!("{}\t{}", facts.raw_bytes, facts.null_raw)
    );
    let table = format!("FROM maxone_orders WHERE export_id = '{}'", facts.export_id);
    for (mysql, local) in [
        ("SUM(UNIX_TIMESTAMP(placed_at))", "sum(arrow_cast(placed_at, 'Int64') / 1000000)"),
        ("SUM(MICROSECOND(paid_at))", "sum(arrow_cast(paid_at, 'Int64') % 1000000)"),
        ("SUM(UNIX_TIMESTAMP(updated))", "sum(arrow_cast(updated, 'Int64') / 1000000)"),
        ("SUM(LENGTH(note))", "sum(octet_length(note))"),
        ("SUM(CHAR_LENGTH(note))", "sum(character_length(note))"),
        ("COUNT(DISTINCT big_total)", "count(DISTINCT big_total)"),
        ("SUM(shipped_on IS NULL)", "sum(CASE WHEN shipped_on IS NULL THEN 1 ELSE 0 END)"),
        ("SUM(gift) + SUM(tiny) + SUM(delta) + SUM(yr)", "sum(gift) + sum(tiny) + sum(delta) + sum(yr)"),
    ] {
        let expected = local_value(dir.path(), &format!("SELECT {local} {table}"));
        assert_eq!(sql(&db, &format!("SELECT {mysql} FROM maxone.orders")), expected, "{mysql}");
    }
    // The first rows hold the edges of their types.
    assert_eq!(
        sql(&db, "SELECT customer_id, tiny, delta, serial, yr FROM maxone.orders WHERE id = 1"),
        "4294967295\t255\t-32768\t18446744073709551615\t2026"
    );
    assert_eq!(sql(&db, "SELECT slot, yr, score FROM maxone.orders WHERE id = 2"), "838:59:59\t1901\t1e300");
    assert_eq!(sql(&db, "SELECT CAST(shipped_on AS CHAR) FROM maxone.orders WHERE id = 3"), "0000-00-00");
    assert_eq!(sql(&db, "SELECT HEX(code) FROM maxone.orders WHERE id = 2"), hex(b"C-000002"));
    assert_eq!(sql(&db, "SELECT HEX(raw) FROM maxone.orders WHERE id = 2").get(..12), Some("00090A5CFF4E"));
    assert_eq!(
        sql(&db, "SELECT COUNT(*) FROM maxone.orders WHERE note LIKE 'Grüße, 東京 🎁%'"),
        local_value(dir.path(), &format!("SELECT count(*) {table} AND note LIKE 'Grüße, 東京 🎁%'"))
    );
    assert_eq!(
        sql(&db, "SELECT COUNT(*) FROM maxone.orders WHERE note LIKE '\\\\\\\\N is not NULL%'"),
        local_value(dir.path(), &format!("SELECT count(*) {table} AND starts_with(note, '\\N is')"))
    );

    // A second run (the password from MYSQL_PWD) finds the tables loaded and changes nothing.
    let no_password = format!("mysql://{MARIADB_USER}@127.0.0.1:{}/", db.port);
    let again = rehydrate(&[&facts.export_id, "--local", local, "--into", &no_password], &[("MYSQL_PWD", PASSWORD)]);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(again.rows.iter().all(|r| r["status"] == "already loaded"), "{:?}", again.rows);

    // A partial table is emptied and loaded again, with no row doubled.
    sql(&db, "DELETE FROM maxone.orders WHERE id > 1500");
    let reload = rehydrate(&[&facts.export_id, "--local", local, "--into", &url, "--table", "orders"], &[]);
    assert_eq!(reload.code, Some(0), "{}", reload.stderr);
    assert!(reload.status("maxone.orders").starts_with("reloaded"), "{:?}", reload.rows);
    assert_eq!(sql(&db, "SELECT COUNT(*), COUNT(DISTINCT id) FROM maxone.orders"), "2000\t2000");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn sized(mut m: TypeMapping, length: i64) -> TypeMapping {
    m.original_char_max_length = Some(length);
    m
}

#[test]
fn odd_identifiers_schema_only_and_a_damaged_part_that_commits_nothing() {
    let db = MariaDb::start();
    let dir = tempfile::tempdir().unwrap();
    let odd_columns: Vec<(&str, ArrayRef)> = vec![
        ("select", Arc::new(Int32Array::from(vec![Some(1), None, Some(3)]))),
        ("naïve `q` \"x\"", Arc::new(StringArray::from(vec![Some("ä"), Some(""), None]))),
        (
            "Größe",
            Arc::new(
                Decimal128Array::from(vec![Some(123_456_789_012_345_678_901_234_567_i128), Some(-500_000_000), None])
                    .with_precision_and_scale(30, 9)
                    .unwrap(),
            ),
        ),
    ];
    let odd = TableSpec {
        target: "Shop Floor.select".into(),
        columns: vec![
            column("select", "int", "INT32"),
            sized(column("naïve `q` \"x\"", "varchar", "STRING"), 10),
            column("Größe", "decimal", "DECIMAL(30,9)"),
        ],
        parts: vec![RecordBatch::try_from_iter(odd_columns).unwrap()],
    };
    let lines = {
        let mut t = numbered_table("Shop Floor.order lines", "longtext", 4, 5_000);
        t.columns[1] = column("label", "longtext", "STRING");
        t
    };
    let written = export_of(dir.path(), "odd-stack-prod", vec![lines, odd]);
    let local = dir.path().to_str().unwrap();
    let url = db.url("");

    let schema_only = rehydrate(&[&written.export_id, "--local", local, "--into", &url, "--schema-only"], &[]);
    assert_eq!(schema_only.code, Some(0), "{}", schema_only.stderr);
    assert_eq!(schema_only.status("Shop Floor.order lines"), "created (schema only)");
    assert_eq!(sql(&db, "SELECT COUNT(*) FROM `Shop Floor`.`order lines`"), "0");
    assert_eq!(
        sql(
            &db,
            "SELECT GROUP_CONCAT(CONCAT(COLUMN_NAME, ' ', COLUMN_TYPE) ORDER BY ORDINAL_POSITION SEPARATOR ', ') FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'Shop Floor' AND TABLE_NAME = 'select'"
        ),
        "select int(11), naïve `q` \"x\" varchar(10), Größe decimal(30,9)"
    );

    let loaded = rehydrate(&[&written.export_id, "--local", local, "--into", &url], &[]);
    assert_eq!(loaded.code, Some(0), "{}", loaded.stderr);
    assert_eq!(sql(&db, "SELECT COUNT(*), COUNT(DISTINCT id) FROM `Shop Floor`.`order lines`"), "20000\t20000");
    assert_eq!(
        sql(
            &db,
            "SELECT `select`, HEX(`naïve ``q`` \"x\"`), `Größe` FROM `Shop Floor`.`select` ORDER BY `select` IS NULL, `select`"
        ),
        "1\tC3A4\t123456789012345678.901234567\n3\tNULL\tNULL\nNULL\t\t-0.500000000"
    );

    // A part damaged after three good ones: that table's load rolls back whole, the run says
    // which part, exits 1, and the other table is not held back.
    sql(&db, "DROP DATABASE `Shop Floor`");
    let (_, parts) = written.parts.iter().find(|(t, _)| t.contains("order lines")).unwrap();
    damage(&parts[3]);
    let damaged = rehydrate(&[&written.export_id, "--local", local, "--into", &url], &[]);
    assert_eq!(damaged.code, Some(1), "{}", damaged.stderr);
    let status = damaged.status("Shop Floor.order lines");
    assert!(status.starts_with("failed") && status.contains("rolled back") && status.contains("part file"), "{status}");
    assert_eq!(sql(&db, "SELECT COUNT(*) FROM `Shop Floor`.`order lines`"), "0", "nothing half-committed");
    assert_eq!(damaged.status("Shop Floor.select"), "loaded");
}

#[test]
fn errors_name_what_is_wrong_and_never_print_the_password() {
    let db = MariaDb::start();
    let dir = tempfile::tempdir().unwrap();
    let facts = write_mysql_sample(dir.path(), 50).unwrap();
    let local = dir.path().to_str().unwrap();
    let port = db.port;

    let wrong = rehydrate(
        &[&facts.export_id, "--local", local, "--into", &format!("mysql://{MARIADB_USER}:hunter2@127.0.0.1:{port}/")],
        &[],
    );
    assert_eq!(wrong.code, Some(1));
    assert!(wrong.stderr.contains("password") && wrong.stderr.contains("127.0.0.1"), "{}", wrong.stderr);
    assert!(!wrong.stderr.contains("hunter2"), "{}", wrong.stderr);
    let wrong_env = rehydrate(
        &[&facts.export_id, "--local", local, "--into", &format!("mysql://{MARIADB_USER}@127.0.0.1:{port}/")],
        &[("MYSQL_PWD", "hunter2")],
    );
    assert_eq!(wrong_env.code, Some(1));
    assert!(wrong_env.stderr.contains("MYSQL_PWD") && !wrong_env.stderr.contains("hunter2"), "{}", wrong_env.stderr);

    let closed = s3exports_testkit::moto::free_port();
    let unreachable =
        rehydrate(&[&facts.export_id, "--local", local, "--into", &format!("mysql://u:p@127.0.0.1:{closed}/")], &[]);
    assert_eq!(unreachable.code, Some(1));
    assert!(unreachable.stderr.contains(&format!("127.0.0.1:{closed}")), "{}", unreachable.stderr);

    sql(
        &db,
        "CREATE DATABASE maxone; CREATE TABLE maxone.orders (id int, kept text); INSERT INTO maxone.orders VALUES (1, 'mine')",
    );
    let url = db.url("");
    let clash = rehydrate(&[&facts.export_id, "--local", local, "--into", &url, "--table", "maxone.orders"], &[]);
    assert_eq!(clash.code, Some(1), "{}", clash.stderr);
    assert!(clash.status("maxone.orders").contains("--drop-existing"), "{:?}", clash.rows);
    assert_eq!(sql(&db, "SELECT kept FROM maxone.orders"), "mine");
    let replaced =
        rehydrate(&[&facts.export_id, "--local", local, "--into", &url, "--table", "orders", "--drop-existing"], &[]);
    assert_eq!(replaced.code, Some(0), "{}", replaced.stderr);
    assert_eq!(sql(&db, "SELECT COUNT(*) FROM maxone.orders"), "50");
}

#[test]
fn two_rehydrates_at_once_load_a_table_once() {
    // Each counted inside its own transaction and both loaded: every row twice.
    let db = MariaDb::start();
    let dir = tempfile::tempdir().unwrap();
    let written = export_of(dir.path(), "race-stack-prod", vec![numbered_table("shop.big", "longtext", 4, 25_000)]);
    let runs =
        rehydrate_at_once(&[&written.export_id, "--local", dir.path().to_str().unwrap(), "--into", &db.url("")], 2);
    let mut statuses: Vec<String> = runs.iter().map(|r| r.status("shop.big")).collect();
    statuses.sort();
    assert_eq!(statuses, ["already loaded", "loaded"], "{}\n{}", runs[0].stderr, runs[1].stderr);
    assert!(runs.iter().all(|r| r.code == Some(0)));
    assert_eq!(sql(&db, "SELECT COUNT(*), COUNT(DISTINCT id) FROM shop.big"), "100000\t100000");
}

#[test]
fn already_loaded_means_this_export_unchanged_never_a_count_or_a_view() {
    let db = MariaDb::start();
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = export_of(one.path(), "items-stack-prod", vec![labelled_table("shop.items", "longtext", "first", 100)]);
    let second =
        export_of(two.path(), "items-stack-dev", vec![labelled_table("shop.items", "longtext", "second", 100)]);
    let url = db.url("");
    let load = |written: &s3exports_testkit::export_writer::Written, dir: &Path, more: &[&str]| {
        let mut args = vec![written.export_id.as_str(), "--local", dir.to_str().unwrap(), "--into", url.as_str()];
        args.extend_from_slice(more);
        rehydrate(&args, &[])
    };
    assert_eq!(load(&first, one.path(), &[]).status("shop.items"), "loaded");
    let replaced = load(&second, two.path(), &[]);
    assert_eq!(replaced.code, Some(0), "{}", replaced.stderr);
    let status = replaced.status("shop.items");
    assert!(
        status.starts_with("reloaded (had 100 rows: they were export ") && status.contains(&first.export_id),
        "{status}"
    );
    assert_eq!(sql(&db, "SELECT label FROM shop.items WHERE id = 7"), "second 7");
    assert_eq!(load(&second, two.path(), &[]).status("shop.items"), "already loaded");
    sql(&db, "UPDATE shop.items SET label = 'edited' WHERE id = 7");
    let edited = load(&second, two.path(), &[]);
    assert!(edited.status("shop.items").contains("changed since export"), "{:?}", edited.rows);
    assert_eq!(sql(&db, "SELECT label FROM shop.items WHERE id = 7"), "second 7");
    sql(
        &db,
        "CREATE TABLE shop.items_copy AS SELECT * FROM shop.items; DROP TABLE shop.items; \
         CREATE VIEW shop.items AS SELECT id, label FROM shop.items_copy",
    );
    for more in [&[][..], &["--drop-existing"][..]] {
        let view = load(&second, two.path(), more);
        assert_eq!(view.code, Some(1), "{more:?}: {}", view.stderr);
        assert!(view.status("shop.items").contains("is a view, not a table"), "{:?}", view.rows);
    }
    assert_eq!(
        sql(
            &db,
            "SELECT TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'items'"
        ),
        "VIEW"
    );
}

#[test]
fn floats_that_are_doubles_are_refused_and_year_zero_stays_zero() {
    let db = MariaDb::start();
    let dir = tempfile::tempdir().unwrap();
    let tables = vec![
        // AWS's data conversion table (RDS user guide, "MySQL and MariaDB data type mapping to
        // Parquet"): FLOAT is written as DOUBLE.
        one_column_table(
            "shop.floats",
            column("f", "float", "DOUBLE"),
            Arc::new(Float64Array::from(vec![0.25, 16_777_217.0])),
        ),
        one_column_table(
            "shop.fine",
            column("f", "float", "DOUBLE"),
            Arc::new(Float64Array::from(vec![0.1, 16_777_216.0])),
        ),
        one_column_table("shop.years", column("y", "year", "INT32"), Arc::new(Int32Array::from(vec![0, 1901, 2155]))),
    ];
    let written = export_of(dir.path(), "values-stack-prod", tables);
    let run = rehydrate(&[&written.export_id, "--local", dir.path().to_str().unwrap(), "--into", &db.url("")], &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let status = run.status("shop.floats");
    assert!(
        status.starts_with("failed: table shop.floats, column `f`, row 2:")
            && status.contains("not a single-precision"),
        "{status}"
    );
    assert_eq!(sql(&db, "SELECT COUNT(*) FROM shop.floats"), "0");
    assert_eq!(run.status("shop.fine"), "loaded");
    assert_eq!(sql(&db, "SELECT COUNT(*) FROM shop.fine WHERE f = CAST(0.1 AS FLOAT) OR f = 16777216"), "2");
    assert_eq!(run.status("shop.years"), "loaded");
    assert_eq!(sql(&db, "SELECT GROUP_CONCAT(CAST(y AS CHAR) ORDER BY y) FROM shop.years"), "0000,1901,2155");
}

#[test]
fn tls_is_never_dropped_silently() {
    let db = MariaDb::start();
    let dir = tempfile::tempdir().unwrap();
    let facts = write_mysql_sample(dir.path(), 10).unwrap();
    let local = dir.path().to_str().unwrap();
    // No TLS parameter: TLS when offered; this server offers none, and the run says so.
    let plain = rehydrate(&[&facts.export_id, "--local", local, "--into", &db.url(""), "--table", "orders"], &[]);
    assert_eq!(plain.code, Some(0), "{}", plain.stderr);
    assert!(plain.stderr.contains("not encrypted") && plain.stderr.contains("ssl-mode=REQUIRED"), "{}", plain.stderr);
    let asked = rehydrate(
        &[
            &facts.export_id,
            "--local",
            local,
            "--into",
            &format!("{}?ssl-mode=DISABLED", db.url("")),
            "--table",
            "orders",
        ],
        &[],
    );
    assert_eq!(asked.code, Some(0), "{}", asked.stderr);
    assert!(!asked.stderr.contains("not encrypted"), "{}", asked.stderr);
    // Every spelling of "require" refuses this server rather than load in plaintext.
    for query in
        ["ssl-mode=REQUIRED", "sslmode=require", "require_ssl=yes", "require_ssl=TRUE", "ssl-mode=verify_identity"]
    {
        let url = format!("{}?{query}", db.url(""));
        let run = rehydrate(&[&facts.export_id, "--local", local, "--into", &url], &[]);
        assert_eq!(run.code, Some(1), "{query}: {}", run.stderr);
        assert!(run.stderr.contains("offers no TLS") && !run.stderr.contains(PASSWORD), "{query}: {}", run.stderr);
    }
    let unknown = rehydrate(&[&facts.export_id, "--local", local, "--into", &format!("{}?ssl=true", db.url(""))], &[]);
    assert_eq!(unknown.code, Some(1));
    assert!(unknown.stderr.contains("`ssl`") && unknown.stderr.contains("ssl-mode"), "{}", unknown.stderr);
    assert_eq!(sql(&db, "SELECT COUNT(*) FROM maxone.orders"), "10");
}
