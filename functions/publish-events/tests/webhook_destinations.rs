//! Delivery reaches only allowed addresses, through the addresses it checked: a real HTTPS
//! receiver on 127.0.0.1 (allowed here, as on the local test stack), found under a made-up
//! name by a substituted resolver, so a delivery that arrives went where the resolver said.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use byoc_core::destination::{DestinationPolicy, StaticResolver};
use byoc_domain::ids::{AccountId, Region, TenantId};
use byoc_domain::install_event::InstallEvent;
use byoc_domain::model::Install;
use byoc_domain::options::InstallOptions;
use byoc_domain::webhook::{DeliveryOutcome, Webhook, WebhookSecret, WebhookUrl};
use chrono::Utc;
use publish_events::webhook_sender::MAX_ATTEMPTS;
use publish_events::WebhookSender;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// What the receiver answers.
#[derive(Clone, Copy)]
enum Answer {
    Ok,
    RedirectTo(u16),
    /// 200 with a body that never ends.
    Endless,
}

/// A request the receiver got: its head (lowercased) and its body.
type Request = (String, Vec<u8>);

struct Receiver {
    port: u16,
    ca: PathBuf,
    got: Arc<Mutex<Vec<Request>>>,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test CA and a certificate for hooks.test signed by it, in a directory of their own.
fn certificates() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("byoc-webhook-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("leaf.ext"), "subjectAltName=DNS:hooks.test\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n").unwrap();
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=test CA",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        &dir,
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=hooks.test",
            "-keyout",
            "key.pem",
            "-out",
            "leaf.csr",
        ],
    );
    openssl(
        &dir,
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
            "7",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
            "-out",
            "cert.pem",
        ],
    );
    dir
}

fn serve(answer: Answer) -> Receiver {
    let dir = certificates();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("cert.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("key.pem")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&got);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let Ok(conn) = rustls::ServerConnection::new(Arc::clone(&config)) else {
                continue;
            };
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let Some(request) = read_request(&mut tls) else {
                continue;
            };
            log.lock().unwrap().push(request);
            let _ = match answer {
                Answer::Ok => tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"),
                Answer::RedirectTo(port) => tls.write_all(format!("HTTP/1.1 302 Found\r\nlocation: https://hooks.test:{port}/elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes()),
                Answer::Endless => {
                    let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000000\r\nconnection: close\r\n\r\n");
                    let chunk = vec![b'x'; 64 * 1024];
                    let started = Instant::now();
                    while tls.write_all(&chunk).is_ok() && started.elapsed() < Duration::from_secs(20) {}
                    Ok(())
                }
            };
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    Receiver {
        port,
        ca: dir.join("ca.pem"),
        got,
    }
}

fn read_request(tls: &mut impl Read) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tls.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < end + 4 + length {
            let n = tls.read(&mut chunk).ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        return Some((head, buf[end + 4..end + 4 + length].to_vec()));
    }
}

fn event() -> InstallEvent {
    let (install, entry) = Install::requested(
        TenantId::parse("tenant_id", "acme").unwrap(),
        AccountId::parse("account_id", "111122223333").unwrap(),
        Region::parse("region", "us-east-1").unwrap(),
        InstallOptions::default(),
        Utc::now(),
    )
    .unwrap();
    InstallEvent::new(&install, &entry)
}

fn webhook(url: &str) -> Webhook {
    Webhook {
        url: WebhookUrl::parse("url", url).unwrap(),
        secret: WebhookSecret::generate().unwrap(),
        created_at: Utc::now(),
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// A sender that, like the local test stack, also allows 127.0.0.1.
fn sender(
    receiver: &Receiver,
    policy: DestinationPolicy,
    resolver: StaticResolver,
) -> WebhookSender {
    WebhookSender::new(Some(receiver.ca.clone()), policy, Arc::new(resolver))
}

fn test_stack() -> DestinationPolicy {
    DestinationPolicy::allowing("127.0.0.1/32").unwrap()
}

#[tokio::test]
async fn an_allowed_destination_receives_the_signed_event_at_the_checked_address() {
    let receiver = serve(Answer::Ok);
    let resolver = StaticResolver::default().with("hooks.test", &[ip("127.0.0.1")]);
    let hook = webhook(&format!("https://hooks.test:{}/hooks/a", receiver.port));
    let delivery = sender(&receiver, test_stack(), resolver)
        .deliver(&hook, &event(), MAX_ATTEMPTS)
        .await;
    assert_eq!(
        (delivery.outcome, delivery.attempts, delivery.http_status),
        (DeliveryOutcome::Delivered, 1, Some(200)),
        "{delivery:?}"
    );
    let got = receiver.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let (head, body) = &got[0];
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_default()
            .to_owned()
    };
    let timestamp: i64 = header("byoc-timestamp").parse().unwrap();
    assert_eq!(
        header("byoc-signature"),
        hook.secret.sign(timestamp, body),
        "signed with the tenant's secret"
    );
}

#[tokio::test]
async fn a_name_that_resolves_to_a_private_address_is_refused_and_not_retried() {
    let receiver = serve(Answer::Ok);
    let resolver = StaticResolver::default().with("internal.test", &[ip("10.0.0.5")]);
    let hook = webhook("https://internal.test/hooks/a?token=secret-ish");
    let delivery = sender(&receiver, test_stack(), resolver)
        .deliver(&hook, &event(), MAX_ATTEMPTS)
        .await;
    assert_eq!(
        (delivery.outcome, delivery.attempts, delivery.http_status),
        (DeliveryOutcome::Failed, 1, None),
        "{delivery:?}"
    );
    // What publish-events writes on the timeline entry, as for any failed delivery.
    let recorded = serde_json::to_value(&delivery).unwrap();
    let error = recorded["error"].as_str().unwrap();
    assert!(
        error.contains("internal.test resolves to 10.0.0.5, a private address (RFC 1918)"),
        "{error}"
    );
    assert!(!error.contains("token"), "{error}");
}

#[tokio::test]
async fn the_check_is_on_the_connection_path_names_and_literals_alike() {
    let receiver = serve(Answer::Ok);
    let resolver = StaticResolver::default().with("hooks.test", &[ip("127.0.0.1")]);
    // Public only (as on AWS): the very receiver above is now out of reach, by name or address.
    let public_only = sender(&receiver, DestinationPolicy::public_only(), resolver);
    for url in [
        format!("https://hooks.test:{}/a", receiver.port),
        format!("https://127.0.0.1:{}/a", receiver.port),
        format!("https://0x7f000001:{}/a", receiver.port),
    ] {
        let delivery = public_only
            .deliver(&webhook(&url), &event(), MAX_ATTEMPTS)
            .await;
        assert_eq!(
            (delivery.outcome, delivery.attempts),
            (DeliveryOutcome::Failed, 1),
            "{url}: {delivery:?}"
        );
        assert!(
            delivery
                .error
                .as_deref()
                .unwrap_or_default()
                .contains("loopback"),
            "{url}: {delivery:?}"
        );
    }
    assert!(
        receiver.got.lock().unwrap().is_empty(),
        "nothing reached the receiver"
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let target = serve(Answer::Ok);
    let receiver = serve(Answer::RedirectTo(target.port));
    let resolver = StaticResolver::default().with("hooks.test", &[ip("127.0.0.1")]);
    let hook = webhook(&format!("https://hooks.test:{}/hooks/a", receiver.port));
    let delivery = sender(&receiver, test_stack(), resolver)
        .deliver(&hook, &event(), MAX_ATTEMPTS)
        .await;
    assert_eq!(
        (delivery.outcome, delivery.attempts, delivery.http_status),
        (DeliveryOutcome::Failed, 1, Some(302)),
        "{delivery:?}"
    );
    assert_eq!(receiver.got.lock().unwrap().len(), 1);
    assert!(
        target.got.lock().unwrap().is_empty(),
        "the redirect's target got nothing"
    );
}

#[tokio::test]
async fn an_endless_answer_is_not_read_to_its_end() {
    let receiver = serve(Answer::Endless);
    let resolver = StaticResolver::default().with("hooks.test", &[ip("127.0.0.1")]);
    let hook = webhook(&format!("https://hooks.test:{}/hooks/a", receiver.port));
    let started = Instant::now();
    let delivery = sender(&receiver, test_stack(), resolver)
        .deliver(&hook, &event(), MAX_ATTEMPTS)
        .await;
    assert_eq!(
        (delivery.outcome, delivery.http_status),
        (DeliveryOutcome::Delivered, Some(200)),
        "{delivery:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
}
