//! `infra` against moto's CloudFormation: bootstrap, a first deploy of prod, a redeploy that
//! changes nothing, a config change that deploys as an update, diff, and destroy.

use std::path::Path;
use std::process::{Command, Output};

use s3exports_testkit::Moto;

fn infra(moto: &Moto, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_infra"))
        .args(args)
        .envs(moto.env())
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    eprintln!(
        "$ infra {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn ok(moto: &Moto, args: &[&str]) -> String {
    let out = infra(moto, args);
    assert!(out.status.success(), "infra {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

async fn statuses(cfn: &aws_sdk_cloudformation::Client) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = cfn
        .describe_stacks()
        .send()
        .await
        .unwrap()
        .stacks()
        .iter()
        .map(|s| (s.stack_name().unwrap().to_owned(), s.stack_status().unwrap().as_str().to_owned()))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn deploys_prod_with_change_sets() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    let zip = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bootstrap.zip");
    let zip = zip.to_str().unwrap();

    // Deploying before bootstrapping says what to do.
    let early = infra(&moto, &["--env", "prod", "deploy", "--code", zip, "--yes"]);
    assert!(!early.status.success());
    assert!(String::from_utf8_lossy(&early.stderr).contains("infra --env prod bootstrap"));

    ok(&moto, &["--env", "prod", "bootstrap", "--yes"]);
    let first = ok(&moto, &["--env", "prod", "deploy", "--code", zip, "--yes"]);
    assert_eq!(first.matches("(new stack)").count(), 4, "{first}");
    let expected: Vec<(String, String)> = [
        "rds-snapshot-s3exports-maxonelams-stack-prod-prod",
        "rds-snapshot-s3exports-maxonevams-stack-prod-prod",
        "rds-snapshot-s3exports-pams-stack-prod-prod",
        "rds-snapshot-s3exports-prod",
        "rds-snapshot-s3exports-prod-bootstrap",
    ]
    .iter()
    .map(|s| (s.to_string(), "CREATE_COMPLETE".to_string()))
    .collect();
    assert_eq!(statuses(&cfn).await, expected);

    // What the exporter needs was created from the templates.
    let parameter = aws_sdk_ssm::Client::new(&sdk)
        .get_parameter()
        .name("/rds-snapshot-s3exports/prod/databases/pams-stack-prod")
        .send()
        .await
        .unwrap();
    let target: s3exports_config::ExportTarget =
        serde_json::from_str(parameter.parameter().unwrap().value().unwrap()).unwrap();
    assert!(target.iam_role_arn.contains(":role/rds-snapshot-s3exports/prod/"), "{}", target.iam_role_arn);
    target.validate().unwrap();
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    s3.head_bucket().bucket("pams-db-snapshots-export").send().await.unwrap();

    // Unchanged: nothing to do.
    let again = ok(&moto, &["--env", "prod", "deploy", "--code", zip, "--yes"]);
    assert!(again.contains("No changes: 4 stack(s) up to date."), "{again}");

    // A config change becomes an update through a change set.
    let dir = tempfile::tempdir().unwrap();
    let changed = dir.path().join("prod.toml");
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/prod.toml")).unwrap();
    std::fs::write(&changed, text.replace("expire_days = 365", "expire_days = 400")).unwrap();
    let changed = changed.to_str().unwrap();
    let update = ok(&moto, &["--env", "prod", "--config", changed, "deploy", "--code", zip, "--yes"]);
    assert_eq!(update.matches("(update)").count(), 3, "{update}");
    assert!(update.contains("Modify") && update.contains("ExportBucket"), "{update}");
    assert!(update.contains("rds-snapshot-s3exports-prod: no changes"), "{update}");
    let now = statuses(&cfn).await;
    assert_eq!(now.iter().filter(|(_, s)| s == "UPDATE_COMPLETE").count(), 3, "{now:?}");

    // diff against the embedded config shows the way back, and leaves nothing behind.
    let diff = ok(&moto, &["--env", "prod", "diff", "--stack", "rds-snapshot-s3exports-pams-stack-prod-prod"]);
    assert!(diff.contains("Modify") && diff.contains("ExportBucket"), "{diff}");
    let sets = cfn.list_change_sets().stack_name("rds-snapshot-s3exports-pams-stack-prod-prod").send().await.unwrap();
    assert!(sets.summaries().iter().all(|s| s.execution_status().map(|e| e.as_str()) != Some("AVAILABLE")), "{sets:?}");

    // Destroy asks first, and keeps the data.
    let refused = infra(&moto, &["--env", "prod", "destroy", "--stack", "rds-snapshot-s3exports-pams-stack-prod-prod"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("pass --yes"));
    ok(&moto, &["--env", "prod", "destroy", "--stack", "rds-snapshot-s3exports-pams-stack-prod-prod", "--yes"]);
    assert!(!statuses(&cfn).await.iter().any(|(n, s)| n.contains("pams") && s != "DELETE_COMPLETE"));
    s3.head_bucket().bucket("pams-db-snapshots-export").send().await.expect("export bucket retained");
}
