//! MySQL and MariaDB: connect, read an existing table's shape, create databases and tables,
//! and load with `LOAD DATA LOCAL INFILE` fed from memory, inside a transaction. The session
//! is strict and in UTC; any warning the load raises (a value the server adjusted) rolls the
//! table back, since `LOCAL` turns the server's errors into warnings.
//!
//! Loads of one table are serialized by a named lock (`GET_LOCK`) per table, so two rehydrates
//! at once never both fill it; the record of a load (export, fingerprint, the table's
//! `CHECKSUM TABLE`) lives in `athenaq_rehydrate.loads`, written in the load's transaction
//! (the checksum right after its commit, under the same lock).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};
use tokio::sync::mpsc;

use crate::load::{Provenance, Recorded, Shape};
use crate::schema::ColumnPlan;
use crate::target::{Target, Tls};
use crate::{LoadError, Loaded, lock_key};

/// The database of the bookkeeping table.
pub const BOOKKEEPING_DATABASE: &str = "athenaq_rehydrate";
const BOOKKEEPING: &str = "`athenaq_rehydrate`.`loads`";

/// `` `name` `` with inner backticks doubled.
pub fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

pub fn qualified(database: &str, table: &str) -> String {
    format!("{}.{}", quote(database), quote(table))
}

/// The session every load runs in: strict, UTC (TIMESTAMP values are instants), utf8mb4, and
/// zero dates allowed, so `0000-00-00` loads as the zero date the source held.
const SESSION: &str = "SET NAMES utf8mb4, time_zone = '+00:00', \
     sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO'";

/// A session, and a warning when it is plaintext because the server offers no TLS
/// (`ssl-mode=PREFERRED`, or no TLS parameter): never a silent downgrade.
pub async fn connect(target: &Target) -> Result<(Conn, Option<String>), LoadError> {
    let opts = OptsBuilder::default()
        .ip_or_hostname(target.host.clone())
        .tcp_port(target.port)
        .user(Some(target.user.clone()))
        .pass(target.password().map(str::to_owned))
        .db_name((!target.database.is_empty()).then(|| target.database.clone()));
    let tls = {
        let mut ssl = mysql_async::SslOpts::default();
        if let Some(path) = &target.root_cert {
            ssl = ssl.with_root_certs(vec![path.clone().into()]);
        }
        opts.clone().ssl_opts(Some(ssl))
    };
    let (mut conn, warning) = match target.tls {
        Tls::Disable => (Conn::new(opts).await.map_err(|e| connect_error(target, &e))?, None),
        Tls::Require => (Conn::new(tls).await.map_err(|e| connect_error(target, &e))?, None),
        Tls::Prefer => match Conn::new(tls).await {
            Ok(conn) => (conn, None),
            Err(mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer)) => {
                let conn = Conn::new(opts).await.map_err(|e| connect_error(target, &e))?;
                let warning = format!(
                    "{} offers no TLS, so the connection is not encrypted; add ssl-mode=REQUIRED to the URL to refuse \
                     plaintext, or ssl-mode=DISABLED to ask for it",
                    target.display()
                );
                (conn, Some(warning))
            }
            Err(e) => return Err(connect_error(target, &e)),
        },
    };
    conn.query_drop(SESSION).await.map_err(|e| LoadError::Connect { target: target.display(), why: e.to_string() })?;
    Ok((conn, warning))
}

/// The named lock of one table (server-wide, so the database is part of the name; at most 64
/// characters, hence a hash).
fn lock_name(database: &str, table: &str) -> String {
    format!("athenaq-rehydrate:{:016x}", lock_key(&["mysql", database, table]))
}

/// Takes the table's named lock, waiting up to `wait` (calling `waiting` once if it must).
pub async fn lock(
    conn: &mut Conn,
    database: &str,
    table: &str,
    wait: Duration,
    waiting: &(dyn Fn() + Send + Sync),
) -> Result<(), String> {
    let name = lock_name(database, table);
    let now: Option<Option<i64>> =
        conn.exec_first("SELECT GET_LOCK(?, 0)", (&name,)).await.map_err(|e| server_error(&e))?;
    if now.flatten() == Some(1) {
        return Ok(());
    }
    waiting();
    let later: Option<Option<i64>> =
        conn.exec_first("SELECT GET_LOCK(?, ?)", (&name, wait.as_secs().max(1))).await.map_err(|e| server_error(&e))?;
    match later.flatten() {
        Some(1) => Ok(()),
        _ => Err(crate::load::lock_timeout(database, table, wait)),
    }
}

pub async fn unlock(conn: &mut Conn, database: &str, table: &str) -> Result<(), String> {
    conn.exec_drop("SELECT RELEASE_LOCK(?)", (lock_name(database, table),)).await.map_err(|e| server_error(&e))
}

/// What was recorded of the last load of this table, `None` when nothing was.
pub async fn recorded(conn: &mut Conn, database: &str, table: &str) -> Result<Option<Recorded>, String> {
    let exists: Option<u64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'loads'",
            (BOOKKEEPING_DATABASE,),
        )
        .await
        .map_err(|e| server_error(&e))?;
    if exists.unwrap_or(0) == 0 {
        return Ok(None);
    }
    type Row = (String, String, Option<String>, u64, Option<String>);
    let row: Option<Row> = conn
        .exec_first(
            format!(
                "SELECT export_id, fingerprint, manifest_sha256, `rows`, CAST(table_checksum AS CHAR) FROM {BOOKKEEPING} \
                 WHERE schema_name = ? AND table_name = ?"
            ),
            (database, table),
        )
        .await
        .map_err(|e| server_error(&e))?;
    Ok(row.map(|(export_id, fingerprint, manifest_sha256, rows, checksum)| Recorded {
        provenance: Provenance { export_id, fingerprint, manifest_sha256 },
        rows,
        identity: checksum.unwrap_or_default(),
    }))
}

/// The table's `CHECKSUM TABLE`, as text.
async fn checksum(conn: &mut Conn, name: &str) -> Result<Option<String>, String> {
    let row: Option<(String, Option<String>)> =
        conn.query_first(format!("CHECKSUM TABLE {name}")).await.map_err(|e| server_error(&e))?;
    Ok(row.and_then(|(_, sum)| sum))
}

/// Whether the table holds what the recorded load wrote: its checksum is the one taken then.
pub async fn unchanged(conn: &mut Conn, database: &str, table: &str, recorded: &Recorded) -> Result<bool, String> {
    if recorded.identity.is_empty() {
        return Ok(false);
    }
    Ok(checksum(conn, &qualified(database, table)).await?.as_deref() == Some(recorded.identity.as_str()))
}

/// The bookkeeping table (DDL: outside any load's transaction, which it would commit).
async fn ensure_bookkeeping(conn: &mut Conn) -> Result<(), String> {
    conn.query_drop(format!("CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4", quote(BOOKKEEPING_DATABASE)))
        .await
        .map_err(|e| server_error(&e))?;
    conn.query_drop(format!(
        "CREATE TABLE IF NOT EXISTS {BOOKKEEPING} (schema_name varchar(64) NOT NULL, table_name varchar(64) NOT NULL, \
         export_id varchar(255) NOT NULL, fingerprint varchar(255) NOT NULL, manifest_sha256 varchar(64) NULL, \
         `rows` bigint unsigned NOT NULL, table_checksum bigint unsigned NULL, \
         loaded_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (schema_name, table_name)) \
         ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
    ))
    .await
    .map_err(|e| server_error(&e))
}

fn connect_error(target: &Target, e: &mysql_async::Error) -> LoadError {
    let why = match e {
        mysql_async::Error::Server(s) if matches!(s.code, 1045 | 1698) => format!(
            "the server refused user `{}` with {}: {}; give the right password in the URL or MYSQL_PWD",
            target.user, target.password_from, s.message
        ),
        mysql_async::Error::Server(s) if s.code == 1049 => {
            format!("{}; create it first or name another database in the URL", s.message)
        }
        mysql_async::Error::Server(s) => s.message.clone(),
        mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer) => {
            "the server offers no TLS and the URL requires it (ssl-mode, sslmode or require_ssl), so nothing was sent \
             in plaintext: turn TLS on in the server, or give ssl-mode=DISABLED to connect without it"
                .to_owned()
        }
        other => format!(
            "cannot reach the server: {other}; check the host and port, and that MySQL/MariaDB is running and accepts \
             TCP connections from here"
        ),
    };
    LoadError::Connect { target: target.display(), why }
}

fn server_error(e: &mysql_async::Error) -> String {
    match e {
        mysql_async::Error::Server(s) if matches!(s.code, 1148 | 3948 | 4166) => format!(
            "{} (the server refuses LOAD DATA LOCAL: set local_infile = 1 in its parameter group or configuration)",
            s.message
        ),
        mysql_async::Error::Server(s) => s.message.clone(),
        other => other.to_string(),
    }
}

/// A column type as the server reports it, compared without display widths (MariaDB and
/// MySQL 5.7 show `int(11)`, MySQL 8 `int`) and with MariaDB's JSON alias resolved.
pub fn normalize(column_type: &str) -> String {
    let t = column_type.trim().to_ascii_lowercase();
    for int in ["tinyint", "smallint", "mediumint", "int", "bigint"] {
        if let Some(rest) = t.strip_prefix(&format!("{int}(")) {
            if int == "tinyint" && rest.starts_with("1)") {
                return t;
            }
            if let Some(close) = rest.find(')') {
                return format!("{int}{}", &rest[close + 1..]);
            }
        }
    }
    match t.as_str() {
        "year(4)" => "year".to_owned(),
        "json" => "longtext".to_owned(),
        _ => t,
    }
}

/// The kind and columns of an existing table or view (name, normalized type), `None` when
/// there is none.
pub async fn shape(conn: &mut Conn, database: &str, table: &str) -> Result<Option<Shape>, String> {
    let kind: Option<String> = conn
        .exec_first(
            "SELECT TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (database, table),
        )
        .await
        .map_err(|e| server_error(&e))?;
    let Some(kind) = kind else { return Ok(None) };
    let not_a_table = match kind.as_str() {
        "BASE TABLE" => None,
        "VIEW" => Some("a view".to_owned()),
        other => Some(format!("a {} (not a table)", other.to_ascii_lowercase())),
    };
    let rows: Vec<(String, String)> = conn
        .exec(
            "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (database, table),
        )
        .await
        .map_err(|e| server_error(&e))?;
    Ok(Some(Shape { not_a_table, columns: rows.into_iter().map(|(n, t)| (n, normalize(&t))).collect() }))
}

pub async fn create(
    conn: &mut Conn,
    database: &str,
    table: &str,
    columns: &[ColumnPlan],
    drop: bool,
) -> Result<(), String> {
    let name = qualified(database, table);
    conn.query_drop(format!("CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4", quote(database)))
        .await
        .map_err(|e| server_error(&e))?;
    if drop {
        conn.query_drop(format!("DROP TABLE IF EXISTS {name}")).await.map_err(|e| server_error(&e))?;
    }
    // Every column NULL-able, as the export says nothing of constraints (and so no TIMESTAMP
    // column gets the server's implicit default).
    let cols: Vec<String> = columns.iter().map(|c| format!("{} {} NULL", quote(&c.name), c.sql_type)).collect();
    conn.query_drop(format!("CREATE TABLE {name} ({}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4", cols.join(", ")))
        .await
        .map_err(|e| server_error(&e))
}

pub async fn count(conn: &mut Conn, database: &str, table: &str) -> Result<u64, String> {
    let n: Option<u64> = conn
        .query_first(format!("SELECT COUNT(*) FROM {}", qualified(database, table)))
        .await
        .map_err(|e| server_error(&e))?;
    Ok(n.unwrap_or(0))
}

/// In one transaction: empties the table if `replace` (DELETE: TRUNCATE would commit), loads
/// every chunk, refuses any warning, counts, records `provenance`, and commits only when the
/// count is `expected`; then records the table's checksum.
#[allow(clippy::too_many_arguments)]
pub async fn load(
    conn: &mut Conn,
    database: &str,
    table: &str,
    columns: &[ColumnPlan],
    replace: bool,
    expected: u64,
    provenance: &Provenance,
    chunks: mpsc::Receiver<Result<Bytes, String>>,
) -> Result<Loaded, String> {
    ensure_bookkeeping(conn).await?;
    let name = qualified(database, table);
    conn.query_drop("START TRANSACTION").await.map_err(|e| server_error(&e))?;
    let mut outcome = load_in_transaction(conn, &name, columns, replace, expected, chunks).await;
    if let Ok(Loaded::Committed(n)) = outcome {
        outcome = conn
            .exec_drop(
                format!(
                    "REPLACE INTO {BOOKKEEPING} (schema_name, table_name, export_id, fingerprint, manifest_sha256, \
                     `rows`, table_checksum) VALUES (?, ?, ?, ?, ?, ?, NULL)"
                ),
                (database, table, &provenance.export_id, &provenance.fingerprint, &provenance.manifest_sha256, n),
            )
            .await
            .map(|_| Loaded::Committed(n))
            .map_err(|e| server_error(&e));
    }
    match outcome {
        Ok(Loaded::Committed(n)) => {
            conn.query_drop("COMMIT").await.map_err(|e| server_error(&e))?;
            // After the commit (a checksum reads committed rows), under the table's lock still:
            // without it the next run cannot show the table unchanged and loads it again.
            if let Some(sum) = checksum(conn, &name).await? {
                conn.exec_drop(
                    format!("UPDATE {BOOKKEEPING} SET table_checksum = ? WHERE schema_name = ? AND table_name = ?"),
                    (sum, database, table),
                )
                .await
                .map_err(|e| server_error(&e))?;
            }
            Ok(Loaded::Committed(n))
        }
        Ok(rolled_back) => {
            conn.query_drop("ROLLBACK").await.map_err(|e| server_error(&e))?;
            Ok(rolled_back)
        }
        Err(why) => {
            // A failed LOCAL INFILE stream can close the connection, and the server then rolls
            // the transaction back itself: the load's own error is the one to report.
            let _ = conn.query_drop("ROLLBACK").await;
            Err(why)
        }
    }
}

async fn load_in_transaction(
    conn: &mut Conn,
    name: &str,
    columns: &[ColumnPlan],
    replace: bool,
    expected: u64,
    chunks: mpsc::Receiver<Result<Bytes, String>>,
) -> Result<Loaded, String> {
    if replace {
        conn.query_drop(format!("DELETE FROM {name}")).await.map_err(|e| server_error(&e))?;
    }
    // Bytes arrive as hex and are unhexed into their column, byte for byte.
    let mut targets = Vec::new();
    let mut sets = Vec::new();
    for (i, c) in columns.iter().enumerate() {
        if c.rule.binary {
            targets.push(format!("@v{i}"));
            sets.push(format!("{} = UNHEX(@v{i})", quote(&c.name)));
        } else {
            targets.push(quote(&c.name));
        }
    }
    let set = if sets.is_empty() { String::new() } else { format!(" SET {}", sets.join(", ")) };
    // The handler must be `Sync`: it holds the channel, and the stream is made inside it.
    let failure = Arc::new(Mutex::new(None::<String>));
    let seen = failure.clone();
    conn.set_infile_handler(async move {
        let stream = futures::stream::unfold((chunks, seen), |(mut rx, seen)| async move {
            match rx.recv().await? {
                Ok(bytes) => Some((Ok(bytes), (rx, seen))),
                Err(why) => {
                    if let Ok(mut slot) = seen.lock() {
                        *slot = Some(why.clone());
                    }
                    rx.close();
                    Some((Err(std::io::Error::other(why)), (rx, seen)))
                }
            }
        });
        Ok(Box::pin(stream) as mysql_async::InfileData)
    });
    let sql = format!(
        "LOAD DATA LOCAL INFILE 'rehydrate' INTO TABLE {name} CHARACTER SET utf8mb4 \
         FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({}){set}",
        targets.join(", ")
    );
    let loaded = conn.query_drop(sql).await;
    if let Some(why) = failure.lock().ok().and_then(|mut f| f.take()) {
        return Err(why);
    }
    loaded.map_err(|e| server_error(&e))?;
    if conn.get_warnings() > 0 {
        let warnings: Vec<(String, u32, String)> =
            conn.query("SHOW WARNINGS LIMIT 5").await.map_err(|e| server_error(&e))?;
        let text: Vec<String> =
            warnings.into_iter().map(|(level, code, message)| format!("{level} {code}: {message}")).collect();
        return Err(format!(
            "the server adjusted values while loading (LOAD DATA LOCAL reports bad values as warnings), so nothing was kept: {}",
            text.join("; ")
        ));
    }
    let n: Option<u64> =
        conn.query_first(format!("SELECT COUNT(*) FROM {name}")).await.map_err(|e| server_error(&e))?;
    let n = n.unwrap_or(0);
    Ok(if n == expected { Loaded::Committed(n) } else { Loaded::RolledBack(n) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_types_compare_without_display_widths() {
        assert_eq!(normalize("int(11)"), "int");
        assert_eq!(normalize("int(10) unsigned"), "int unsigned");
        assert_eq!(normalize("bigint(20) unsigned"), "bigint unsigned");
        assert_eq!(normalize("tinyint(1)"), "tinyint(1)");
        assert_eq!(normalize("tinyint(4)"), "tinyint");
        assert_eq!(normalize("YEAR(4)"), "year");
        assert_eq!(normalize("json"), normalize("longtext"));
        assert_eq!(normalize("decimal(12,2)"), "decimal(12,2)");
        assert_eq!(quote("we`ird name"), "`we``ird name`");
    }
}
