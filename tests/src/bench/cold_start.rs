//! 4. Cold starts: each function's init time, from the process's start to its first request
//!    for work (`GET /2018-06-01/runtime/invocation/next`) to a Lambda Runtime API stub, next to
//!    a hello-world `lambda_runtime` binary built with the same profile (the floor); and the
//!    arm64 release zip sizes from infra/release/build.
//!
//! Runs the host's release builds (x86_64 here; Lambda runs the arm64 ones), each with its
//! deployed environment and the variables Lambda sets, one unmeasured start each first (so
//! every binary is in the page cache, as Lambda's own cache would have it), then the starts
//! round-robin so that noise from the machine falls on every function alike.
//!
//! The SDK's HTTPS client loads the system's trust store while the config is built (every
//! certificate of the bundle, then every file of the certificate directory), so each start is
//! also measured with the trust store narrowed by rustls-native-certs' own variables: the
//! bundle alone, and nothing — what a compiled-in root set would cost at init.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::stats::median;

/// How long a process may take to ask for work before the start counts as failed.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
pub const FLOOR: &str = "hello-lambda";

#[derive(Debug, Clone)]
pub struct Subject {
    pub name: String,
    pub binary: PathBuf,
    pub env: Vec<(String, String)>,
}

/// The trust-store variants, by name, with the variables that make them.
pub fn variants() -> Vec<(&'static str, Vec<(String, String)>)> {
    let empty = std::env::temp_dir().join("bench-empty-cert-dir");
    let _ = std::fs::create_dir_all(&empty);
    let empty = empty.display().to_string();
    let bundle = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ]
    .into_iter()
    .find(|p| Path::new(p).is_file());
    let mut out = vec![(DEPLOYED, vec![])];
    if let Some(bundle) = bundle {
        out.push((
            BUNDLE_ONLY,
            vec![
                ("SSL_CERT_FILE".into(), bundle.into()),
                ("SSL_CERT_DIR".into(), empty.clone()),
            ],
        ));
    }
    out.push((
        NO_SYSTEM_ROOTS,
        vec![
            ("SSL_CERT_FILE".into(), "/dev/null".into()),
            ("SSL_CERT_DIR".into(), empty),
        ],
    ));
    out
}

pub const DEPLOYED: &str = "as deployed";
pub const BUNDLE_ONLY: &str = "system bundle only";
pub const NO_SYSTEM_ROOTS: &str = "no system roots";

#[derive(Debug, Clone, Default)]
pub struct ColdStarts {
    /// Milliseconds per start, by function (the floor under [`FLOOR`]), as deployed.
    pub samples: BTreeMap<String, Vec<f64>>,
    /// The same, by trust-store variant (see [`variants`]).
    pub variants: BTreeMap<&'static str, BTreeMap<String, Vec<f64>>>,
    /// arm64 release zip bytes, by function.
    pub zip_bytes: BTreeMap<String, u64>,
    /// Host release binary bytes, by function.
    pub binary_bytes: BTreeMap<String, u64>,
}

impl ColdStarts {
    pub fn median_ms(&self, name: &str) -> Option<f64> {
        median(self.samples.get(name)?)
    }

    pub fn ratio(&self, name: &str) -> Option<f64> {
        Some(self.median_ms(name)? / self.median_ms(FLOOR)?)
    }

    /// Median and ratio to the (unchanged) floor in a trust-store variant.
    pub fn variant(&self, variant: &str, name: &str) -> Option<(f64, f64)> {
        let ms = median(self.variants.get(variant)?.get(name)?)?;
        Some((ms, ms / self.median_ms(FLOOR)?))
    }
}

/// The variables the Lambda host gives a function process, around its own `env`.
pub fn lambda_env(
    name: &str,
    memory_mb: i32,
    region: &str,
    endpoint: &str,
    env: &[(String, String)],
) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = ["PATH", "HOME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect();
    all.push(("AWS_ENDPOINT_URL".into(), endpoint.into()));
    all.extend(env.iter().cloned());
    for (k, v) in [
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".into()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        ("AWS_REGION", region.into()),
        ("AWS_DEFAULT_REGION", region.into()),
        ("_HANDLER", "bootstrap".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
    ] {
        all.push((k.into(), v));
    }
    all
}

pub fn measure(subjects: &[Subject], starts: usize) -> Result<ColdStarts, String> {
    let mut result = ColdStarts::default();
    let variants = variants();
    for subject in subjects {
        one_start(subject, &[]).map_err(|e| format!("{}: {e}", subject.name))?;
        let bytes = std::fs::metadata(&subject.binary)
            .map_err(|e| format!("{}: {e}", subject.binary.display()))?
            .len();
        result.binary_bytes.insert(subject.name.clone(), bytes);
    }
    for _ in 0..starts {
        for (variant, env) in &variants {
            for subject in subjects {
                let ms = one_start(subject, env)
                    .map_err(|e| format!("{} ({variant}): {e}", subject.name))?;
                result
                    .variants
                    .entry(*variant)
                    .or_default()
                    .entry(subject.name.clone())
                    .or_default()
                    .push(ms);
            }
        }
    }
    result.samples = result.variants.get(DEPLOYED).cloned().unwrap_or_default();
    Ok(result)
}

/// Starts the binary against a fresh Runtime API stub; milliseconds until it asked for work.
fn one_start(subject: &Subject, extra_env: &[(String, String)]) -> Result<f64, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::channel();
    let stub = std::thread::spawn(move || {
        let asked = (|| {
            let (mut stream, _) = listener.accept().ok()?;
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).ok()? == 1 {
                head.push(byte[0]);
            }
            let at = Instant::now();
            String::from_utf8_lossy(&head)
                .starts_with("GET /2018-06-01/runtime/invocation/next ")
                .then_some(at)
        })();
        let _ = tx.send(asked);
    });
    let mut command = Command::new(&subject.binary);
    command
        .env_clear()
        .envs(subject.env.iter().cloned())
        .envs(extra_env.iter().cloned())
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string());
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("{}: {e}", subject.binary.display()))?;
    // The stub stamps the request's arrival itself; this loop only notices a process that
    // died or hangs.
    let asked = loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(asked) => {
                break asked
                    .ok_or_else(|| "the process did not ask the Runtime API for work".to_owned())
            }
            Err(_) if started.elapsed() > INIT_TIMEOUT => {
                break Err(format!("no request for work within {INIT_TIMEOUT:?}"))
            }
            Err(_) => {
                if let Ok(Some(status)) = child.try_wait() {
                    break Err(format!("exited ({status}) before asking for work"));
                }
            }
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    if asked.is_err() {
        // Unblock the stub's accept.
        let _ = std::net::TcpStream::connect(address);
    }
    let _ = stub.join();
    asked.map(|at| (at - started).as_secs_f64() * 1000.0)
}

/// Sizes of the arm64 release zips (`<dir>/<function>/bootstrap.zip`) that exist.
pub fn zip_sizes(dir: &Path, functions: &[String]) -> BTreeMap<String, u64> {
    functions
        .iter()
        .filter_map(|f| {
            Some((
                f.clone(),
                std::fs::metadata(dir.join(f).join("bootstrap.zip"))
                    .ok()?
                    .len(),
            ))
        })
        .collect()
}
