//! MySQL and MariaDB: connect, read an existing table's shape, create databases and tables,
//! and load with `LOAD DATA LOCAL INFILE` fed from memory, inside a transaction. The session
//! is strict and in UTC; any warning the load raises (a value the server adjusted) rolls the
//! table back, since `LOCAL` turns the server's errors into warnings.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};
use tokio::sync::mpsc;

use crate::schema::ColumnPlan;
use crate::target::{Target, Tls};
use crate::{LoadError, Loaded};

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

pub async fn connect(target: &Target) -> Result<Conn, LoadError> {
    let mut opts = OptsBuilder::default()
        .ip_or_hostname(target.host.clone())
        .tcp_port(target.port)
        .user(Some(target.user.clone()))
        .pass(target.password().map(str::to_owned))
        .db_name((!target.database.is_empty()).then(|| target.database.clone()));
    if target.tls == Tls::Require {
        let mut ssl = mysql_async::SslOpts::default();
        if let Some(path) = &target.root_cert {
            ssl = ssl.with_root_certs(vec![path.clone().into()]);
        }
        opts = opts.ssl_opts(Some(ssl));
    }
    let mut conn = Conn::new(opts).await.map_err(|e| connect_error(target, &e))?;
    conn.query_drop(SESSION).await.map_err(|e| LoadError::Connect { target: target.display(), why: e.to_string() })?;
    Ok(conn)
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

/// The columns of an existing table (name, normalized type), `None` when there is none.
pub async fn shape(conn: &mut Conn, database: &str, table: &str) -> Result<Option<Vec<(String, String)>>, String> {
    let rows: Vec<(String, String)> = conn
        .exec(
            "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (database, table),
        )
        .await
        .map_err(|e| server_error(&e))?;
    Ok((!rows.is_empty()).then(|| rows.into_iter().map(|(n, t)| (n, normalize(&t))).collect()))
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
/// every chunk, refuses any warning, counts, and commits only when the count is `expected`.
pub async fn load(
    conn: &mut Conn,
    database: &str,
    table: &str,
    columns: &[ColumnPlan],
    replace: bool,
    expected: u64,
    chunks: mpsc::Receiver<Result<Bytes, String>>,
) -> Result<Loaded, String> {
    let name = qualified(database, table);
    conn.query_drop("START TRANSACTION").await.map_err(|e| server_error(&e))?;
    let outcome = load_in_transaction(conn, &name, columns, replace, expected, chunks).await;
    match outcome {
        Ok(Loaded::Committed(n)) => {
            conn.query_drop("COMMIT").await.map_err(|e| server_error(&e))?;
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
