//! The database servers the rehydrate tests use start, take the password user, and stop;
//! they run as the current user unless that is root, keep their temporary files in their own
//! folder, and start side by side.

use s3exports_testkit::databases::{MariaDb, Postgres, server_account};

#[test]
fn postgres_starts_with_a_password_user_and_answers() {
    let pg = Postgres::start();
    assert_eq!(pg.psql("postgres", "SELECT 1 + 1"), "2");
    assert!(pg.url("postgres").contains(&pg.port.to_string()));
    // Its socket is in its own folder, never the shared /tmp or /run/postgresql.
    let sockets = pg.psql("postgres", "SHOW unix_socket_directories");
    assert!(!sockets.is_empty() && sockets != "/tmp" && !sockets.starts_with("/run/"), "{sockets}");
}

#[test]
fn postgres_takes_extra_settings() {
    let pg = Postgres::start_with(&[("timezone", "Asia/Kolkata")]);
    assert_eq!(pg.psql("postgres", "SHOW TimeZone"), "Asia/Kolkata");
}

#[test]
fn mariadb_starts_with_a_password_user_and_answers() {
    let db = MariaDb::start();
    assert_eq!(db.sql_as_root("SELECT 1 + 1"), "2");
    assert!(db.sql_as_root("SELECT User FROM mysql.user").contains("rehydrate"));
    // Temporary files go to the server's own folder: concurrent installs sharing /tmp fail.
    let tmpdir = db.sql_as_root("SELECT @@tmpdir");
    assert!(tmpdir.starts_with(db.folder().to_str().unwrap()), "{tmpdir} is not under {}", db.folder().display());
}

#[test]
fn mariadb_servers_install_and_start_side_by_side() {
    // Four installs at once: with a shared /tmp, some failed with "Unknown table
    // 'mysql.tmp_user_sys'" (issue #29, item 28).
    let servers: Vec<MariaDb> = std::thread::scope(|s| {
        (0..4).map(|_| s.spawn(MariaDb::start)).collect::<Vec<_>>().into_iter().map(|h| h.join().unwrap()).collect()
    });
    for db in &servers {
        assert_eq!(db.sql_as_root("SELECT COUNT(*) FROM mysql.user WHERE User = 'rehydrate'"), "1");
    }
}

#[test]
fn servers_run_as_the_current_user_unless_it_is_root() {
    // The Nix build sandbox has no `postgres` or `mysql` account: as anyone but root, the
    // servers must run as the user running the tests.
    assert_eq!(server_account("postgres", false), None);
    assert_eq!(server_account("mysql", false), None);
    assert_eq!(server_account("mysql", true), Some("mysql"));
    let db = MariaDb::start();
    let me = uid_of(None);
    let expected = if me == 0 { uid_of(Some("mysql")) } else { me };
    assert_eq!(db.server_uid(), Some(expected));
}

fn uid_of(user: Option<&str>) -> u32 {
    let out = std::process::Command::new("id").arg("-u").args(user).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}
