//! An install's timeline as lines, and the time each step took.

use chrono::{DateTime, Utc};
use serde_json::Value;

pub fn at(event: &Value) -> Option<DateTime<Utc>> {
    event["at"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
}

pub fn line(event: &Value) -> String {
    format!(
        "#{:<3} {:<15} {:<9} {}",
        event["seq"].as_u64().map_or_else(|| "?".to_owned(), |n| n.to_string()),
        event["step"].as_str().unwrap_or("-"),
        event["outcome"].as_str().unwrap_or("-"),
        event["message"].as_str().unwrap_or("")
    )
}

pub fn lines(install: &Value) -> Vec<String> {
    install["timeline"].as_array().into_iter().flatten().map(line).collect()
}

/// Each step in the order it first ran, with the time from its first event to the first
/// event of the step after it (or to its own last event, for the last step).
pub fn step_durations(install: &Value) -> Vec<(String, f64)> {
    let events: Vec<&Value> = install["timeline"].as_array().into_iter().flatten().collect();
    let mut steps: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for event in events {
        let (Some(step), Some(time)) = (event["step"].as_str(), at(event)) else { continue };
        match steps.last_mut() {
            Some(last) if last.0 == step => last.2 = time,
            _ => steps.push((step.to_owned(), time, time)),
        }
    }
    let mut out: Vec<(String, f64)> = Vec::new();
    for (i, (step, start, end)) in steps.iter().enumerate() {
        let until = steps.get(i + 1).map_or(*end, |next| next.1);
        let seconds = (until - *start).num_milliseconds() as f64 / 1000.0;
        match out.iter_mut().find(|(s, _)| s == step) {
            Some(existing) => existing.1 += seconds,
            None => out.push((step.clone(), seconds)),
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
        assert_eq!(step_durations(&install), vec![("request".into(), 1.0), ("validate-trust".into(), 3.5), ("notify".into(), 0.0)]);
        assert_eq!(lines(&install)[1], "#2   validate-trust  started   ");
    }
}
