//! The Shadow engine: the testnet runs inside [Shadow](https://shadow.github.io), the
//! discrete-event network simulator that runs the real `hobbits-node run` binary on simulated
//! hosts joined by a simulated network, in simulated time. [`config`] writes Shadow's YAML and
//! GML from the testnet file; [`run_shadow`] runs `shadow` on them in a fresh directory, then
//! reads every node's event log from its host's directory and builds the report, the timeline and
//! the invariants from them ([`report`]), exactly as the other engines do from their logs.
//! Handles no messages; sends none (the nodes talk to each other inside Shadow).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hobbits_actors::NodeId;

use crate::eventlog::NodeLog;
use crate::report::TestnetReport;
use crate::spec::TestnetSpec;
use crate::TestnetError;

pub mod config;
mod files;
pub mod report;
pub mod site;

pub use config::ShadowPlan;

/// Where the `shadow` binary is looked for, in order: `$SHADOW`; `shadow` on `PATH`;
/// `shared/tools/shadow/bin/shadow` under any ancestor of the current directory or of `program`
/// (the project's `../shared` beside a clone or a worktree).
pub fn find_shadow(program: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SHADOW") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    if let Some(path) = std::env::var_os("PATH") {
        if let Some(p) = std::env::split_paths(&path)
            .map(|d| d.join("shadow"))
            .find(|p| p.is_file())
        {
            return Some(p);
        }
    }
    let mut starts: Vec<PathBuf> = std::env::current_dir().into_iter().collect();
    starts.push(program.to_path_buf());
    starts
        .iter()
        .flat_map(|s| s.ancestors())
        .map(|a| a.join("shared/tools/shadow/bin/shadow"))
        .find(|p| p.is_file())
}

/// Whether `shadow` runs here (its libraries, glib among them, load): `shadow --version`.
pub fn shadow_runs(shadow: &Path) -> Result<(), String> {
    let out = Command::new(shadow)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", shadow.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} --version failed ({}): {}",
            shadow.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// What the Shadow engine needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowEngine {
    /// The node binary (absolute).
    pub program: PathBuf,
    /// The `shadow` binary.
    pub shadow: PathBuf,
    /// Nodes per site (`None`: one host per node up to `config::MAX_HOSTS` nodes, sites beyond).
    pub site_size: Option<usize>,
}

/// Kills and reaps Shadow if the run is dropped (Ctrl-C); Shadow takes its hosts' processes
/// with it.
struct ShadowChild(Child);

impl Drop for ShadowChild {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// A fresh run directory, removed at the end unless `keep` (a failed run, for its logs).
struct RunDir(PathBuf, bool);

impl Drop for RunDir {
    fn drop(&mut self) {
        if !self.1 {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn io(what: String) -> impl Fn(std::io::Error) -> TestnetError {
    move |e| TestnetError::Io {
        what: what.clone(),
        reason: e.to_string(),
    }
}

/// Runs `spec` in Shadow to the end of its simulated time and reports from the nodes' event
/// logs (`node_ids`: one per node). The files are written to a fresh directory under the system's temporary directory,
/// removed afterwards (`keep_logs` saves what the invariants were checked on, as usual).
pub async fn run_shadow(
    spec: &TestnetSpec,
    engine: &ShadowEngine,
    node_ids: &[NodeId],
    keep_logs: Option<&Path>,
) -> Result<TestnetReport, TestnetError> {
    let started = Instant::now();
    let plan = ShadowPlan::with_sites(spec, &engine.program, node_ids, engine.site_size)?;
    shadow_runs(&engine.shadow).map_err(|what| TestnetError::Unsupported { what })?;
    let dir = RunDir(
        std::env::temp_dir().join(format!(
            "hobbits-shadow-{}-{}",
            std::process::id(),
            crate::observe::now_us()
        )),
        false,
    );
    plan.write(&dir.0)?;
    let log_path = dir.0.join("shadow.log");
    let log = std::fs::File::create(&log_path).map_err(io(format!("{}", log_path.display())))?;
    let err = log
        .try_clone()
        .map_err(io(format!("{}", log_path.display())))?;
    let child = Command::new(&engine.shadow)
        .arg("shadow.yaml")
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(io(format!("running {}", engine.shadow.display())))?;
    let mut child = ShadowChild(child);
    let status = loop {
        match child.0.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => return Err(io("waiting for shadow".into())(e)),
        }
    };
    let shadow_wall = started.elapsed();
    if !status.success() {
        // The first errors say why (the last lines are the unwinding); the directory stays.
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let errors: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("Error:") || l.contains("[ERROR]"))
            .take(8)
            .collect();
        let mut dir = dir;
        dir.1 = true;
        return Err(TestnetError::NodeStart {
            node: 0,
            reason: format!(
                "shadow exited with {status} (its log and the hosts' files are kept in {}):\n{}",
                dir.0.display(),
                errors.join("\n")
            ),
        });
    }
    let logs = (0..spec.nodes)
        .map(|n| {
            let path = dir.0.join("shadow.data/hosts").join(plan.log_path(n));
            std::fs::File::open(&path)
                .ok()
                .and_then(|f| NodeLog::read(std::io::BufReader::new(f)).ok())
                .unwrap_or_default()
        })
        .collect();
    let record = report::record(&plan, logs);
    if let Some(dir) = keep_logs {
        record
            .save(dir)
            .map_err(io(format!("saving the run's logs in {}", dir.display())))?;
    }
    let mut report = report::build(spec, &plan, &record);
    report.wall_ms = shadow_wall.as_secs_f64() * 1000.0;
    Ok(report)
}
