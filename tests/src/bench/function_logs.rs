//! What the local Lambda host wrote for each invocation (infra/local/moto_ext/lambda_runtime.py
//! appends Lambda's `REPORT` line, with the duration, the configured memory and the process id,
//! to `logs/functions/<function>.log`), read from a point in time on.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::LocalStack;

#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The step the function runs (`create-cluster`), as the deployment names it.
    pub function: String,
    pub duration_ms: f64,
    pub memory_mb: f64,
    pub pid: u32,
    pub failed: bool,
}

impl Invocation {
    pub fn gb_seconds(&self) -> f64 {
        self.memory_mb / 1024.0 * self.duration_ms / 1000.0
    }
}

/// Where each log file ended at some moment.
#[derive(Debug, Clone, Default)]
pub struct Cursor(BTreeMap<PathBuf, u64>);

impl Cursor {
    /// Where `file` ended (0 if it did not exist yet).
    pub fn offset(&self, file: &std::path::Path) -> u64 {
        self.0.get(file).copied().unwrap_or(0)
    }
}

pub struct FunctionLogs {
    dir: PathBuf,
    /// Deployed function name → step name.
    names: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
pub struct Since {
    pub invocations: Vec<Invocation>,
    /// Bytes written per function (what CloudWatch Logs would ingest).
    pub bytes: BTreeMap<String, u64>,
}

impl FunctionLogs {
    pub fn new(stack: &LocalStack) -> Self {
        let names = stack
            .outputs
            .functions
            .iter()
            .map(|(step, name)| (name.clone(), step.clone()))
            .collect();
        Self {
            dir: stack.dir.join("logs").join("functions"),
            names,
        }
    }

    /// The log file of a step's function (`watch-install`).
    pub fn file_of(&self, step: &str) -> Option<PathBuf> {
        let deployed = self.names.iter().find(|(_, s)| s.as_str() == step)?.0;
        Some(self.dir.join(format!("{deployed}.log")))
    }

    pub fn cursor(&self) -> Cursor {
        let mut sizes = BTreeMap::new();
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            if let Ok(meta) = entry.metadata() {
                sizes.insert(entry.path(), meta.len());
            }
        }
        Cursor(sizes)
    }

    /// Everything written after `cursor`.
    pub fn since(&self, cursor: &Cursor) -> Since {
        let mut since = Since::default();
        for (path, size) in &self.cursor().0 {
            let start = cursor.0.get(path).copied().unwrap_or(0);
            if *size <= start {
                continue;
            }
            let Some(deployed) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let function = self
                .names
                .get(deployed)
                .cloned()
                .unwrap_or_else(|| deployed.to_owned());
            let Ok(bytes) = std::fs::read(path) else {
                continue;
            };
            let end = (*size as usize).min(bytes.len());
            let text = String::from_utf8_lossy(&bytes[(start as usize).min(end)..end]);
            *since.bytes.entry(function.clone()).or_default() += end as u64 - start.min(end as u64);
            since
                .invocations
                .extend(text.lines().filter_map(|line| report(&function, line)));
        }
        since
    }

    /// Waits until no function has written anything for `quiet` (stream-triggered functions
    /// run after the install's own steps), at most `max`.
    pub async fn wait_quiet(&self, quiet: Duration, max: Duration) {
        let start = Instant::now();
        let mut last = self.cursor().0;
        let mut still_since = Instant::now();
        while start.elapsed() < max && still_since.elapsed() < quiet {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = self.cursor().0;
            if now != last {
                last = now;
                still_since = Instant::now();
            }
        }
    }
}

/// A `REPORT RequestId: …\tDuration: 12.34 ms\tMemory Size: 256 MB\tPid: 42[\tStatus: …]` line.
fn report(function: &str, line: &str) -> Option<Invocation> {
    let rest = line.strip_prefix("REPORT ")?;
    let field = |name: &str| {
        rest.split('\t')
            .find_map(|f| f.trim().strip_prefix(name))
            .map(str::trim)
    };
    let number = |name: &str, unit: &str| {
        field(name).and_then(|v| v.trim_end_matches(unit).trim().parse::<f64>().ok())
    };
    Some(Invocation {
        function: function.to_owned(),
        duration_ms: number("Duration:", "ms")?,
        memory_mb: number("Memory Size:", "MB")?,
        pid: field("Pid:")?.parse().ok()?,
        failed: field("Status:").is_some(),
    })
}

/// The largest peak resident set (VmHWM) seen per function, over the processes that served
/// invocations, sampled while they are alive (the host keeps idle ones warm). A warm process
/// serves one invocation at a time, so its peak is that of its largest invocation.
#[derive(Debug, Clone, Default)]
pub struct PeakRss(pub BTreeMap<String, f64>);

impl PeakRss {
    pub fn sample(&mut self, invocations: &[Invocation]) {
        for inv in invocations {
            // The pid must still be that function's process, not a recycled number.
            let cmdline = std::fs::read(format!("/proc/{}/cmdline", inv.pid)).unwrap_or_default();
            if !String::from_utf8_lossy(&cmdline).contains(&inv.function) {
                continue;
            }
            if let Some(mb) = peak_rss_mb(inv.pid) {
                let peak = self.0.entry(inv.function.clone()).or_default();
                *peak = peak.max(mb);
            }
        }
    }
}

/// The peak resident set (VmHWM) of a live process, in MB.
pub fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_are_read() {
        let line = "REPORT RequestId: abc\tDuration: 134.43 ms\tMemory Size: 256 MB\tPid: 19409";
        let inv = report("create-network", line).unwrap();
        assert_eq!(
            (inv.duration_ms, inv.memory_mb, inv.pid, inv.failed),
            (134.43, 256.0, 19409, false)
        );
        assert!((inv.gb_seconds() - 0.25 * 0.13443).abs() < 1e-9);
        let failed = report("x", "REPORT RequestId: a\tDuration: 1.00 ms\tMemory Size: 128 MB\tPid: 7\tStatus: Sandbox.Timedout").unwrap();
        assert!(failed.failed);
        assert!(report("x", "START RequestId: a Version: $LATEST").is_none());
    }

    #[test]
    fn this_process_has_a_peak_resident_set() {
        assert!(peak_rss_mb(std::process::id()).is_some_and(|mb| mb > 0.0));
    }
}
