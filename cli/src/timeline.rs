//! An install's timeline as lines, and the time each step took.

use chrono::{DateTime, Utc};
use serde_json::Value;

pub fn at(event: &Value) -> Option<DateTime<Utc>> {
    event["at"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

pub fn line(event: &Value) -> String {
    format!(
        "#{:<3} {:<15} {:<9} {}",
        event["seq"]
            .as_u64()
            .map_or_else(|| "?".to_owned(), |n| n.to_string()),
        event["step"].as_str().unwrap_or("-"),
        event["outcome"].as_str().unwrap_or("-"),
        event["message"].as_str().unwrap_or("")
    )
}

pub fn lines(install: &Value) -> Vec<String> {
    install["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .map(line)
        .collect()
}

/// Whether an entry moved the install to a status where nothing runs.
fn ends_operation(event: &Value) -> bool {
    matches!(
        event["status"].as_str(),
        Some("ready" | "failed" | "removed")
    )
}

fn step(event: &Value) -> &str {
    event["step"].as_str().unwrap_or("-")
}

/// The timeline split into operations (the install, a retry, a removal, ...), in order. An
/// operation starts at a `request` entry (the first timeline entry always starts one) and
/// ends with the entry that made the install ready, failed or removed, plus the `notify`
/// entries right after it (the email). Entries written while the install sat idle between
/// operations (a scheduled trust check or sweep) belong to none: no step was running.
pub fn operations(install: &Value) -> Vec<Vec<&Value>> {
    let mut operations: Vec<Vec<&Value>> = Vec::new();
    // Running: in an operation; ending: its end seen, only its email follows; idle: between.
    #[derive(PartialEq)]
    enum State {
        Running,
        Ending,
        Idle,
    }
    let mut state = State::Idle;
    let mut previous_step = "";
    for event in install["timeline"].as_array().into_iter().flatten() {
        let starts =
            step(event) == "request" && (previous_step != "request" || state != State::Running);
        if starts || operations.is_empty() {
            operations.push(Vec::new());
            state = State::Running;
        } else if state == State::Ending && step(event) != "notify" {
            state = State::Idle;
        }
        previous_step = step(event);
        if state == State::Idle {
            continue;
        }
        if let Some(current) = operations.last_mut() {
            current.push(event);
        }
        if ends_operation(event) {
            state = State::Ending;
        }
    }
    operations
}

/// The seq of the first entry of the newest operation: where a command that just started one
/// (a retry, a removal) begins to follow the timeline.
pub fn latest_operation_start(install: &Value) -> Option<u64> {
    operations(install).last()?.first()?["seq"].as_u64()
}

/// Each step in the order it first ran, with the time it ran: within an operation, from its
/// first entry to the first entry of the step after it (or to its own last entry, for the
/// operation's last step). Time between operations, when nothing ran, counts for no step.
pub fn step_durations(install: &Value) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = Vec::new();
    for operation in operations(install) {
        let mut steps: Vec<(&str, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        for event in operation {
            let Some(time) = at(event) else { continue };
            match steps.last_mut() {
                Some(last) if last.0 == step(event) => last.2 = time,
                _ => steps.push((step(event), time, time)),
            }
        }
        for (i, (name, start, end)) in steps.iter().enumerate() {
            let until = steps.get(i + 1).map_or(*end, |next| next.1);
            let seconds = (until - *start).num_milliseconds() as f64 / 1000.0;
            match out.iter_mut().find(|(s, _)| s == name) {
                Some(existing) => existing.1 += seconds,
                None => out.push(((*name).to_owned(), seconds)),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn steps_are_timed_until_the_next_step_starts() {
        let install = json!({"timeline": [
            {"seq": 1, "step": "request", "outcome": "succeeded", "at": "2026-01-01T00:00:00Z", "message": ""},
            {"seq": 2, "step": "validate-trust", "outcome": "started", "at": "2026-01-01T00:00:01Z", "message": ""},
            {"seq": 3, "step": "validate-trust", "outcome": "succeeded", "at": "2026-01-01T00:00:04Z", "message": ""},
            {"seq": 4, "step": "notify", "outcome": "succeeded", "at": "2026-01-01T00:00:04.500Z", "message": ""},
        ]});
        assert_eq!(
            step_durations(&install),
            vec![
                ("request".into(), 1.0),
                ("validate-trust".into(), 3.5),
                ("notify".into(), 0.0)
            ]
        );
        assert_eq!(lines(&install)[1], "#2   validate-trust  started   ");
    }

    fn entry(seq: u64, step: &str, at: &str, status: Option<&str>) -> Value {
        json!({"seq": seq, "step": step, "outcome": "succeeded", "at": format!("2026-01-01T{at}Z"), "message": "", "status": status})
    }

    /// Ready at 00:00:10, a scheduled trust check two hours later, removed the next day.
    fn installed_checked_and_removed() -> Value {
        json!({"timeline": [
            entry(1, "request", "00:00:00", Some("pending")),
            entry(2, "request", "00:00:01", None),
            entry(3, "validate-trust", "00:00:02", Some("running")),
            entry(4, "create-cluster", "00:00:05", None),
            entry(5, "notify", "00:00:09", Some("ready")),
            entry(6, "notify", "00:00:10", None),
            entry(7, "validate-trust", "02:00:00", None),
            entry(8, "request", "23:00:00", Some("removing")),
            entry(9, "request", "23:00:00.500", None),
            entry(10, "sweep-dangling", "23:00:01", None),
            entry(11, "sweep-dangling", "23:00:31", Some("removed")),
            entry(12, "notify", "23:00:32", None),
        ]})
    }

    #[test]
    fn idle_time_between_operations_is_no_step() {
        let install = installed_checked_and_removed();
        assert_eq!(
            step_durations(&install),
            vec![
                ("request".into(), 2.0 + 1.0),
                ("validate-trust".into(), 3.0),
                ("create-cluster".into(), 4.0),
                ("notify".into(), 1.0 + 0.0),
                ("sweep-dangling".into(), 31.0),
            ],
            "notify is not charged the day the install sat ready, nor the trust check's gap"
        );
        let seqs: Vec<Vec<u64>> = operations(&install)
            .iter()
            .map(|op| op.iter().filter_map(|e| e["seq"].as_u64()).collect())
            .collect();
        assert_eq!(
            seqs,
            vec![vec![1, 2, 3, 4, 5, 6], vec![8, 9, 10, 11, 12]],
            "the trust check ran while idle"
        );
        assert_eq!(latest_operation_start(&install), Some(8));
    }

    #[test]
    fn a_failed_install_retried_later_is_timed_without_the_wait() {
        let install = json!({"timeline": [
            entry(1, "request", "00:00:00", Some("pending")),
            entry(2, "validate-trust", "00:00:01", Some("running")),
            entry(3, "validate-trust", "00:00:03", Some("failed")),
            entry(4, "notify", "00:00:04", None),
            entry(5, "request", "05:00:00", Some("pending")),
            entry(6, "validate-trust", "05:00:01", Some("running")),
            entry(7, "notify", "05:00:02", Some("ready")),
        ]});
        assert_eq!(
            step_durations(&install),
            vec![
                ("request".into(), 2.0),
                ("validate-trust".into(), 3.0 + 1.0),
                ("notify".into(), 0.0)
            ]
        );
        assert_eq!(latest_operation_start(&install), Some(5));
        // Followed from the retry on: the retry alone.
        let retry = json!({"timeline": install["timeline"].as_array().unwrap()[4..]});
        assert_eq!(
            step_durations(&retry),
            vec![
                ("request".into(), 1.0),
                ("validate-trust".into(), 1.0),
                ("notify".into(), 0.0)
            ]
        );
    }

    #[test]
    fn an_unfinished_operation_runs_to_its_newest_entry() {
        let install = json!({"timeline": [
            entry(1, "request", "00:00:00", Some("pending")),
            entry(2, "create-network", "00:00:01", None),
            entry(3, "create-network", "00:00:09", None),
        ]});
        assert_eq!(
            step_durations(&install),
            vec![("request".into(), 1.0), ("create-network".into(), 8.0)]
        );
        assert_eq!(latest_operation_start(&install), Some(1));
        assert_eq!(latest_operation_start(&json!({})), None);
    }
}
