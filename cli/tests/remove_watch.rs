//! `byoc installs remove --watch` as an operator sees it, against a stand-in for the API that
//! serves an install which was created, sat ready for most of a day (a scheduled trust check
//! ran meanwhile), and is then removed: only the removal is shown and timed, unless `--all`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

const INSTALL: &str = "inst-01hx9q3m5v7k2d8c4n6p0r1s3t";

fn entry(seq: u64, step: &str, at: &str, status: Option<&str>, message: &str) -> Value {
    json!({"seq": seq, "step": step, "outcome": "succeeded", "at": format!("2026-01-01T{at}Z"), "status": status, "message": message})
}

/// The install after `looks` GETs: removing on the first, removed and notified after.
fn install(looks: usize) -> Value {
    let mut timeline = vec![
        entry(
            1,
            "request",
            "00:00:00",
            Some("pending"),
            "install requested",
        ),
        entry(
            2,
            "request",
            "00:00:01",
            None,
            "install state machine started",
        ),
        entry(
            3,
            "validate-trust",
            "00:00:02",
            Some("running"),
            "access checked",
        ),
        entry(4, "create-cluster", "00:00:05", None, "cluster created"),
        entry(5, "notify", "00:00:09", Some("ready"), "install is ready"),
        entry(6, "notify", "00:00:10", None, "ready email sent"),
        entry(
            7,
            "validate-trust",
            "02:00:00",
            None,
            "scheduled trust check: ok",
        ),
        entry(
            8,
            "request",
            "23:00:00",
            Some("removing"),
            "removal requested",
        ),
        entry(
            9,
            "request",
            "23:00:00.500",
            None,
            "uninstall state machine started",
        ),
        entry(
            10,
            "sweep-dangling",
            "23:00:01",
            None,
            "deleting 12 resources",
        ),
    ];
    let done = looks > 1;
    if done {
        timeline.push(entry(
            11,
            "sweep-dangling",
            "23:00:31",
            Some("removed"),
            "install removed: nothing it made is left",
        ));
        timeline.push(entry(12, "notify", "23:00:32", None, "removed email sent"));
    }
    json!({
        "install_id": INSTALL, "tenant_id": "acme", "account_id": "111122223333", "region": "us-east-1",
        "status": if done { "removed" } else { "removing" },
        "current_step": "sweep-dangling",
        "notified": if done { json!(["ready", "removed"]) } else { json!(["ready"]) },
        "timeline": timeline,
    })
}

/// Serves DELETE and GET /installs/{id} on 127.0.0.1; the base URL.
fn api() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let looks = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut length = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                    break;
                }
                if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            let (status, answer) = if request_line.starts_with("DELETE") {
                (
                    "202 Accepted",
                    json!({"install_id": INSTALL, "status": "removing", "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:x:remove-7"}),
                )
            } else if request_line.starts_with("GET") {
                ("200 OK", install(looks.fetch_add(1, Ordering::SeqCst) + 1))
            } else {
                ("405 Method Not Allowed", json!({}))
            };
            let text = answer.to_string();
            let mut stream = reader.into_inner();
            let _ = write!(stream, "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}", text.len());
        }
    });
    format!("http://127.0.0.1:{port}/v1")
}

fn byoc(args: &[&str]) -> Output {
    let home = std::env::temp_dir().join("byoc-cli-test-home");
    std::fs::create_dir_all(&home).unwrap();
    Command::new(env!("CARGO_BIN_EXE_byoc"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("BYOC_API_URL", api())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The "time per step" lines, as (step, seconds).
fn step_times(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .skip_while(|l| *l != "time per step")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.split_whitespace();
            let step = parts.next().unwrap_or_default().to_owned();
            let seconds = parts
                .next()
                .unwrap_or_default()
                .trim_end_matches('s')
                .parse()
                .unwrap_or(f64::NAN);
            (step, seconds)
        })
        .collect()
}

#[test]
fn remove_watch_shows_and_times_only_the_removal() {
    let out = byoc(&["installs", "remove", INSTALL, "--watch"]);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("install {INSTALL} removing")),
        "the accepted removal: {text}"
    );
    let shown: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(shown.len(), 5, "entries 8 to 12, each once: {text}");
    assert!(
        shown[0].starts_with("#8 ") && shown[0].contains("removal requested"),
        "{text}"
    );
    assert!(
        shown[4].starts_with("#12") && shown[4].contains("removed email sent"),
        "{text}"
    );
    assert_eq!(
        step_times(&text),
        vec![
            ("request".into(), 1.0),
            ("sweep-dangling".into(), 31.0),
            ("notify".into(), 0.0)
        ],
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with(&format!("install {INSTALL} is removed")),
        "{text}"
    );
}

#[test]
fn remove_watch_all_shows_everything_but_times_no_idle_day() {
    let out = byoc(&["installs", "remove", INSTALL, "--watch", "--all"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with('#')).count(),
        12,
        "{text}"
    );
    assert_eq!(
        step_times(&text),
        vec![
            ("request".into(), 2.0 + 1.0),
            ("validate-trust".into(), 3.0),
            ("create-cluster".into(), 4.0),
            ("notify".into(), 1.0),
            ("sweep-dangling".into(), 31.0),
        ],
        "the day the install sat ready is no step's: {text}"
    );
}

#[test]
fn remove_watch_json_is_the_removals_lines_and_summary() {
    let out = byoc(&["installs", "remove", INSTALL, "--watch", "--output", "json"]);
    assert!(out.status.success(), "{}", stdout(&out));
    let text = stdout(&out);
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| l.starts_with('{') && !l.contains("execution_arn"))
        .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
        .collect();
    let seqs: Vec<u64> = lines.iter().filter_map(|l| l["seq"].as_u64()).collect();
    assert_eq!(seqs, [8, 9, 10, 11, 12], "{text}");
    let summary = lines.last().unwrap();
    assert_eq!(summary["status"], "removed");
    assert_eq!(
        summary["step_seconds"],
        json!({"request": 1.0, "sweep-dangling": 31.0, "notify": 0.0}),
        "{text}"
    );
}

#[test]
fn all_needs_watch() {
    let out = byoc(&["installs", "remove", INSTALL, "--all"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--watch"));
}
