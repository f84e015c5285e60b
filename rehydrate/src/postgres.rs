//! PostgreSQL: connect (TLS as `sslmode` says), read an existing table's shape, create schemas
//! and tables, and load with `COPY ... FROM STDIN` in the text format, inside a transaction.

use std::sync::Arc;

use bytes::Bytes;
use futures::SinkExt;
use tokio::sync::mpsc;
use tokio_postgres::{Client, NoTls};

use crate::schema::ColumnPlan;
use crate::target::{Target, Tls};
use crate::{LoadError, Loaded};

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
    Ok(client)
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

/// The columns of an existing table (name, `format_type`), `None` when there is no such table.
pub async fn shape(client: &Client, schema: &str, table: &str) -> Result<Option<Vec<(String, String)>>, String> {
    let name = qualified(schema, table);
    let exists = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .await
        .map_err(|e| db_error(&e))?
        .get::<_, bool>(0);
    if !exists {
        return Ok(None);
    }
    let rows = client
        .query(
            "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute \
             WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            &[&name],
        )
        .await
        .map_err(|e| db_error(&e))?;
    Ok(Some(rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, String>(1))).collect()))
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
    let mut sql = format!("CREATE SCHEMA IF NOT EXISTS {};", quote(schema));
    if drop {
        sql.push_str(&format!("DROP TABLE IF EXISTS {name};"));
    }
    sql.push_str(&format!("CREATE TABLE {name} ({});", cols.join(", ")));
    client.batch_execute(&sql).await.map_err(|e| db_error(&e))
}

pub async fn count(client: &Client, schema: &str, table: &str) -> Result<u64, String> {
    let sql = format!("SELECT count(*) FROM {}", qualified(schema, table));
    let n: i64 = client.query_one(&sql, &[]).await.map_err(|e| db_error(&e))?.get(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

/// In one transaction: empties the table if `replace`, copies every chunk from `chunks`, counts
/// the table, and commits only when the count is `expected`. A chunk that is an error (a
/// damaged part file) aborts the copy and the transaction: nothing of the table is changed.
pub async fn load(
    client: &mut Client,
    schema: &str,
    table: &str,
    columns: &[ColumnPlan],
    replace: bool,
    expected: u64,
    mut chunks: mpsc::Receiver<Result<Bytes, String>>,
) -> Result<Loaded, String> {
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
    tx.commit().await.map_err(|e| db_error(&e))?;
    Ok(Loaded::Committed(n))
}
