//! The Shadow report from hand-written node logs: outages and faults from the plan, heads,
//! convergence, settle time, catch-up and the timeline from the lines.

use std::path::Path;

use super::*;

fn ids(spec: &TestnetSpec) -> Vec<hobbits_actors::NodeId> {
    crate::run::node_ids(spec.seed, spec.nodes)
}
use crate::eventlog::LogLine;

const FILE: &str = r#"
nodes = 3
producers = [0]
slot_ms = 1000
slots = 4
settle_ms = 2000

[topology]
kind = "line"

[[event]]
at_slot = 1
action = "kill"
node = 2

[[event]]
at_slot = 2
action = "restart"
node = 2
"#;

/// Simulated milliseconds as the logs' microseconds.
fn t(ms: u64) -> u64 {
    us(Duration::from_millis(ms))
}

fn started(at: u64) -> LogLine {
    LogLine {
        t_us: t(at),
        event: NodeEvent::Started {
            node_id: "1".into(),
            listen: "198.18.0.2:9000".into(),
            genesis_root: "0x00".into(),
            head_slot: 0,
            head_root: "0x00".into(),
            finalized_epoch: 0,
            finalized_root: "0x00".into(),
            from_store: false,
        },
    }
}

fn head(at: u64, slot: u64) -> LogLine {
    LogLine {
        t_us: t(at),
        event: NodeEvent::HeadChanged {
            root: format!("0x{slot:02}"),
            slot,
            reorg: false,
        },
    }
}

fn log(lines: Vec<LogLine>) -> NodeLog {
    NodeLog { lines, skipped: 0 }
}

fn setup() -> (TestnetSpec, ShadowPlan) {
    let spec = TestnetSpec::from_toml(FILE).expect("valid");
    let plan = ShadowPlan::for_spec(&spec, Path::new("/bin/true"), &ids(&spec)).expect("plan");
    (spec, plan)
}

#[test]
fn a_kill_is_an_outage_and_a_fault_until_the_restart() {
    let (_, plan) = setup();
    let r = record(&plan, vec![NodeLog::default(); 3]);
    assert_eq!(r.outages.len(), 1);
    assert_eq!(r.outages[0].node, 2);
    assert_eq!(r.outages[0].from_us, t(2000)); // start 1 s + slot 1
    assert_eq!(r.outages[0].until_us, Some(t(3000)));
    assert_eq!(r.faults[0].label, "kill -9 node 2");
    assert_eq!(r.end_us, t(7000)); // 1 s + 4 slots + 2 s settle
}

#[test]
fn heads_convergence_settle_and_catch_up_come_from_the_logs() {
    let (spec, plan) = setup();
    let producer = log(vec![
        started(1000),
        head(2000, 1),
        head(3000, 2),
        head(4000, 3),
        head(5000, 4),
    ]);
    let middle = log(vec![
        started(1000),
        head(2050, 1),
        head(3050, 2),
        head(4050, 3),
        head(5050, 4),
    ]);
    let restarted = log(vec![
        started(1000),
        started(3000),
        head(3400, 2),
        head(4100, 3),
        head(5120, 4),
    ]);
    let r = record(&plan, vec![producer, middle, restarted]);
    let report = build(&spec, &plan, &r);
    assert_eq!(report.mode, "shadow");
    assert!(report.converged, "{}", report.render());
    assert_eq!(report.head_slot, Some(4));
    assert_eq!(report.head_root.as_deref(), Some("0x04"));
    // The last head change came 120 ms after the last slot began.
    assert_eq!(report.settle_ms, Some(120.0));
    assert!(report.node_reports.iter().all(|n| n.running));
    assert_eq!(report.node_reports[2].head_slot, Some(4));
    // Node 2 restarts at 3 s when the others are at slot 2; it reaches it 400 ms later.
    assert_eq!(report.catch_ups.len(), 1);
    let c = &report.catch_ups[0];
    assert_eq!((c.node, c.target_slot), (2, 2));
    assert_eq!(c.started_at_ms, 2000.0);
    assert_eq!(c.catch_up_ms, Some(400.0));
    // The timeline shows node 2 absent while killed, every quarter slot.
    let at = |ms: f64| {
        report
            .timeline
            .iter()
            .find(|s| s.t_ms == ms)
            .unwrap_or_else(|| panic!("a sample at {ms} ms"))
    };
    assert_eq!(at(1500.0).slots, [Some(1), Some(1), None]);
    assert_eq!(at(2500.0).slots, [Some(2), Some(2), Some(2)]);
    assert_eq!(report.events.len(), 2);
    assert_eq!(report.events[0].t_ms, 1000.0);
}

#[test]
fn a_node_left_behind_is_not_converged() {
    let (spec, plan) = setup();
    let producer = log(vec![started(1000), head(2000, 1), head(5000, 4)]);
    let behind = log(vec![started(1000), head(2050, 1)]);
    let restarted = log(vec![started(3000), head(5100, 4)]);
    let r = record(&plan, vec![producer, behind, restarted]);
    let report = build(&spec, &plan, &r);
    assert!(!report.converged);
    assert_eq!(report.settle_ms, None);
    assert_eq!(report.head_slot, None);
    assert_eq!(report.exit_code(), 1);
}
