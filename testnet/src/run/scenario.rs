//! What each scenario action does to a running testnet: starting nodes (every engine), killing,
//! freezing and thawing them, and the link faults played on the [`Fabric`](crate::fabric::Fabric);
//! each fault is also recorded in the observations the invariants are checked on.

use nix::sys::signal::Signal;

use super::{lock, ms, Net};
use crate::engine::netns::NetnsNet;
use crate::engine::{Mode, NodeLaunch, ProcessPlace, RunningNode};
use crate::fabric::{NETNS_ETH_PORT, NETNS_PORT};
use crate::report::CatchUp;
use crate::spec::{Action, Wire};
use crate::TestnetError;

impl Net<'_> {
    pub(super) async fn start_node(
        &mut self,
        node: usize,
        from: Option<usize>,
    ) -> Result<(), TestnetError> {
        let launch = NodeLaunch {
            index: node,
            node_id: self.node_ids[node],
            peers: self.fabric.peers_for(node),
            dialect: self.spec.dialects.of(node),
            eth_peers: self.fabric.peers_on(node, Wire::Eth),
            data_dir: self.data_root.for_node(self.spec, node),
            clock_skew_file: self.data_root.skew_file(self.spec, node),
            event_log: self.data_root.event_log(node),
            gossip_overlay: self.spec.gossip_overlay.on(node),
            attest: self.spec.attests(None),
            produce: self
                .spec
                .producers
                .contains(&node)
                .then_some(self.spec.slot),
        };
        let from_store = launch.data_dir.as_ref().is_some_and(|d| d.exists());
        let snapshot = match from {
            Some(f) => match &self.nodes[f] {
                Some(n) => n.snapshot().await,
                None => None,
            },
            None => None,
        };
        if from.is_some() && snapshot.is_none() {
            return Err(TestnetError::NodeStart {
                node,
                reason: "no snapshot of the source node".into(),
            });
        }
        // A netns node runs in its namespace, at its own address, on the run's wall-clock genesis.
        let place = match (&self.options.mode, self.fabric.kernel_net()) {
            (Mode::Netns { program, .. }, Some((net, hub))) => Some(ProcessPlace {
                command: net.lab().command_line(node, program),
                listen: std::net::SocketAddr::from((net.addr(node), NETNS_PORT)),
                eth_listen: std::net::SocketAddr::from((net.addr(node), NETNS_ETH_PORT)),
                flags: vec!["--genesis-time".into(), self.genesis_time.to_string()],
                hub: Some(hub.clone()),
            }),
            _ => None,
        };
        let running = self.options.mode.start(&launch, snapshot, place).await?;
        self.fabric
            .node_started_on(node, running.listen_addr(), running.eth_addr());
        self.observed.started(node, from_store);
        self.observed.fault_ended(&format!("kill {node}"));
        self.nodes[node] = Some(running);
        lock(&self.log).set_running(self.running());
        Ok(())
    }

    async fn kill(&mut self, node: usize) {
        self.fabric.node_stopped(node);
        self.observed.down(node);
        let how = if self.options.mode.program().is_some() {
            "kill -9"
        } else {
            "stop"
        };
        self.observed
            .fault_began(format!("kill {node}"), format!("{how} node {node}"));
        if let Some(n) = self.nodes[node].take() {
            n.stop().await;
        }
        self.statuses[node] = None;
        lock(&self.log).node_stopped(node);
    }

    pub(super) async fn execute(&mut self, action: &Action) -> Result<(), TestnetError> {
        let how = action.name().to_string();
        match action {
            &Action::Join { node } | &Action::Restart { node } => {
                let target = self.best_slot_excluding(node);
                self.start_node(node, None).await?;
                self.catch_up_started(node, how, target);
            }
            &Action::SnapshotJoin { node, from } => {
                let target = self.best_slot_excluding(node);
                self.start_node(node, Some(from)).await?;
                self.catch_up_started(node, how, target);
            }
            &Action::Kill { node } => self.kill(node).await,
            &Action::CutLink { a, b } => {
                self.fabric.set_cut(a, b, true)?;
                let key = format!("cut {}-{}", a.min(b), a.max(b));
                self.observed.fault_began(key, action.to_string());
            }
            &Action::HealLink { a, b } => {
                self.fabric.set_cut(a, b, false)?;
                self.observed
                    .fault_ended(&format!("cut {}-{}", a.min(b), a.max(b)));
            }
            &Action::Freeze { node } => {
                self.signal(node, Signal::SIGSTOP)?;
                self.observed.down(node);
                self.observed
                    .fault_began(format!("freeze {node}"), action.to_string());
            }
            &Action::Thaw { node } => {
                self.signal(node, Signal::SIGCONT)?;
                self.observed.back(node);
                self.observed.fault_ended(&format!("freeze {node}"));
            }
            Action::Partition { groups } => {
                self.fabric.set_partition(Some(groups))?;
                self.observed
                    .fault_began("partition".into(), action.to_string());
            }
            Action::HealPartition => {
                self.fabric.set_partition(None)?;
                self.observed.fault_ended("partition");
            }
            &Action::SetLoss { a, b, loss } => {
                self.fabric.set_loss(a, b, loss)?;
                self.observed.change(action.to_string());
            }
            &Action::SetBandwidth {
                node,
                up_bps,
                down_bps,
            } => {
                self.fabric.set_bandwidth(node, up_bps, down_bps)?;
                self.observed.change(action.to_string());
            }
            &Action::ClockSkew { node, skew_ms } => {
                let file = self.data_root.skew_file(self.spec, node).ok_or_else(|| {
                    TestnetError::Unsupported {
                        what: format!("clock_skew of node {node}: no skew file"),
                    }
                })?;
                std::fs::write(&file, skew_ms.to_string()).map_err(|e| TestnetError::Io {
                    what: format!("writing {}", file.display()),
                    reason: e.to_string(),
                })?;
                self.observed.change(action.to_string());
            }
        }
        Ok(())
    }

    fn signal(&self, node: usize, signal: Signal) -> Result<(), TestnetError> {
        let pid = self.nodes[node]
            .as_ref()
            .and_then(RunningNode::pid)
            .ok_or_else(|| TestnetError::Unsupported {
                what: format!("{signal} to node {node}: not a running process"),
            })?;
        NetnsNet::signal(pid, signal).map_err(|e| TestnetError::Io {
            what: format!("node {node}"),
            reason: e.to_string(),
        })
    }

    fn catch_up_started(&mut self, node: usize, how: String, target_slot: u64) {
        self.catch_ups.push(CatchUp {
            node,
            how,
            started_at_ms: ms(self.start.elapsed()),
            target_slot,
            catch_up_ms: None,
        });
    }
}
