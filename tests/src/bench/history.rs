//! An execution's history as Step Functions bills and times it: the states entered (each one
//! a state transition, and each retry another), how long each took, what each task returned.

use aws_sdk_sfn::types::HistoryEvent;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct StateRun {
    pub name: String,
    /// `Task`, `Choice`, `Wait`, `Pass`, `Fail`, ...
    pub kind: String,
    /// Seconds since the epoch.
    pub entered: f64,
    pub exited: Option<f64>,
    /// A task's result (its last attempt's).
    pub output: Option<Value>,
    /// Invocations of a task, retries included.
    pub attempts: u32,
}

impl StateRun {
    pub fn seconds(&self) -> f64 {
        self.exited.map_or(0.0, |end| end - self.entered)
    }
}

#[derive(Debug, Clone, Default)]
pub struct History {
    pub started: f64,
    pub ended: Option<f64>,
    pub states: Vec<StateRun>,
}

fn seconds(event: &HistoryEvent) -> f64 {
    let t = event.timestamp();
    t.secs() as f64 + f64::from(t.subsec_nanos()) / 1e9
}

impl History {
    pub async fn fetch(sfn: &aws_sdk_sfn::Client, execution_arn: &str) -> Result<Self, String> {
        let mut events = Vec::new();
        let mut token = None;
        loop {
            let page = sfn
                .get_execution_history()
                .execution_arn(execution_arn)
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| format!("GetExecutionHistory: {e:?}"))?;
            events.extend(page.events().iter().cloned());
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        Ok(Self::from_events(&events))
    }

    pub fn from_events(events: &[HistoryEvent]) -> Self {
        let mut history = History::default();
        for event in events {
            let kind = event.r#type().as_str();
            let at = seconds(event);
            if kind == "ExecutionStarted" {
                history.started = at;
            } else if kind.starts_with("Execution") {
                history.ended = Some(at);
            } else if let Some(state) = kind.strip_suffix("StateEntered") {
                let name = event
                    .state_entered_event_details()
                    .map(|d| d.name().to_owned())
                    .unwrap_or_default();
                history.states.push(StateRun {
                    name,
                    kind: state.to_owned(),
                    entered: at,
                    exited: None,
                    output: None,
                    attempts: 0,
                });
            } else if kind.ends_with("StateExited") {
                if let Some(last) = history.states.last_mut() {
                    last.exited = Some(at);
                }
            } else if kind == "LambdaFunctionScheduled" || kind == "TaskScheduled" {
                if let Some(last) = history.states.last_mut() {
                    last.attempts += 1;
                }
            } else if kind == "LambdaFunctionSucceeded" || kind == "TaskSucceeded" {
                // A Lambda task's result, or what a callback task was ended with.
                let output = event
                    .lambda_function_succeeded_event_details()
                    .and_then(|d| d.output())
                    .or_else(|| {
                        event
                            .task_succeeded_event_details()
                            .and_then(|d| d.output())
                    })
                    .and_then(|o| serde_json::from_str(o).ok());
                if let Some(last) = history.states.last_mut() {
                    last.output = output;
                }
            }
        }
        history
    }

    /// Billed state transitions: every state entered, and every retry of a task.
    pub fn transitions(&self) -> usize {
        self.states
            .iter()
            .map(|s| 1 + s.attempts.saturating_sub(1) as usize)
            .sum()
    }

    pub fn retries(&self) -> usize {
        self.states
            .iter()
            .map(|s| s.attempts.saturating_sub(1) as usize)
            .sum()
    }

    pub fn wait_seconds(&self) -> f64 {
        self.states
            .iter()
            .filter(|s| s.kind == "Wait")
            .map(StateRun::seconds)
            .sum()
    }

    pub fn count(&self, name: &str) -> usize {
        self.states.iter().filter(|s| s.name == name).count()
    }

    pub fn duration(&self) -> Option<f64> {
        self.ended.map(|end| end - self.started)
    }
}
