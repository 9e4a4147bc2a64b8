//! A vendor's webhook endpoint on the local stack: an HTTPS server (tests/src/webhook_receiver.py)
//! with a self-signed certificate for 127.0.0.1 that logs every request it gets, so a test can
//! check what publish-events sent — headers, body, signature — as the vendor's server would.
//!
//! The certificate is made once per stack with `openssl`, signed by a CA made with `openssl req`
//! at the path `infra/deploy-local` gives publish-events as `WEBHOOK_EXTRA_CA_PEM`
//! (`$BYOC_LOCAL_DIR/webhook-receiver/ca.pem`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::stack::LocalStack;

const START_TIMEOUT: Duration = Duration::from_secs(15);

/// One request the receiver got.
#[derive(Debug, Clone, Deserialize)]
pub struct ReceivedRequest {
    pub method: String,
    pub path: String,
    /// Header names in lowercase.
    pub headers: std::collections::BTreeMap<String, String>,
    pub body: String,
    /// The status the receiver answered.
    pub answered: u16,
}

impl ReceivedRequest {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

pub struct WebhookReceiver {
    /// The URL to register, `https://127.0.0.1:<port>/hooks/<name>`.
    pub url: String,
    log: PathBuf,
    child: Child,
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).unwrap_or_default();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn openssl(args: &[&str], dir: &Path) -> Result<(), String> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("openssl: {e} (install openssl to run the webhook tests)"))?;
    out.status.success().then_some(()).ok_or_else(|| {
        format!(
            "openssl {}: {}",
            args[0],
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The stack's receiver certificate (for 127.0.0.1, signed by a test CA that publish-events is
/// told to trust: `ca.pem`) and key, made once. Parallel tests race to make them: each makes
/// a set in a directory of its own and renames it into place; the first rename wins (a rename
/// onto a directory with files fails), so a certificate never meets another's key.
fn certificate(stack: &LocalStack) -> Result<(PathBuf, PathBuf), String> {
    let dir = stack.dir.join("webhook-receiver");
    let pair = |d: &Path| (d.join("cert.pem"), d.join("key.pem"));
    if dir.join("ca.pem").is_file() {
        return Ok(pair(&dir));
    }
    let staging = stack
        .dir
        .join(format!(".webhook-receiver-{}", random_suffix()));
    std::fs::create_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
    let extensions = "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n";
    std::fs::write(staging.join("leaf.ext"), extensions).map_err(|e| e.to_string())?;
    let serial = format!("0x{}", random_suffix());
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=byoc test webhook CA",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
        ],
        &staging,
    )?;
    openssl(
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "key.pem",
            "-out",
            "leaf.csr",
        ],
        &staging,
    )?;
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-set_serial",
            &serial,
            "-days",
            "30",
            "-extfile",
            "leaf.ext",
            "-out",
            "cert.pem",
        ],
        &staging,
    )?;
    if std::fs::rename(&staging, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    let found = pair(&dir);
    found
        .0
        .is_file()
        .then_some(found)
        .ok_or_else(|| format!("no certificate in {}", dir.display()))
}

impl WebhookReceiver {
    /// Starts a receiver that answers 500 to its first `fail_first` requests, 200 after.
    pub async fn start(stack: &LocalStack, fail_first: usize) -> Result<Self, String> {
        let (cert, key) = certificate(stack)?;
        let name = random_suffix();
        let work = stack
            .dir
            .join("webhook-receiver")
            .join(format!("run-{name}"));
        std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
        let log = work.join("requests.jsonl");
        let port_file = work.join("port");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("src")
            .join("webhook_receiver.py");
        let child = Command::new("python3")
            .arg(script)
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .arg("--log")
            .arg(&log)
            .arg("--port-file")
            .arg(&port_file)
            .args(["--fail-first", &fail_first.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("python3 webhook_receiver.py: {e}"))?;
        let mut receiver = Self {
            url: String::new(),
            log,
            child,
        };
        let start = Instant::now();
        let port = loop {
            if let Ok(port) = std::fs::read_to_string(&port_file) {
                break port.trim().to_owned();
            }
            if let Ok(Some(status)) = receiver.child.try_wait() {
                return Err(format!("the webhook receiver exited: {status}"));
            }
            if start.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "the webhook receiver did not listen within {START_TIMEOUT:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        receiver.url = format!("https://127.0.0.1:{port}/hooks/{name}");
        Ok(receiver)
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// Waits until `done` holds for the requests received, or `timeout` passes.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        done: impl Fn(&[ReceivedRequest]) -> bool,
    ) -> Result<Vec<ReceivedRequest>, String> {
        let start = Instant::now();
        loop {
            let requests = self.requests();
            if done(&requests) {
                return Ok(requests);
            }
            if start.elapsed() > timeout {
                return Err(format!(
                    "after {timeout:?} the receiver has {} request(s): {requests:#?}",
                    requests.len()
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
