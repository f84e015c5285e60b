//! PostgreSQL: connect (TLS as `sslmode` says; the session's zone and date style pinned),
//! read an existing table's shape, create schemas and tables, and load with `COPY ... FROM
//! STDIN` in the text format, inside a transaction that also records what was loaded.
//!
//! Loads of one table are serialized by a session advisory lock keyed on the table, so two
//! rehydrates at once never both create or fill it; the record of a load (export, fingerprint,
//! the table's oid and the loading transaction's id) lives in `athenaq_rehydrate.loads`,
//! written in the load's own transaction, so it exists exactly when the rows do.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::SinkExt;
use tokio::sync::mpsc;
use tokio_postgres::{Client, NoTls};

use crate::load::{Provenance, Recorded, Shape};
use crate::schema::ColumnPlan;
use crate::target::{Target, Tls};
use crate::{LoadError, Loaded, lock_key};

/// The schema of the bookkeeping table, in the target database.
pub const BOOKKEEPING_SCHEMA: &str = "athenaq_rehydrate";
const BOOKKEEPING: &str = "\"athenaq_rehydrate\".\"loads\"";

/// The session every load runs in. Values are written as UTC wall times and ISO dates: a
/// `timestamptz` given as text without an offset is read in the session's zone, an ambiguous
/// date (`01/02/2026`) by its DateStyle, and a negative interval by its IntervalStyle, so none
/// may be the server's or the role's default (a server in `Asia/Kolkata` would shift every such
/// timestamp by 5:30).
const SESSION: &str = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'";

/// `"name"` with inner quotes doubled: any name works, spaces, quotes, reserved words and
/// non-ASCII letters included.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub fn qualified(schema: &str, table: &str) -> String {
    format!("{}.{}", quote(schema), quote(table))
}

pub async fn connect(target: &Target) -> Result<Client, LoadError> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&target.host)
        .port(target.port)
        .user(&target.user)
        .dbname(&target.database)
        .application_name("athenaq rehydrate")
        .connect_timeout(std::time::Duration::from_secs(15));
    if let Some(p) = target.password() {
        config.password(p);
    }
    config.ssl_mode(match target.tls {
        Tls::Disable => tokio_postgres::config::SslMode::Disable,
        Tls::Prefer => tokio_postgres::config::SslMode::Prefer,
        Tls::Require => tokio_postgres::config::SslMode::Require,
    });
    let failed = |e: tokio_postgres::Error| connect_error(target, &e);
    let client = if target.tls == Tls::Disable {
        let (client, connection) = config.connect(NoTls).await.map_err(failed)?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    } else {
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(target)?);
        let (client, connection) = config.connect(tls).await.map_err(failed)?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    };
    client
        .batch_execute(SESSION)
        .await
        .map_err(|e| LoadError::Connect { target: target.display(), why: db_error(&e) })?;
    Ok(client)
}

/// Whether the session is encrypted (`pg_stat_ssl`), `None` when the server does not say.
pub async fn uses_tls(client: &Client) -> Option<bool> {
    let row = client.query_opt("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).await.ok()??;
    row.try_get(0).ok()
}

/// Takes the table's advisory lock, waiting up to `wait` (calling `waiting` once if it must).
pub async fn lock(
    client: &Client,
    schema: &str,
    table: &str,
    wait: Duration,
    waiting: &(dyn Fn() + Send + Sync),
) -> Result<(), String> {
    let key = lock_key(&["postgres", schema, table]);
    let deadline = Instant::now() + wait;
    let mut told = false;
    loop {
        let got: bool =
            client.query_one("SELECT pg_try_advisory_lock($1)", &[&key]).await.map_err(|e| db_error(&e))?.get(0);
        if got {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(crate::load::lock_timeout(schema, table, wait));
        }
        if !told {
            waiting();
            told = true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn unlock(client: &Client, schema: &str, table: &str) -> Result<(), String> {
    let key = lock_key(&["postgres", schema, table]);
    client.query_one("SELECT pg_advisory_unlock($1)", &[&key]).await.map(|_| ()).map_err(|e| db_error(&e))
}

/// What was recorded of the last load of this table, `None` when nothing was.
pub async fn recorded(client: &Client, schema: &str, table: &str) -> Result<Option<Recorded>, String> {
    let exists: bool =
        client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&BOOKKEEPING]).await.map_err(|e| db_error(&e))?.get(0);
    if !exists {
        return Ok(None);
    }
    let row = client
        .query_opt(
            &format!(
                "SELECT export_id, fingerprint, manifest_sha256, rows, table_oid, load_xid FROM {BOOKKEEPING} \
                 WHERE schema_name = $1 AND table_name = $2"
            ),
            &[&schema, &table],
        )
        .await
        .map_err(|e| db_error(&e))?;
    Ok(row.map(|r| Recorded {
        provenance: Provenance { export_id: r.get(0), fingerprint: r.get(1), manifest_sha256: r.get(2) },
        rows: u64::try_from(r.get::<_, i64>(3)).unwrap_or(0),
        identity: format!("{}:{}", r.get::<_, i64>(4), r.get::<_, i64>(5)),
    }))
}

/// Whether the table holds only the rows the recorded load wrote: the same table (its oid) and
/// no row written by another transaction since (every row's `xmin` is the load's).
pub async fn unchanged(client: &Client, schema: &str, table: &str, recorded: &Recorded) -> Result<bool, String> {
    let Some((oid, xid)) = recorded.identity.split_once(':') else { return Ok(false) };
    let (Ok(oid), Ok(xid)) = (oid.parse::<i64>(), xid.parse::<i64>()) else { return Ok(false) };
    let name = qualified(schema, table);
    let now: i64 = client
        .query_one("SELECT to_regclass($1)::oid::bigint", &[&name])
        .await
        .map_err(|e| db_error(&e))?
        .try_get::<_, Option<i64>>(0)
        .map_err(|e| db_error(&e))?
        .unwrap_or(-1);
    if now != oid {
        return Ok(false);
    }
    let other: i64 = client
        .query_one(&format!("SELECT count(*) FROM {name} WHERE xmin::text::bigint <> $1"), &[&xid])
        .await
        .map_err(|e| db_error(&e))?
        .get(0);
    Ok(other == 0)
}

/// The bookkeeping table, created once (concurrent creators wait for each other).
async fn ensure_bookkeeping(client: &mut Client) -> Result<(), String> {
    let tx = client.transaction().await.map_err(|e| db_error(&e))?;
    let key = lock_key(&["postgres-bookkeeping"]);
    tx.query_one("SELECT pg_advisory_xact_lock($1)", &[&key]).await.map_err(|e| db_error(&e))?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {}; CREATE TABLE IF NOT EXISTS {BOOKKEEPING} (\
         schema_name text NOT NULL, table_name text NOT NULL, export_id text NOT NULL, fingerprint text NOT NULL, \
         manifest_sha256 text, rows bigint NOT NULL, table_oid bigint NOT NULL, load_xid bigint NOT NULL, \
         loaded_at timestamp with time zone NOT NULL DEFAULT now(), PRIMARY KEY (schema_name, table_name))",
        quote(BOOKKEEPING_SCHEMA)
    ))
    .await
    .map_err(|e| db_error(&e))?;
    tx.commit().await.map_err(|e| db_error(&e))
}

/// The system's roots, plus `sslrootcert` (RDS's CA bundle is not among the system's).
fn tls_config(target: &Target) -> Result<rustls::ClientConfig, LoadError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = &target.root_cert {
        let pem = std::fs::read(path).map_err(|e| LoadError::Connect {
            target: target.display(),
            why: format!("cannot read sslrootcert {}: {e}", path.display()),
        })?;
        for cert in
            <rustls_pki_types::CertificateDer<'static> as rustls_pki_types::pem::PemObject>::pem_slice_iter(&pem)
        {
            let cert = cert.map_err(|e| LoadError::Connect {
                target: target.display(),
                why: format!("{} is not a PEM certificate bundle: {e}", path.display()),
            })?;
            let _ = roots.add(cert);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| LoadError::Connect { target: target.display(), why: e.to_string() })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

fn connect_error(target: &Target, e: &tokio_postgres::Error) -> LoadError {
    let why = match e.as_db_error() {
        Some(db) if matches!(db.code().code(), "28P01" | "28000") => format!(
            "the server refused user `{}` with {}: {}; give the right password in the URL, PGPASSWORD or ~/.pgpass",
            target.user,
            target.password_from,
            db.message()
        ),
        Some(db) if db.code().code() == "3D000" => {
            format!("{}; create it first (createdb {}) or name another in the URL", db.message(), target.database)
        }
        Some(db) => db.message().to_owned(),
        None => format!(
            "cannot reach the server: {}; check the host and port, that PostgreSQL is running and accepts TCP \
             connections from here, and sslmode",
            error_chain(e)
        ),
    };
    LoadError::Connect { target: target.display(), why }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    text
}

/// A database error as text: its message, detail and where.
pub fn db_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = db.message().to_owned();
            if let Some(detail) = db.detail() {
                text = format!("{text} ({detail})");
            }
            if let Some(at) = db.where_() {
                text = format!("{text}; {at}");
            }
            text
        }
        None => error_chain(e),
    }
}

/// The kind and columns of an existing relation (name, `format_type`), `None` when there is
/// none by that name.
pub async fn shape(client: &Client, schema: &str, table: &str) -> Result<Option<Shape>, String> {
    let name = qualified(schema, table);
    let kind: Option<i8> = client
        .query_one("SELECT (SELECT relkind FROM pg_class WHERE oid = to_regclass($1))", &[&name])
        .await
        .map_err(|e| db_error(&e))?
        .get(0);
    let Some(kind) = kind else { return Ok(None) };
    let kind = match kind as u8 {
        b'r' | b'p' => None,
        b'v' => Some("a view"),
        b'm' => Some("a materialized view"),
        b'f' => Some("a foreign table"),
        b'S' => Some("a sequence"),
        _ => Some("not a table"),
    };
    let rows = client
        .query(
            "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute \
             WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            &[&name],
        )
        .await
        .map_err(|e| db_error(&e))?;
    let columns = rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, String>(1))).collect();
    Ok(Some(Shape { not_a_table: kind.map(str::to_owned), columns }))
}

pub async fn create(
    client: &Client,
    schema: &str,
    table: &str,
    columns: &[ColumnPlan],
    drop: bool,
) -> Result<(), String> {
    let name = qualified(schema, table);
    let cols: Vec<String> = columns.iter().map(|c| format!("{} {}", quote(&c.name), c.sql_type)).collect();
    // Tables of one new schema are created at once by parallel jobs: CREATE SCHEMA IF NOT
    // EXISTS races (a duplicate-key error), so creators of one schema take turns.
    let key = lock_key(&["postgres-schema", schema]);
    let mut sql = format!("BEGIN; SELECT pg_advisory_xact_lock({key}); CREATE SCHEMA IF NOT EXISTS {};", quote(schema));
    if drop {
        sql.push_str(&format!("DROP TABLE IF EXISTS {name};"));
    }
    sql.push_str(&format!("CREATE TABLE {name} ({}); COMMIT;", cols.join(", ")));
    let done = client.batch_execute(&sql).await.map_err(|e| db_error(&e));
    if done.is_err() {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    done
}

pub async fn count(client: &Client, schema: &str, table: &str) -> Result<u64, String> {
    let sql = format!("SELECT count(*) FROM {}", qualified(schema, table));
    let n: i64 = client.query_one(&sql, &[]).await.map_err(|e| db_error(&e))?.get(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

/// In one transaction: empties the table if `replace`, copies every chunk from `chunks`, counts
/// the table, records `provenance`, and commits only when the count is `expected`. A chunk
/// that is an error (a damaged part file) aborts the copy and the transaction: nothing of the
/// table is changed.
#[allow(clippy::too_many_arguments)]
pub async fn load(
    client: &mut Client,
    schema: &str,
    table: &str,
    columns: &[ColumnPlan],
    replace: bool,
    expected: u64,
    provenance: &Provenance,
    mut chunks: mpsc::Receiver<Result<Bytes, String>>,
) -> Result<Loaded, String> {
    ensure_bookkeeping(client).await?;
    let name = qualified(schema, table);
    let tx = client.transaction().await.map_err(|e| db_error(&e))?;
    if replace {
        tx.batch_execute(&format!("TRUNCATE {name}")).await.map_err(|e| db_error(&e))?;
    }
    let cols: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
    let sink = tx.copy_in(&format!("COPY {name} ({}) FROM STDIN", cols.join(", "))).await.map_err(|e| db_error(&e))?;
    futures::pin_mut!(sink);
    while let Some(chunk) = chunks.recv().await {
        match chunk {
            Ok(bytes) => sink.send(bytes).await.map_err(|e| db_error(&e))?,
            // Dropping the sink unfinished aborts the COPY; dropping `tx` rolls back.
            Err(why) => return Err(why),
        }
    }
    sink.as_mut().finish().await.map_err(|e| db_error(&e))?;
    let n: i64 = tx.query_one(&format!("SELECT count(*) FROM {name}"), &[]).await.map_err(|e| db_error(&e))?.get(0);
    let n = u64::try_from(n).unwrap_or(0);
    if n != expected {
        tx.rollback().await.map_err(|e| db_error(&e))?;
        return Ok(Loaded::RolledBack(n));
    }
    let rows = i64::try_from(n).unwrap_or(i64::MAX);
    tx.execute(
        &format!(
            "INSERT INTO {BOOKKEEPING} (schema_name, table_name, export_id, fingerprint, manifest_sha256, rows, \
             table_oid, load_xid) VALUES ($1, $2, $3, $4, $5, $6, to_regclass($7)::oid::bigint, \
             txid_current() % 4294967296) ON CONFLICT (schema_name, table_name) DO UPDATE SET \
             export_id = EXCLUDED.export_id, fingerprint = EXCLUDED.fingerprint, \
             manifest_sha256 = EXCLUDED.manifest_sha256, rows = EXCLUDED.rows, table_oid = EXCLUDED.table_oid, \
             load_xid = EXCLUDED.load_xid, loaded_at = now()"
        ),
        &[&schema, &table, &provenance.export_id, &provenance.fingerprint, &provenance.manifest_sha256, &rows, &name],
    )
    .await
    .map_err(|e| db_error(&e))?;
    tx.commit().await.map_err(|e| db_error(&e))?;
    Ok(Loaded::Committed(n))
}
