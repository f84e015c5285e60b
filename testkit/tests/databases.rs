//! The database servers the rehydrate tests use start, take the password user, and stop.

use s3exports_testkit::databases::{MariaDb, Postgres};

#[test]
fn postgres_starts_with_a_password_user_and_answers() {
    let pg = Postgres::start();
    assert_eq!(pg.psql("postgres", "SELECT 1 + 1"), "2");
    assert!(pg.url("postgres").contains(&pg.port.to_string()));
}

#[test]
fn mariadb_starts_with_a_password_user_and_answers() {
    let db = MariaDb::start();
    assert_eq!(db.sql_as_root("SELECT 1 + 1"), "2");
    assert!(db.sql_as_root("SELECT User FROM mysql.user").contains("rehydrate"));
}
