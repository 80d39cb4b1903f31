//! `hobbits-node testnet [FILE]`: stand up a local testnet on 127.0.0.1 (the default: 8 nodes, a
//! random topology, one producer, a late joiner and a kill / restart), play its scenario, print a
//! live progress line when stderr is a terminal, and end with the report. Flags override the file.
//! Exit status: 0 converged, 1 not converged (or a node failed), 2 bad file or flags.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use hobbits_testnet::engine::shadow;
use hobbits_testnet::export;
use hobbits_testnet::invariants::RunRecord;
use hobbits_testnet::{
    run_testnet, svg, EngineName, Mode, RunOptions, SpecError, SpecOverrides, TestnetError,
    TestnetReport, TestnetSpec, Topology,
};

use super::{bad_input, failure};

/// Run a local testnet (default: 8 nodes on 127.0.0.1) and report convergence and propagation.
#[derive(Debug, Args)]
pub struct TestnetArgs {
    /// Testnet file (TOML; see examples/testnets/ and docs/TESTNETS.md). Default: the built-in
    /// testnet.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Number of nodes.
    #[arg(long)]
    pub nodes: Option<usize>,
    /// line, ring, star, random[:K] or edges:A-B,C-D,...
    #[arg(long, value_name = "TOPOLOGY")]
    pub topology: Option<String>,
    /// Slots to produce before judging convergence.
    #[arg(long)]
    pub slots: Option<u64>,
    /// Seed of the random topology and node ids.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Slot duration in milliseconds.
    #[arg(long, value_name = "MS")]
    pub slot_ms: Option<u64>,
    /// Longest wait after the last slot for the nodes to agree, in milliseconds.
    #[arg(long, value_name = "MS")]
    pub settle_ms: Option<u64>,
    /// Producing nodes, comma-separated indices (e.g. 0,3).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub producers: Option<Vec<usize>>,
    /// Ignore the scenario (no joins, kills or link cuts).
    #[arg(long)]
    pub no_scenario: bool,
    /// Every node runs the gossip overlay (`on`) or plain flood (`off`), whatever the file's
    /// `gossip_overlay` says: the same testnet both ways, for comparing the two.
    #[arg(long, value_name = "on|off", value_parser = parse_on_off)]
    pub gossip_overlay: Option<bool>,
    /// The nodes attest (`on`: one attestation per head change) or not (`off`), whatever the
    /// file's `attest` says (default: on, except Shadow past 64 nodes).
    #[arg(long, value_name = "on|off", value_parser = parse_on_off)]
    pub attest: Option<bool>,
    /// One OS process per node (this binary's `run`), observed over the wire
    /// (the same as `--engine processes`).
    #[arg(long)]
    pub processes: bool,
    /// How nodes run: in-process (default), processes, netns (one process per node in its
    /// own network namespace, the link model applied by the kernel; needs root), or shadow (the
    /// Shadow simulator: one simulated host per node). Overrides the file's `engine`.
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
    /// netns engine: packets the delayer's kernel queue holds before it drops (or, with
    /// --fail-open, passes undelayed) new ones.
    #[arg(long, value_name = "N", default_value_t = 65536)]
    pub queue_max_len: u32,
    /// netns engine: a full delayer queue passes packets undelayed instead of dropping them.
    #[arg(long)]
    pub fail_open: bool,
    /// Save what the invariants are checked on (each node's log, the faults) in DIR.
    #[arg(long, value_name = "DIR")]
    pub keep_logs: Option<PathBuf>,
    /// Run nothing: check the invariants on the logs saved in DIR (by --keep-logs, or node
    /// event logs with a faults.json beside them) and print them; exit 1 if one is violated.
    #[arg(long, value_name = "DIR", conflicts_with = "file")]
    pub check: Option<PathBuf>,
    /// Write the report as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// After the run, compare its gossip figures with a flood run of the same testnet saved by
    /// `--json` (run it with `--gossip-overlay off`): duplicates, control overhead against the
    /// bytes saved, p99, repair after each disruption (docs/TESTNETS.md, "Gossip figures").
    #[arg(long, value_name = "FILE.json")]
    pub compare_flood: Option<PathBuf>,
    /// Draw propagation latency and head slots over time as SVG to FILE.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// No progress line even on a terminal.
    #[arg(long)]
    pub quiet: bool,
    /// Run nothing: write the testnet as files for another platform into DIR and exit. KIND:
    /// `shadow` (Shadow's shadow.yaml and network.gml; run `shadow shadow.yaml` in DIR), `k8s`
    /// (a StatefulSet, a headless Service, the image recipe, prometheus.yml) or `compose` (a
    /// Compose file with static addresses, the image recipe, prometheus.yml). What the platform
    /// cannot express is listed on stderr and in DIR/not-applied.md.
    #[arg(long, num_args = 2, value_names = ["KIND", "DIR"], conflicts_with = "check")]
    pub export: Option<Vec<String>>,
    /// shadow engine: nodes per simulated host (a `site` process runs them); default 1 while a
    /// host per node fits the open-file budget (docs/TESTNETS.md), beyond as few as fit.
    /// Producers and nodes with events run alone.
    #[arg(long, value_name = "N")]
    pub site_size: Option<usize>,
    /// Log filter in RUST_LOG syntax (default "error": the progress line owns the terminal).
    #[arg(long, value_name = "FILTER", default_value = "error")]
    pub log: String,
}

impl TestnetArgs {
    fn spec(&self) -> Result<TestnetSpec, TestnetError> {
        let base = match &self.file {
            Some(path) => TestnetSpec::from_file(path)?,
            None => TestnetSpec::default_for(self.nodes.unwrap_or(8)),
        };
        let topology = match &self.topology {
            Some(t) => Some(t.parse::<Topology>().map_err(SpecError::from)?),
            None => None,
        };
        let overrides = SpecOverrides {
            nodes: self.nodes,
            topology,
            seed: self.seed,
            producers: self.producers.clone(),
            slot_ms: self.slot_ms,
            slots: self.slots,
            settle_ms: self.settle_ms,
            no_scenario: self.no_scenario,
            gossip_overlay: self.gossip_overlay,
            attest: self.attest,
        };
        let mut spec = base;
        // The built-in scenario follows --slots, so a shorter run keeps its shape.
        if self.file.is_none() {
            if let Some(slots) = self.slots {
                let nodes = spec.nodes;
                spec = TestnetSpec {
                    slots,
                    ..TestnetSpec::default_for(nodes)
                };
                spec.events = scaled_events(&spec, slots);
            }
        }
        Ok(spec.with_overrides(&overrides)?)
    }
}

fn scaled_events(spec: &TestnetSpec, slots: u64) -> Vec<hobbits_testnet::ScenarioEvent> {
    let mut events = TestnetSpec::default_for(spec.nodes).events;
    let default_slots = TestnetSpec::default_for(spec.nodes).slots;
    for e in &mut events {
        e.at_slot = (e.at_slot * slots / default_slots).clamp(1, slots);
    }
    events
}

/// Runs the testnet and prints the report.
pub fn run(args: TestnetArgs) -> ExitCode {
    if let Some(dir) = &args.check {
        return check_saved(dir);
    }
    let spec = match args.spec() {
        Ok(s) => s,
        Err(e) => return bad_input(e),
    };
    if let Some(export) = &args.export {
        return export_files(&spec, export, args.site_size);
    }
    let baseline = match args.compare_flood.as_deref().map(read_baseline).transpose() {
        Ok(b) => b,
        Err(e) => return bad_input(format!("--compare-flood {e}")),
    };
    let engine = match (&args.engine, args.processes) {
        (Some(name), _) => match name.parse::<EngineName>() {
            Ok(e) => e,
            Err(e) => return bad_input(e),
        },
        (None, true) => EngineName::Processes,
        (None, false) => spec.engine.unwrap_or(EngineName::InProcess),
    };
    let program =
        || std::env::current_exe().map_err(|e| bad_input(format!("cannot find this binary: {e}")));
    let mode = match engine {
        EngineName::InProcess => Mode::InProcess,
        EngineName::Processes => match program() {
            Ok(program) => Mode::Processes { program },
            Err(code) => return code,
        },
        EngineName::Netns => match program() {
            Ok(program) => Mode::Netns {
                program,
                queue_max_len: args.queue_max_len,
                fail_open: args.fail_open,
            },
            Err(code) => return code,
        },
        EngineName::Shadow => match program() {
            Ok(program) => match shadow::find_shadow(&program) {
                Some(shadow) => Mode::Shadow(shadow::ShadowEngine {
                    program,
                    shadow,
                    site_size: args.site_size,
                }),
                None => {
                    return bad_input(
                        "the shadow engine: no `shadow` binary ($SHADOW, PATH, or \
                         shared/tools/shadow/bin/shadow beside the project); docs/TESTNETS.md \
                         says how to build it",
                    )
                }
            },
            Err(code) => return code,
        },
    };
    if let Err(code) = super::init_tracing(&args.log) {
        return code;
    }
    let options = RunOptions {
        mode,
        progress: !args.quiet && std::io::stderr().is_terminal(),
        poll: None,
        keep_logs: args.keep_logs.clone(),
    };
    let system = actix_rt::System::new();
    // Ctrl-C or SIGTERM drops the run: its nodes are killed and its namespaces removed on the way.
    let report = system.block_on(async move {
        tokio::select! {
            r = run_testnet(&spec, &options) => Some(r),
            signal = shutdown_signal() => {
                eprintln!("\n{signal}: the testnet is stopped and everything it created removed");
                None
            }
        }
    });
    let report = match report {
        None => return ExitCode::from(130),
        Some(Ok(r)) => r,
        Some(Err(e @ (TestnetError::Spec(_) | TestnetError::Unsupported { .. }))) => {
            return bad_input(e)
        }
        Some(Err(e)) => return failure(e),
    };
    print!("{}", report.render());
    if let Some(flood) = &baseline {
        match hobbits_testnet::gossip_figures::GossipComparison::of(flood, &report) {
            Some(c) => c.render().iter().for_each(|l| println!("{l}")),
            None => println!("overlay vs flood: this run has no gossip figures"),
        }
    }
    if let Some(path) = &args.json {
        let text = match serde_json::to_string_pretty(&report) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: report as JSON: {e}");
                return ExitCode::FAILURE;
            }
        };
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if let Some(path) = &args.plot {
        if let Err(e) = std::fs::write(path, svg::render(&report)) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    // Give the nodes' last GOODBYEs a moment to leave before the process exits.
    std::thread::sleep(Duration::from_millis(10));
    ExitCode::from(report.exit_code())
}

/// `--export KIND DIR`: the testnet as another platform's files.
fn export_files(spec: &TestnetSpec, what: &[String], site_size: Option<usize>) -> ExitCode {
    let [kind, dir] = what else {
        return bad_input("--export takes KIND and DIR");
    };
    let dir = std::path::Path::new(dir);
    let program = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return bad_input(format!("cannot find this binary: {e}")),
    };
    let ids = hobbits_testnet::run::node_ids(spec.seed, spec.nodes);
    let written = match kind.as_str() {
        "shadow" => shadow::ShadowPlan::with_sites(spec, &program, &ids, site_size)
            .and_then(|plan| plan.write(dir))
            .map(|files| (files, vec![])),
        "k8s" | "compose" => export::nodes(spec, &ids).and_then(|nodes| {
            if kind == "k8s" {
                export::k8s::export(spec, &nodes, &program, dir)
            } else {
                export::compose::export(spec, &nodes, &program, dir)
            }
        }),
        other => {
            return bad_input(format!(
                "--export `{other}`: expected shadow, k8s or compose"
            ))
        }
    };
    match written {
        Ok((files, not_applied)) => {
            for f in files {
                println!("{}", dir.join(f).display());
            }
            for item in &not_applied {
                eprintln!("not applied: {item}");
            }
            ExitCode::SUCCESS
        }
        Err(e @ (TestnetError::Spec(_) | TestnetError::Unsupported { .. })) => bad_input(e),
        Err(e) => failure(e),
    }
}

/// Resolves on Ctrl-C or SIGTERM with the signal's name.
async fn shutdown_signal() -> &'static str {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

/// `--check DIR`: the invariants of a saved run.
fn check_saved(dir: &std::path::Path) -> ExitCode {
    let record = match RunRecord::load(dir) {
        Ok(r) => r,
        Err(e) => {
            return bad_input(format!(
                "cannot read the run saved in {}: {e}",
                dir.display()
            ))
        }
    };
    let results = record.check();
    let report = TestnetReport {
        converged: true,
        invariants: results,
        ..Default::default()
    };
    for line in report
        .render()
        .lines()
        .skip_while(|l| !l.starts_with("invariant"))
    {
        println!("{line}");
    }
    ExitCode::from(report.exit_code())
}

/// `on` / `off` (also `true` / `false`).
fn parse_on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        other => Err(format!("`{other}`: expected on or off")),
    }
}

/// `--compare-flood FILE`: the flood run's report, read before running.
fn read_baseline(path: &std::path::Path) -> Result<TestnetReport, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    hobbits_testnet::gossip_figures::read_saved(&json)
        .map_err(|e| format!("{}: {e}", path.display()))
}
