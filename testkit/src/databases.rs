//! Real database servers for one test: PostgreSQL (Debian's `initdb` and `pg_ctl`) and MariaDB
//! (Debian's `mariadb-server`), each in a temporary folder on a free loopback port, with a
//! password user, stopped on drop (a failing test included).
//!
//! Neither server runs as root: when the tests do, the servers run as the `postgres` and
//! `mysql` users the Debian packages create, and own their folders; otherwise they run as the
//! current user (the Nix build sandbox has neither account). `./scripts/test` installs
//! `mariadb-server` when it is missing; PostgreSQL is looked for in `PG_BIN`, then
//! `/usr/lib/postgresql/<newest>/bin`, then `PATH`.
//!
//! Everything a server writes stays in its test's folder: data, socket, pid file and
//! temporary files (`--tmpdir`, `TMPDIR`). Concurrent `mariadb-install-db` runs sharing `/tmp`
//! fail ("Unknown table 'mysql.tmp_user_sys'"), so no two servers share a folder.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::moto::free_port;

/// The password of the test user on both servers.
pub const PASSWORD: &str = "rehydrate-secret";

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// The account a server runs as: the packaged one (`postgres`, `mysql`) when the tests run as
/// root, which both servers refuse; `None`, the current user, otherwise.
pub fn server_account(packaged: &str, root: bool) -> Option<&str> {
    root.then_some(packaged)
}

/// `program` as `account` (through `runuser`), or as the current user; with `TMPDIR` in
/// `tmp`, so nothing it writes lands in the shared `/tmp`.
fn as_account(account: Option<&str>, program: &Path, tmp: &Path) -> Command {
    let mut c = match account {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(program);
            c
        }
        None => Command::new(program),
    };
    c.env("TMPDIR", tmp);
    c
}

fn give_to(account: Option<&str>, dir: &Path) {
    if let Some(user) = account {
        let status = Command::new("chown").arg("-R").arg(format!("{user}:")).arg(dir).status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "chown -R {user}: {} (running as root, the servers need the `{user}` account the Debian package creates)",
            dir.display()
        );
    }
}

/// The test's own folder for temporary files.
fn private_tmp(dir: &Path) -> PathBuf {
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).expect("a temporary folder for the server");
    tmp
}

fn checked(what: &str, out: std::io::Result<Output>) -> Output {
    let out = out.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn wait_for_port(port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "{what} did not listen on {port} within 60 s; its log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// A PostgreSQL server of its own, with the superuser `postgres` (password [`PASSWORD`]).
#[derive(Debug)]
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    account: Option<&'static str>,
}

impl Postgres {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A server with these settings besides the test ones (`("timezone", "Asia/Kolkata")`):
    /// what a server configured otherwise than the tool's session does.
    pub fn start_with(settings: &[(&str, &str)]) -> Self {
        let bin = pg_bin();
        let dir = tempfile::tempdir().expect("a temporary folder");
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).expect("password file");
        let tmp = private_tmp(dir.path());
        let account = server_account("postgres", running_as_root());
        give_to(account, dir.path());
        checked(
            "initdb",
            as_account(account, &bin.join("initdb"), &tmp)
                .arg("-D")
                .arg(&data)
                .args(["-U", "postgres", "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8"])
                .arg(format!("--pwfile={}", pwfile.display()))
                .output(),
        );
        let port = free_port();
        let log = dir.path().join("postgres.log");
        let mut options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
            dir.path().display()
        );
        for (name, value) in settings {
            options.push_str(&format!(" -c {name}={value}"));
        }
        checked(
            "pg_ctl start",
            as_account(account, &bin.join("pg_ctl"), &tmp)
                .arg("-D")
                .arg(&data)
                .args(["-o", &options, "-l"])
                .arg(&log)
                .args(["-w", "start"])
                .stdout(Stdio::null())
                .output(),
        );
        wait_for_port(port, "PostgreSQL", &log);
        Self { dir, bin, port, account }
    }

    /// `postgresql://postgres:<password>@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!("postgresql://postgres:{PASSWORD}@127.0.0.1:{}/{database}", self.port)
    }

    /// Runs SQL with `psql` (its output unaligned, tuples only).
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = checked(
            "psql",
            Command::new(self.bin.join("psql"))
                .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres"])
                .args(["-p", &self.port.to_string(), "-d", database, "-c", sql])
                .env("PGPASSWORD", PASSWORD)
                .output(),
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = as_account(self.account, &self.bin.join("pg_ctl"), &self.dir.path().join("tmp"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The newest PostgreSQL server binaries on this machine.
pub fn pg_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    let found = Command::new("sh").args(["-c", "command -v initdb"]).output().ok().filter(|o| o.status.success());
    match found {
        Some(o) => {
            PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).parent().map(Path::to_path_buf).unwrap_or_default()
        }
        None => {
            panic!("no PostgreSQL server binaries (initdb, pg_ctl): install postgresql, or set PG_BIN to their folder")
        }
    }
}

/// A MariaDB server of its own, with the user `rehydrate` (password [`PASSWORD`]) allowed
/// everything from loopback.
#[derive(Debug)]
pub struct MariaDb {
    child: Child,
    _dir: tempfile::TempDir,
    socket: PathBuf,
    pub port: u16,
}

pub const MARIADB_USER: &str = "rehydrate";

impl MariaDb {
    pub fn start() -> Self {
        let server = which(&["mariadbd", "/usr/sbin/mariadbd", "mysqld", "/usr/sbin/mysqld"]).unwrap_or_else(|| {
            panic!("no MariaDB server (mariadbd): install Debian's mariadb-server (./scripts/test does)")
        });
        let install = which(&["mariadb-install-db", "mysql_install_db"]).expect("mariadb-install-db");
        let dir = tempfile::tempdir().expect("a temporary folder");
        let data = dir.path().join("data");
        let socket = dir.path().join("mysqld.sock");
        let tmp = private_tmp(dir.path());
        let account = server_account("mysql", running_as_root());
        give_to(account, dir.path());
        // Started as root with --user: the server drops to that account itself.
        let mut init = as_account(None, &install, &tmp);
        init.arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .arg("--auth-root-authentication-method=normal");
        if let Some(user) = account {
            init.arg(format!("--user={user}"));
        }
        checked("mariadb-install-db", init.output());
        let port = free_port();
        let log = dir.path().join("mariadb.log");
        let mut start = as_account(None, &server, &tmp);
        start
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", dir.path().join("mysqld.pid").display()))
            .arg(format!("--log-error={}", log.display()))
            .arg(format!("--port={port}"))
            .args(["--bind-address=127.0.0.1", "--local-infile=1", "--innodb-flush-log-at-trx-commit=0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(user) = account {
            start.arg(format!("--user={user}"));
        }
        let child = start.spawn().unwrap_or_else(|e| panic!("{}: {e}", server.display()));
        let db = Self { child, _dir: dir, socket, port };
        wait_for_port(port, "MariaDB", &log);
        db.sql_as_root(&format!(
            "CREATE USER '{MARIADB_USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'; \
             GRANT ALL ON *.* TO '{MARIADB_USER}'@'127.0.0.1' WITH GRANT OPTION;"
        ));
        db
    }

    /// `mysql://rehydrate:<password>@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!("mysql://{MARIADB_USER}:{PASSWORD}@127.0.0.1:{}/{database}", self.port)
    }

    /// The folder the server keeps everything in.
    pub fn folder(&self) -> &Path {
        self._dir.path()
    }

    /// The user id the server process runs as (from `/proc`), when it can be read.
    pub fn server_uid(&self) -> Option<u32> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("Uid:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Runs SQL as root over the server's socket (tab-separated output, no headers).
    pub fn sql_as_root(&self, sql: &str) -> String {
        let client = which(&["mariadb", "mysql"]).expect("the mariadb client");
        let out = checked(
            "mariadb",
            Command::new(client)
                .arg("--no-defaults")
                .arg(format!("--socket={}", self.socket.display()))
                .args(["--default-character-set=utf8mb4", "-u", "root", "-N", "-B", "-e", sql])
                .output(),
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait().is_ok_and(|s| s.is_some()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().find_map(|c| {
        if c.starts_with('/') {
            return Path::new(c).exists().then(|| PathBuf::from(c));
        }
        let out = Command::new("sh").args(["-c", &format!("command -v {c}")]).output().ok()?;
        out.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    })
}
