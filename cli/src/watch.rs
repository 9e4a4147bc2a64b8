//! `byoc installs watch`: follows an install as it happens, one line per timeline event under
//! a spinner that shows the current step; exits 0 when it is ready and 1 when it failed.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use byoc_client::Api;
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::Output;
use crate::timeline;

const POLL: Duration = Duration::from_millis(500);

/// Which part of the timeline to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// All of it (`installs watch`, `--all`).
    All,
    /// The operation the command just started (a retry, a removal): from the newest
    /// operation's first entry, as found on the first look.
    LatestOperation,
}

/// Follows `install_id`, showing the part of its timeline that `scope` says.
pub async fn run(
    api: &Api,
    install_id: &str,
    output: Output,
    scope: Scope,
) -> Result<ExitCode, String> {
    // The spinner only on a terminal: piped into a file or a script, plain lines.
    let spinner = match output {
        Output::Text if std::io::stderr().is_terminal() => {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                    .map_err(|e| e.to_string())?,
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            Some(bar)
        }
        _ => None,
    };
    let say = |line: String| match &spinner {
        Some(bar) => bar.println(line),
        None => println!("{line}"),
    };
    let mut shown = 0;
    // Entries up to this seq are not shown; fixed on the first look.
    let mut after: Option<u64> = None;
    loop {
        let response = api
            .get(&format!("/installs/{install_id}"))
            .await
            .map_err(|e| e.to_string())?;
        if !response.is_success() {
            if let Some(bar) = &spinner {
                bar.finish_and_clear();
            }
            eprintln!("HTTP {}: {}", response.status, response.text);
            return Ok(ExitCode::from(1));
        }
        let install = response.json;
        let after = *after.get_or_insert_with(|| match scope {
            Scope::All => 0,
            Scope::LatestOperation => {
                timeline::latest_operation_start(&install).map_or(0, |seq| seq.saturating_sub(1))
            }
        });
        let events: Vec<serde_json::Value> = install["timeline"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["seq"].as_u64().is_some_and(|seq| seq > after))
            .cloned()
            .collect();
        for event in events.iter().skip(shown) {
            say(match output {
                Output::Json => event.to_string(),
                Output::Text => timeline::line(event),
            });
        }
        shown = events.len();
        let status = install["status"].as_str().unwrap_or_default();
        if let Some(bar) = &spinner {
            bar.set_message(format!(
                "{status}: {}",
                install["current_step"].as_str().unwrap_or("-")
            ));
        }
        // Done once the outcome's email is out, so the timeline is complete. An upgrade ends
        // with the install ready again: its own email says how it went.
        let notified = |notice: &str| {
            install["notified"]
                .as_array()
                .is_some_and(|n| n.iter().any(|x| x == notice))
        };
        let upgrade = events
            .first()
            .is_some_and(|first| first["status"] == "upgrading");
        let (finished, failed) = match status {
            "ready" if upgrade => (
                notified("upgraded") || notified("upgrade-failed"),
                notified("upgrade-failed"),
            ),
            "ready" | "failed" | "removed" => (notified(status), status == "failed"),
            _ => (false, false),
        };
        if finished {
            if let Some(bar) = &spinner {
                bar.finish_and_clear();
            }
            summarize(&since(&install, after), output);
            return Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The install with only the timeline after entry `after`, so an operation is timed on its own.
fn since(install: &serde_json::Value, after: u64) -> serde_json::Value {
    let mut install = install.clone();
    if let Some(timeline) = install["timeline"].as_array_mut() {
        timeline.retain(|e| e["seq"].as_u64().is_some_and(|seq| seq > after));
    }
    install
}

fn summarize(install: &serde_json::Value, output: Output) {
    let durations = timeline::step_durations(install);
    match output {
        Output::Json => {
            let steps: serde_json::Map<String, serde_json::Value> = durations
                .into_iter()
                .map(|(s, d)| (s, serde_json::json!(d)))
                .collect();
            println!(
                "{}",
                serde_json::json!({"install_id": install["install_id"], "status": install["status"], "last_error": install["last_error"], "step_seconds": steps})
            );
        }
        Output::Text => {
            println!("\ntime per step");
            for (step, seconds) in durations {
                println!("  {step:<15} {seconds:>7.1}s");
            }
            match install["status"].as_str() {
                Some("failed") => {
                    let error = &install["last_error"];
                    println!(
                        "\ninstall {} FAILED at {}: {} — {}",
                        install["install_id"].as_str().unwrap_or("-"),
                        error["step"].as_str().unwrap_or("-"),
                        error["code"].as_str().unwrap_or("-"),
                        error["message"].as_str().unwrap_or("-")
                    );
                }
                Some(status) => println!(
                    "\ninstall {} is {status}",
                    install["install_id"].as_str().unwrap_or("-")
                ),
                None => {}
            }
        }
    }
}
