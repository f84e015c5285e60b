//! moto (`moto_server`) on a free loopback port for one test, stopped on drop.
//!
//! moto runs through `testkit/moto_server.py` (moto plus one fix, see there) with the Python
//! named by `MOTO_PYTHON`, else the workspace's `.venv` (which the test command creates), else
//! `python3` on `PATH`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    /// Starts a fresh emulator; panics with what to do when moto is missing.
    pub fn start() -> Self {
        let program = python();
        let port = free_port();
        let child = Command::new(&program)
            .arg(workspace().join("testkit/moto_server.py"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start moto with {} ({e}); run the README's test command (it installs moto \
                     into .venv) or set MOTO_PYTHON to a Python that has moto[server]",
                    program.display()
                )
            });
        let mut moto = Self { child, port };
        moto.wait_ready(Duration::from_secs(30));
        moto
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment for a child process that should talk to this emulator.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    /// SDK configuration pointing at this emulator with static test credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(aws_config::Region::new(REGION))
            .credentials_provider(aws_credential_types::Credentials::new("testing", "testing", None, None, "moto"))
            .load()
            .await
    }

    /// POSTs JSON to the emulator's control API (e.g. `/moto-api/static/athena/query-results`)
    /// and returns the HTTP status.
    pub fn post_json(&self, path: &str, body: &str) -> u16 {
        use std::io::{Read, Write};
        let mut stream =
            TcpStream::connect(("127.0.0.1", self.port)).unwrap_or_else(|e| panic!("connect to moto: {e}"));
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap_or_else(|e| panic!("write to moto: {e}"));
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
    }

    fn wait_ready(&mut self, limit: Duration) {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let start = Instant::now();
        while start.elapsed() < limit {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "moto exited with {status} before listening; is moto[server] installed for {}?",
                    python().display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("moto_server did not listen on port {} within {limit:?}", self.port);
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates an RDS instance in the emulator (which also takes its first automated snapshot).
pub async fn create_db_instance(rds: &aws_sdk_rds::Client, id: &str, engine: &str) {
    rds.create_db_instance()
        .db_instance_identifier(id)
        .engine(engine)
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("admin_user")
        .master_user_password("password123")
        .send()
        .await
        .unwrap_or_else(|e| panic!("creating DB instance {id} in moto: {e:?}"));
}

/// An export task started by hand in moto (the emulator completes it at once unless
/// `MOTO_RDS_EXPORT_SECONDS` is set), with the prod export role.
pub async fn start_export(rds: &aws_sdk_rds::Client, id: &str, source_arn: &str, bucket: &str, kms_key: &str) {
    rds.start_export_task()
        .export_task_identifier(id)
        .source_arn(source_arn)
        .s3_bucket_name(bucket)
        .iam_role_arn(format!("arn:aws:iam::{ACCOUNT}:role/rds-snapshot-s3exports/prod/export"))
        .kms_key_id(kms_key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("starting export {id} in moto: {e:?}"));
}

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_PYTHON") {
        return PathBuf::from(path);
    }
    let venv = workspace().join(".venv/bin/python");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}
