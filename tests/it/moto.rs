//! A moto server for end-to-end tests: started on 127.0.0.1 on a free port with IAM
//! enforcement on, set up with an admin user and the user's own role, stopped on drop.
//! `scripts/test.sh` installs moto into `.venv`; without it these tests fail, never skip.

// Test helpers panic on purpose: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server with an admin user's keys.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The admin's access key id.
    pub key: String,
    /// The admin's secret key.
    pub secret: String,
}

/// The venv's Python, or a loud failure.
pub fn python() -> PathBuf {
    let p = crate::common::root().join(".venv/bin/python");
    assert!(p.exists(), "moto is not installed: run `scripts/test.sh` (it creates .venv with moto[server] and boto3)");
    p
}

impl Moto {
    /// Starts moto and runs the fixture's setup.
    pub fn start() -> Moto {
        let server = crate::common::root().join(".venv/bin/moto_server");
        assert!(server.exists(), "moto is not installed: run `scripts/test.sh` (it creates .venv with moto[server])");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let endpoint = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(60), "moto did not start on port {port}");
            std::thread::sleep(Duration::from_millis(200));
        }
        let mut moto = Moto { child, endpoint, key: String::new(), secret: String::new() };
        let out = moto.fixture("setup");
        let v: serde_json::Value = serde_json::from_str(&out).expect("fixture keys");
        moto.key = v["access_key_id"].as_str().expect("key").to_string();
        moto.secret = v["secret_access_key"].as_str().expect("secret").to_string();
        moto
    }

    /// Runs `tests/workloads/moto_fixture.py CMD ENDPOINT` as the admin; returns stdout.
    pub fn fixture(&self, cmd: &str) -> String {
        let out = Command::new(python())
            .arg(crate::common::root().join("tests/workloads/moto_fixture.py"))
            .args([cmd, &self.endpoint])
            .env("AWS_ACCESS_KEY_ID", &self.key)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .output()
            .expect("run moto_fixture.py");
        assert!(out.status.success(), "moto_fixture.py {cmd} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// An `iam-prune` command acting as the admin against this server.
    pub fn iam_prune(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_iam-prune"));
        c.args(args)
            .args(["--endpoint-url", &self.endpoint])
            .current_dir(crate::common::root())
            .env("AWS_ACCESS_KEY_ID", &self.key)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN");
        c
    }

    /// Sandbox leftovers as `sandbox list --output json` reports them.
    pub fn leftovers(&self) -> Vec<serde_json::Value> {
        let out = self.iam_prune(&["--output", "json", "sandbox", "list"]).output().expect("sandbox list");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("sandbox list: {e}: {}", String::from_utf8_lossy(&out.stderr)));
        v["leftovers"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
