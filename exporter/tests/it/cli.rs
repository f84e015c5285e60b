//! The exporter's command line as an operator meets it: the help, and files it refuses before
//! any AWS call is made.

use std::process::Command;

fn exporter(args: &[&str]) -> (String, String, Option<i32>) {
    let out = Command::new(env!("CARGO_BIN_EXE_exporter"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        // No AWS: anything reaching an endpoint would fail here, not hang.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .output()
        .unwrap();
    (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap(), out.status.code())
}

#[test]
fn each_command_has_its_own_description() {
    let (out, _, code) = exporter(&["--help"]);
    assert_eq!(code, Some(0));
    let line = |name: &str| out.lines().find(|l| l.trim_start().starts_with(name)).unwrap_or_default().to_owned();
    assert!(line("dispatch").contains("Start pending exports"), "{out}");
    assert!(line("poll").contains("Consume a queue"), "{out}");
    assert!(line("reconcile").contains("Compare every configured database"), "{out}");
    assert!(!line("dispatch").contains("Consume a queue"), "{out}");
}

#[test]
fn a_targets_file_that_names_nothing_or_twice_is_refused_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    };
    let target = r#"{"s3_bucket_name": "pams-exports", "iam_role_arn": "arn:aws:iam::1:role/r", "kms_key_arn": "arn:aws:kms:us-east-1:1:key/k"}"#;
    let cases = [
        (file("empty.json", "{}"), "holds no export target"),
        (file("twice.json", &format!(r#"{{"pams": {target}, "pams": {target}}}"#)), "`pams` is given twice"),
        (file("case.json", &format!(r#"{{"PAMS": {target}, "pams": {target}}}"#)), "differ only in case"),
    ];
    for (path, want) in &cases {
        let (_, err, code) = exporter(&["reconcile", "--env", "prod", "--targets", path, "--dry-run"]);
        assert_eq!(code, Some(1), "{path}: {err}");
        assert!(err.contains(want) && err.contains(path.as_str()), "{path}: {err}");
    }
    let (_, err, code) = exporter(&["reconcile", "--env", "prod", "--since", "-1d", "--dry-run"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("how far back to look, a positive duration"), "{err}");
}
