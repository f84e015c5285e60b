//! The database to load into, from its URL (`postgresql://` or `mysql://`), with the password
//! from the URL, else the engine's usual places (`PGPASSWORD` or `~/.pgpass`; `MYSQL_PWD`).
//! A password is never printed: [`Target::display`] leaves it out.
//!
//! TLS is asked for the way users write it: libpq's `sslmode` (both engines), MySQL's
//! `ssl-mode` and `require_ssl` (MySQL URLs). A parameter this tool does not read, or a value
//! it cannot parse, is refused with the accepted ones listed: a misspelt TLS setting must never
//! connect in plaintext. Where TLS is used the server's certificate and host name are always
//! verified (against the system's roots and `sslrootcert`).

use std::path::{Path, PathBuf};

use crate::Engine;

/// Where a password came from, for the error that says it was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordFrom {
    Url,
    Environment(&'static str),
    PgPass,
    None,
}

impl std::fmt::Display for PasswordFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Url => write!(f, "the password in the URL"),
            Self::Environment(var) => write!(f, "the password in {var}"),
            Self::PgPass => write!(f, "the password in the password file (PGPASSFILE or ~/.pgpass)"),
            Self::None => write!(f, "no password (none in the URL or the environment)"),
        }
    }
}

/// A database to load into.
#[derive(Clone)]
pub struct Target {
    pub engine: Engine,
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The database to connect to (PostgreSQL: where schemas are created; MySQL: the
    /// connection's default, tables go to their source database).
    pub database: String,
    password: Option<String>,
    pub password_from: PasswordFrom,
    /// `sslmode`, `ssl-mode` or `require_ssl`; [`Tls::Prefer`] when none is given.
    pub tls: Tls,
    /// A CA bundle to trust besides the system's (`sslrootcert`; RDS's `global-bundle.pem`).
    pub root_cert: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Plaintext (`sslmode=disable`, `ssl-mode=DISABLED`, `require_ssl=false`).
    Disable,
    /// TLS when the server offers it; plaintext otherwise, with a warning, never silently
    /// (`sslmode=prefer|allow`, `ssl-mode=PREFERRED`, and no parameter).
    Prefer,
    /// TLS or no connection (`sslmode=require|verify-ca|verify-full`,
    /// `ssl-mode=REQUIRED|VERIFY_CA|VERIFY_IDENTITY`, `require_ssl=true`).
    Require,
}

/// The URL parameters each engine's URL may carry.
const POSTGRES_PARAMETERS: &[&str] = &["sslmode", "sslrootcert"];
const MYSQL_PARAMETERS: &[&str] =
    &["ssl-mode", "ssl_mode", "sslmode", "require_ssl", "sslrootcert", "ssl-ca", "ssl_ca"];

/// libpq's `sslmode` values (<https://www.postgresql.org/docs/current/libpq-ssl.html>).
const SSLMODE: &[(&str, Tls)] = &[
    ("disable", Tls::Disable),
    ("allow", Tls::Prefer),
    ("prefer", Tls::Prefer),
    ("require", Tls::Require),
    ("verify-ca", Tls::Require),
    ("verify-full", Tls::Require),
];
/// MySQL's `--ssl-mode` values, any case.
const SSL_MODE: &[(&str, Tls)] = &[
    ("DISABLED", Tls::Disable),
    ("PREFERRED", Tls::Prefer),
    ("REQUIRED", Tls::Require),
    ("VERIFY_CA", Tls::Require),
    ("VERIFY_IDENTITY", Tls::Require),
];
const BOOLEANS: &[(&str, Tls)] = &[
    ("true", Tls::Require),
    ("1", Tls::Require),
    ("yes", Tls::Require),
    ("false", Tls::Disable),
    ("0", Tls::Disable),
    ("no", Tls::Disable),
];

/// The TLS a URL's parameters ask for: every TLS parameter given must parse and agree.
fn tls_of(engine: Engine, query: &[(String, String)]) -> Result<Tls, String> {
    let accepted = match engine {
        Engine::Postgres => POSTGRES_PARAMETERS,
        Engine::MySql => MYSQL_PARAMETERS,
    };
    for (i, (name, _)) in query.iter().enumerate() {
        if !accepted.contains(&name.as_str()) {
            return Err(format!(
                "the URL parameter `{name}` is not one this tool reads for {engine}; it reads: {}",
                accepted.join(", ")
            ));
        }
        if query[..i].iter().any(|(n, _)| n == name) {
            return Err(format!("the URL parameter `{name}` is given twice: give it once"));
        }
    }
    let mut chosen: Option<(String, Tls)> = None;
    for (name, value) in query {
        let table = match name.as_str() {
            "sslmode" => SSLMODE,
            "ssl-mode" | "ssl_mode" => SSL_MODE,
            "require_ssl" => BOOLEANS,
            _ => continue,
        };
        let tls =
            table.iter().find(|(v, _)| v.eq_ignore_ascii_case(value.trim())).map(|(_, t)| *t).ok_or_else(|| {
                let values: Vec<&str> = table.iter().map(|(v, _)| *v).collect();
                format!("{name}={value} is not one of {}", values.join(", "))
            })?;
        match &chosen {
            Some((other, was)) if *was != tls => {
                return Err(format!("{other} and {name}={value} ask for different TLS: give one of them"));
            }
            _ => chosen = Some((format!("{name}={value}"), tls)),
        }
    }
    Ok(chosen.map_or(Tls::Prefer, |(_, tls)| tls))
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").field("url", &self.display()).field("password_from", &self.password_from).finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--into {url}: {why}")]
pub struct TargetError {
    pub url: String,
    pub why: String,
}

impl Target {
    /// Reads `url`; `env` gives environment variables (the process's in use).
    pub fn parse(url: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, TargetError> {
        let redacted = redact(url);
        let bad = |why: String| TargetError { url: redacted.clone(), why };
        let parsed = url::Url::parse(url).map_err(|e| {
            bad(format!(
                "not a database URL ({e}); give postgresql://USER@HOST:PORT/DATABASE or mysql://USER@HOST:PORT/DATABASE"
            ))
        })?;
        let engine = match parsed.scheme() {
            "postgresql" | "postgres" => Engine::Postgres,
            "mysql" | "mariadb" => Engine::MySql,
            other => {
                return Err(bad(format!(
                    "`{other}://` is not a database this tool loads: use postgresql:// or mysql://"
                )));
            }
        };
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        let query: Vec<(String, String)> =
            parsed.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let (pg, my) = (engine == Engine::Postgres, engine == Engine::MySql);
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .map(|h| h.trim_matches(['[', ']']).to_owned())
            .or_else(|| pg.then(|| env("PGHOST")).flatten())
            .unwrap_or_else(|| "localhost".to_owned());
        let port = match parsed.port() {
            Some(p) => p,
            None => match pg.then(|| env("PGPORT")).flatten() {
                Some(p) => p.parse().map_err(|_| bad(format!("PGPORT={p} is not a port")))?,
                None if pg => 5432,
                None => 3306,
            },
        };
        let user = Some(decode(parsed.username()))
            .filter(|u| !u.is_empty())
            .or_else(|| pg.then(|| env("PGUSER")).flatten())
            .or_else(|| env("USER"))
            .ok_or_else(|| bad("no user: give one in the URL (postgresql://USER@HOST/DB)".into()))?;
        let database = Some(decode(parsed.path().trim_start_matches('/')))
            .filter(|d| !d.is_empty())
            .or_else(|| pg.then(|| env("PGDATABASE")).flatten())
            .unwrap_or_else(|| if pg { user.clone() } else { String::new() });
        let tls = tls_of(engine, &query).map_err(bad)?;
        let root_cert = param("sslrootcert")
            .or_else(|| param("ssl-ca"))
            .or_else(|| param("ssl_ca"))
            .or_else(|| pg.then(|| env("PGSSLROOTCERT")).flatten())
            .map(PathBuf::from);
        let (password, password_from) = match parsed.password().map(decode) {
            Some(p) => (Some(p), PasswordFrom::Url),
            None if pg => match env("PGPASSWORD") {
                Some(p) => (Some(p), PasswordFrom::Environment("PGPASSWORD")),
                None => {
                    let file = env("PGPASSFILE")
                        .map(PathBuf::from)
                        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".pgpass")));
                    match file
                        .and_then(|f| std::fs::read_to_string(f).ok())
                        .and_then(|text| pgpass(&text, &host, port, &database, &user))
                    {
                        Some(p) => (Some(p), PasswordFrom::PgPass),
                        None => (None, PasswordFrom::None),
                    }
                }
            },
            None if my => match env("MYSQL_PWD") {
                Some(p) => (Some(p), PasswordFrom::Environment("MYSQL_PWD")),
                None => (None, PasswordFrom::None),
            },
            None => (None, PasswordFrom::None),
        };
        Ok(Self { engine, host, port, user, database, password, password_from, tls, root_cert })
    }

    /// The URL without its password.
    pub fn display(&self) -> String {
        let scheme = match self.engine {
            Engine::Postgres => "postgresql",
            Engine::MySql => "mysql",
        };
        // An IPv6 address keeps its brackets, or its colons would run into the port's.
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        format!("{scheme}://{}@{host}:{}/{}", self.user, self.port, self.database)
    }

    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }
}

/// A URL with any password replaced, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(the URL given)".to_owned(),
    }
}

/// The password for this connection from a `.pgpass` file's text: the first line whose
/// `host:port:database:user` fields match (`*` matches anything; `\:` and `\\` escape).
pub fn pgpass(text: &str, host: &str, port: u16, database: &str, user: &str) -> Option<String> {
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty()) {
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => field.extend(chars.next()),
                ':' if fields.len() < 4 => fields.push(std::mem::take(&mut field)),
                _ => field.push(c),
            }
        }
        fields.push(field);
        if fields.len() != 5 {
            continue;
        }
        let port = port.to_string();
        let hosts: &[&str] = if host == "localhost" || host.starts_with('/') { &["localhost", host] } else { &[host] };
        let matches = |pattern: &str, values: &[&str]| pattern == "*" || values.contains(&pattern);
        if matches(&fields[0], hosts)
            && matches(&fields[1], &[&port])
            && matches(&fields[2], &[database])
            && matches(&fields[3], &[user])
        {
            return Some(fields[4].clone());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_ipv6_host_is_shown_in_brackets() {
        let env = |_: &str| -> Option<String> { None };
        let target = super::Target::parse("postgresql://ana@[::1]:5433/shop", &env).unwrap();
        assert_eq!(target.host, "::1");
        assert_eq!(target.display(), "postgresql://ana@[::1]:5433/shop");
        let target = super::Target::parse("mysql://ana@db.example:3306/shop", &env).unwrap();
        assert_eq!(target.display(), "mysql://ana@db.example:3306/shop");
    }

    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn urls_give_engine_place_and_credentials_never_shown() {
        let t =
            Target::parse("postgresql://alice:s%40cret@db.example:6543/restore?sslmode=require", &env(&[])).unwrap();
        assert_eq!(
            (t.engine, t.port, t.user.as_str(), t.database.as_str()),
            (Engine::Postgres, 6543, "alice", "restore")
        );
        assert_eq!((t.password(), t.password_from, t.tls), (Some("s@cret"), PasswordFrom::Url, Tls::Require));
        assert!(!format!("{} {t:?}", t.display()).contains("s@cret"));
        let m = Target::parse("mysql://bob@127.0.0.1/app", &env(&[("MYSQL_PWD", "pw")])).unwrap();
        assert_eq!(
            (m.engine, m.port, m.password(), m.password_from),
            (Engine::MySql, 3306, Some("pw"), PasswordFrom::Environment("MYSQL_PWD"))
        );
        let e = Target::parse("sqlite://x:hunter2@h/db", &env(&[])).unwrap_err();
        assert!(e.to_string().contains("postgresql://") && !e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn tls_is_asked_for_as_users_write_it_and_never_dropped_silently() {
        let tls = |url: &str| Target::parse(url, &env(&[])).map(|t| t.tls).map_err(|e| e.to_string());
        // MySQL's ssl-mode, libpq's sslmode and require_ssl, in any case.
        for (query, want) in [
            ("", Tls::Prefer),
            ("?ssl-mode=REQUIRED", Tls::Require),
            ("?ssl-mode=required", Tls::Require),
            ("?ssl_mode=Verify_Identity", Tls::Require),
            ("?ssl-mode=VERIFY_CA", Tls::Require),
            ("?ssl-mode=PREFERRED", Tls::Prefer),
            ("?ssl-mode=DISABLED", Tls::Disable),
            ("?sslmode=require", Tls::Require),
            ("?sslmode=verify-full", Tls::Require),
            ("?sslmode=disable", Tls::Disable),
            ("?require_ssl=yes", Tls::Require),
            ("?require_ssl=TRUE", Tls::Require),
            ("?require_ssl=1", Tls::Require),
            ("?require_ssl=No", Tls::Disable),
            ("?require_ssl=0", Tls::Disable),
            ("?ssl-mode=REQUIRED&require_ssl=true", Tls::Require),
        ] {
            assert_eq!(tls(&format!("mysql://u@h/db{query}")), Ok(want), "{query}");
        }
        for (query, want) in [
            ("", Tls::Prefer),
            ("?sslmode=allow", Tls::Prefer),
            ("?sslmode=prefer", Tls::Prefer),
            ("?sslmode=verify-ca", Tls::Require),
            ("?sslmode=disable", Tls::Disable),
        ] {
            assert_eq!(tls(&format!("postgresql://u@h/db{query}")), Ok(want), "{query}");
        }
        // Anything else is refused, naming the parameter and what is accepted.
        let refused = |url: &str, says: &[&str]| {
            let e = tls(url).unwrap_err();
            assert!(says.iter().all(|s| e.contains(s)), "{url}: {e}");
        };
        refused("mysql://u@h/db?ssl-mode=STRICT", &["ssl-mode=STRICT", "REQUIRED", "VERIFY_IDENTITY"]);
        refused("mysql://u@h/db?require_ssl=maybe", &["require_ssl=maybe", "yes"]);
        refused("mysql://u@h/db?sslmode=on", &["sslmode=on", "verify-full"]);
        refused("mysql://u@h/db?ssl=true", &["`ssl`", "ssl-mode", "require_ssl"]);
        refused("mysql://u@h/db?ssl-mode=DISABLED&require_ssl=true", &["different TLS"]);
        refused("mysql://u@h/db?sslmode=require&sslmode=disable", &["twice"]);
        refused("postgresql://u@h/db?sslmode=required", &["sslmode=required", "verify-full"]);
        refused("postgresql://u@h/db?ssl-mode=REQUIRED", &["`ssl-mode`", "sslmode, sslrootcert"]);
        refused("postgresql://u@h/db?require_ssl=true", &["`require_ssl`"]);
        refused("postgresql://u@h/db?connect_timeout=5", &["`connect_timeout`"]);
        let ca = Target::parse("mysql://u@h/db?ssl-mode=VERIFY_CA&ssl-ca=/etc/rds.pem", &env(&[])).unwrap();
        assert_eq!(ca.root_cert.as_deref(), Some(Path::new("/etc/rds.pem")));
    }

    #[test]
    fn the_pgpass_file_is_read_as_libpq_reads_it() {
        let file = "# comment\nother:5432:*:alice:no\ndb.example:*:restore:alice:pa\\:ss\n*:*:*:*:fallback\n";
        assert_eq!(pgpass(file, "db.example", 5432, "restore", "alice").as_deref(), Some("pa:ss"));
        assert_eq!(pgpass(file, "elsewhere", 5432, "x", "y").as_deref(), Some("fallback"));
        let home = Box::leak(Box::new(std::env::temp_dir().join(format!("pgpass-test-{}", std::process::id()))));
        std::fs::write(&*home, "h:5432:d:u:from-file\n").unwrap();
        let path: &'static str = Box::leak(home.to_string_lossy().into_owned().into_boxed_str());
        let vars: &'static [(&'static str, &'static str)] = Box::leak(Box::new([("PGPASSFILE", path)]));
        let t = Target::parse("postgresql://u@h/d", &env(vars)).unwrap();
        assert_eq!((t.password(), t.password_from), (Some("from-file"), PasswordFrom::PgPass));
        let _ = std::fs::remove_file(path);
    }
}
