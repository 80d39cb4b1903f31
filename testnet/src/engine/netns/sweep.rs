//! Leftovers of killed runs: at start, every namespace named `hbt-<pid>-<suffix>-…` whose owner
//! is dead (no process with that pid, or one with another start time than the owner file
//! records) is removed with the processes inside it; runs whose owner lives are left alone, so
//! two runs, or two test processes, never remove each other's network. Sends and handles nothing.

use std::collections::BTreeMap;

use super::command::{run, Tool};
use super::lab::{process_start_time, remove_namespaces, RunId, OWNER_DIR};
use super::NetnsError;

/// What a sweep removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Runs removed, with their namespaces.
    pub removed: Vec<(String, Vec<String>)>,
    /// Runs left alone because their owner is alive.
    pub alive: Vec<String>,
}

/// Whether the owner of `run` is alive: its pid exists and, when the owner file says, with the
/// same start time.
pub fn owner_alive(run: &RunId) -> bool {
    let Some(pid) = run.owner_pid() else {
        return false;
    };
    let Some(started) = process_start_time(pid) else {
        return false;
    };
    match std::fs::read_to_string(run.owner_file()) {
        Ok(text) => {
            let recorded = text
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse::<u64>().ok());
            recorded.is_none_or(|r| r == 0 || r == started)
        }
        // A run records its owner before creating anything; without the file the pid decides.
        Err(_) => true,
    }
}

/// Removes the runs whose owner is dead.
pub fn sweep() -> Result<SweepReport, NetnsError> {
    let listing = run(Tool::Ip, &["netns", "list"], None)?;
    let mut runs: BTreeMap<String, (RunId, Vec<String>)> = BTreeMap::new();
    for line in listing.lines() {
        // `ip netns list` prints `NAME` or `NAME (id: N)`.
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        if let Some((id, _)) = RunId::from_netns_name(name) {
            runs.entry(id.as_str().to_string())
                .or_insert_with(|| (id, Vec::new()))
                .1
                .push(name.to_string());
        }
    }
    // Owner files of runs that died before (or after) their namespaces.
    if let Ok(dir) = std::fs::read_dir(OWNER_DIR) {
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some((id, _)) = RunId::from_netns_name(&format!("hbt-{name}-hub")) {
                runs.entry(name).or_insert_with(|| (id, Vec::new()));
            }
        }
    }
    let mut report = SweepReport::default();
    for (key, (id, names)) in runs {
        if owner_alive(&id) {
            report.alive.push(key);
            continue;
        }
        tracing::warn!(
            run = key.as_str(),
            namespaces = names.len(),
            "removing a dead run's namespaces"
        );
        remove_namespaces(&id, &names)?;
        report.removed.push((key, names));
    }
    Ok(report)
}
