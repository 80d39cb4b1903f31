//! The packet delayer: latency and jitter without netem. The kernel queues the packets of delayed
//! links to user space (an iptables `NFQUEUE` rule in the hub namespace's forward hook, which sees
//! bridged IPv4 through br_netfilter); this thread holds each packet's verdict until its release
//! time ([`plan::DelayPlan`]) and then accepts it unchanged, so addresses, ports and TCP behaviour
//! stay real. Owns one thread and one [`nfqueue::NfQueue`]; takes [`DelayerCommand`]s
//! (`SetLinks`, `GetStats`, `Stop`) over a channel and answers `GetStats` with [`DelayerStats`].
//!
//! A full queue is visible, not silent: the kernel's per-queue counters (`queue_dropped`: the
//! queue was at `max_len`; `user_dropped`: our socket buffer overflowed) are read into the stats,
//! and with `fail_open` the packets over the limit pass undelayed (counted by the kernel nowhere,
//! so `fail_open` is off by default and `max_pending` shows how close the queue came).

pub mod nfqueue;
pub mod plan;

use std::net::Ipv4Addr;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;

pub use nfqueue::{NfQueue, QueueSettings, Verdict};
pub use plan::{DelayPlan, DirectedLink, LinkDelay};

/// Why the delayer failed.
#[derive(Debug, thiserror::Error)]
pub enum DelayerError {
    /// A netlink socket call failed.
    #[error("NFQUEUE socket {op}: {errno}")]
    Socket {
        /// The call.
        op: &'static str,
        /// The error.
        errno: Errno,
    },
    /// The kernel refused a queue setting (EBUSY: another process holds the queue number).
    #[error("NFQUEUE {what} refused: {errno}")]
    Config {
        /// The setting.
        what: &'static str,
        /// The kernel's answer.
        errno: Errno,
    },
    /// Our socket's receive buffer overflowed; the kernel dropped (or, fail-open, accepted) packets.
    #[error("NFQUEUE socket receive buffer overflowed")]
    Overflow,
    /// The namespace to run in could not be entered.
    #[error("entering network namespace {path}: {reason}")]
    Namespace {
        /// `/run/netns/NAME`.
        path: String,
        /// Why.
        reason: String,
    },
    /// The delayer thread is gone.
    #[error("delayer thread stopped")]
    Stopped,
}

/// What the delayer has done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DelayerStats {
    /// Packets queued to us.
    pub received: u64,
    /// Packets accepted at once (no delay on their link).
    pub passed: u64,
    /// Packets accepted after their delay.
    pub delayed: u64,
    /// The most packets held at once.
    pub max_pending: usize,
    /// Packets held now.
    pub pending: usize,
    /// The latest a release came after its due time.
    pub max_late: Duration,
    /// The sum of every release's lateness (for a mean).
    pub total_late: Duration,
    /// Socket overflows seen (ENOBUFS).
    pub overflows: u64,
    /// The kernel's count of this queue's packets dropped at `max_len`.
    pub kernel_queue_dropped: u64,
    /// The kernel's count of packets dropped because our socket buffer was full.
    pub kernel_user_dropped: u64,
}

/// Commands to the delayer thread.
#[derive(Debug)]
pub enum DelayerCommand {
    /// Sets the delay of these directed links (zero removes).
    SetLinks {
        /// Each directed link and its delay.
        links: Vec<(DirectedLink, LinkDelay)>,
    },
    /// Replies with the stats.
    GetStats {
        /// Where the stats go.
        reply: SyncSender<DelayerStats>,
    },
    /// Ends the thread (the queue is unbound when its socket closes).
    Stop,
}

/// Where and how the delayer runs.
#[derive(Debug, Clone)]
pub struct DelayerConfig {
    /// `/run/netns/NAME` of the namespace whose hook queues the packets (None: the caller's).
    pub netns: Option<String>,
    /// The queue.
    pub queue: QueueSettings,
    /// Seed of the jitter draws.
    pub seed: u64,
}

/// A running delayer.
#[derive(Debug)]
pub struct DelayerHandle {
    commands: SyncSender<DelayerCommand>,
    thread: Option<JoinHandle<Result<DelayerStats, DelayerError>>>,
}

/// Longest sleep with nothing due, so commands are seen promptly.
const IDLE_WAIT: Duration = Duration::from_millis(20);

impl DelayerHandle {
    /// Starts the thread; returns once the queue is bound (so a rule can send packets to it).
    pub fn start(
        config: DelayerConfig,
        links: Vec<(DirectedLink, LinkDelay)>,
    ) -> Result<Self, DelayerError> {
        // Commands are rare (link changes, stats, stop): a short bounded queue.
        let (commands, inbox) = sync_channel(64);
        let (ready_tx, ready_rx) = sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("netns-delayer".into())
            .spawn(move || {
                let mut queue = match open_queue(&config) {
                    Ok(queue) => {
                        let _ = ready_tx.send(Ok(()));
                        queue
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return Err(DelayerError::Stopped);
                    }
                };
                let mut plan = DelayPlan::new(config.seed);
                for (link, delay) in links {
                    plan.set_link(link, delay);
                }
                run(&mut queue, &mut plan, &inbox, config.queue.queue_num)
            })
            .map_err(|e| DelayerError::Namespace {
                path: "thread".into(),
                reason: e.to_string(),
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(DelayerHandle {
                commands,
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(DelayerError::Stopped),
        }
    }

    /// Changes link delays mid-run.
    pub fn set_links(&self, links: Vec<(DirectedLink, LinkDelay)>) -> Result<(), DelayerError> {
        self.commands
            .send(DelayerCommand::SetLinks { links })
            .map_err(|_| DelayerError::Stopped)
    }

    /// The current stats.
    pub fn stats(&self) -> Result<DelayerStats, DelayerError> {
        let (reply, answer) = sync_channel(1);
        self.commands
            .send(DelayerCommand::GetStats { reply })
            .map_err(|_| DelayerError::Stopped)?;
        answer
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| DelayerError::Stopped)
    }

    /// Stops the thread; returns the final stats.
    pub fn stop(mut self) -> Result<DelayerStats, DelayerError> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<DelayerStats, DelayerError> {
        let _ = self.commands.send(DelayerCommand::Stop);
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| DelayerError::Stopped)?,
            None => Err(DelayerError::Stopped),
        }
    }
}

impl Drop for DelayerHandle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop_inner();
        }
    }
}

fn open_queue(config: &DelayerConfig) -> Result<NfQueue, DelayerError> {
    if let Some(path) = &config.netns {
        // Only this thread moves; the socket it opens stays in that namespace.
        super::enter_netns(path).map_err(|reason| DelayerError::Namespace {
            path: path.clone(),
            reason,
        })?;
    }
    NfQueue::open(config.queue)
}

/// The loop: read what is queued, release what is due, wait for the next of the two.
fn run(
    queue: &mut NfQueue,
    plan: &mut DelayPlan,
    inbox: &Receiver<DelayerCommand>,
    queue_num: u16,
) -> Result<DelayerStats, DelayerError> {
    let mut stats = DelayerStats::default();
    let mut arrived = Vec::with_capacity(256);
    loop {
        loop {
            match inbox.try_recv() {
                Ok(DelayerCommand::SetLinks { links }) => {
                    for (link, delay) in links {
                        plan.set_link(link, delay);
                    }
                }
                Ok(DelayerCommand::GetStats { reply }) => {
                    let _ = reply.send(with_kernel_counters(stats, plan, queue_num));
                }
                Ok(DelayerCommand::Stop) | Err(TryRecvError::Disconnected) => {
                    // Release everything still held, so nothing waits on a closed queue.
                    plan.take_due(Instant::now() + Duration::from_secs(3600), |id, _| {
                        queue.verdict(id, Verdict::Accept)
                    });
                    queue.flush()?;
                    return Ok(with_kernel_counters(stats, plan, queue_num));
                }
                Err(TryRecvError::Empty) => break,
            }
        }
        // Drain the socket: many packets may arrive per wake-up.
        for _ in 0..64 {
            let now = Instant::now();
            let got = queue.receive(&mut arrived);
            for packet in arrived.drain(..) {
                stats.received += 1;
                let link = packet
                    .addrs
                    .map(|(s, d)| (Ipv4Addr::from(s), Ipv4Addr::from(d)));
                if let Some(id) = plan.on_packet(packet.id, link, now) {
                    stats.passed += 1;
                    queue.verdict(id, Verdict::Accept);
                }
            }
            match got {
                Ok(true) => {}
                Ok(false) => break,
                Err(DelayerError::Overflow) => {
                    stats.overflows += 1;
                    tracing::warn!("delayer: socket buffer overflowed; the kernel dropped packets");
                }
                Err(e) => return Err(e),
            }
        }
        stats.max_pending = stats.max_pending.max(plan.pending());
        let now = Instant::now();
        plan.take_due(now, |id, late| {
            stats.delayed += 1;
            stats.max_late = stats.max_late.max(late);
            stats.total_late += late;
            queue.verdict(id, Verdict::Accept);
        });
        queue.flush()?;
        let wait = plan
            .next_release()
            .map(|at| at.saturating_duration_since(Instant::now()).min(IDLE_WAIT))
            .unwrap_or(IDLE_WAIT);
        if !wait.is_zero() {
            queue.wait(Some(wait))?;
        }
    }
}

fn with_kernel_counters(mut stats: DelayerStats, plan: &DelayPlan, queue_num: u16) -> DelayerStats {
    stats.pending = plan.pending();
    if let Some((dropped, user_dropped)) = kernel_counters(queue_num) {
        stats.kernel_queue_dropped = dropped;
        stats.kernel_user_dropped = user_dropped;
    }
    stats
}

/// This queue's line of `/proc/thread-self/net/netfilter/nfnetlink_queue` (read from the
/// delayer thread, so in its namespace): `queue_dropped` and `user_dropped`.
fn kernel_counters(queue_num: u16) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/thread-self/net/netfilter/nfnetlink_queue").ok()?;
    parse_kernel_counters(&text, queue_num)
}

/// Columns: queue number, peer port id, queue total, copy mode, copy range, queue dropped,
/// user dropped, id sequence, 1.
fn parse_kernel_counters(text: &str, queue_num: u16) -> Option<(u64, u64)> {
    text.lines().find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.first()?.parse::<u16>().ok()? != queue_num {
            return None;
        }
        Some((cols.get(5)?.parse().ok()?, cols.get(6)?.parse().ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_counter_line_of_our_queue() {
        let text = "    0  12345     0 2    20     0     0        9  1\n\
                    \x20 7  23456     3 2    20    11     4     1234  1\n";
        assert_eq!(parse_kernel_counters(text, 7), Some((11, 4)));
        assert_eq!(parse_kernel_counters(text, 0), Some((0, 0)));
        assert_eq!(parse_kernel_counters(text, 3), None);
        assert_eq!(parse_kernel_counters("garbage\n", 3), None);
    }
}
