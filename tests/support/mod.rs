//! Support for the end-to-end tests of the `hobbits-node` binary in this directory: [`NodeProcess`],
//! a child process whose output lines stream to [`Lines`] (read on their own threads, waited for
//! with a deadline), killed and reaped on drop; [`wait_for`], polling a condition until it holds
//! or failing the test after a deadline.
#![allow(
    dead_code,
    reason = "each test binary of this directory uses its own subset of the support module"
)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command};
use std::sync::mpsc::{sync_channel, Receiver, TrySendError};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_hobbits-node");

/// Lines kept unread per output stream; beyond, new lines are dropped (the child never blocks on
/// a full pipe because a test stopped reading).
const LINE_BUFFER: usize = 4096;

/// Polls `cond` every 50 ms until it returns `Some`, or fails the test (naming `what`) after
/// `deadline`.
pub fn wait_for<T>(what: &str, deadline: Duration, mut cond: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = cond() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One output stream of a child, line by line, with the lines already taken.
pub struct Lines {
    rx: Receiver<String>,
    seen: Vec<String>,
    deadline: Duration,
    name: &'static str,
}

impl Lines {
    /// Reads `r` on a thread; waits give up after `deadline`.
    pub fn spawn<R: Read + Send + 'static>(r: R, name: &'static str, deadline: Duration) -> Lines {
        let (tx, rx) = sync_channel(LINE_BUFFER);
        std::thread::spawn(move || {
            for line in BufReader::new(r).lines() {
                let Ok(line) = line else { break };
                match tx.try_send(line) {
                    Ok(()) | Err(TrySendError::Full(_)) => {}
                    Err(TrySendError::Disconnected(_)) => break,
                }
            }
        });
        Lines {
            rx,
            seen: Vec::new(),
            deadline,
            name,
        }
    }

    /// Takes lines until `pick` returns a value (lines taken before are not looked at again).
    /// Fails the test after the deadline, naming `what`.
    pub fn next_matching<T>(&mut self, what: &str, mut pick: impl FnMut(&str) -> Option<T>) -> T {
        let end = Instant::now() + self.deadline;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    let found = pick(&line);
                    self.seen.push(line);
                    if let Some(v) = found {
                        return v;
                    }
                }
                Err(_) => panic!("no {} line: {what}; saw {:#?}", self.name, self.seen),
            }
        }
    }

    /// The first line, among those taken already and then the next ones, for which `pick`
    /// returns a value.
    pub fn find<T>(&mut self, what: &str, mut pick: impl FnMut(&str) -> Option<T>) -> T {
        if let Some(v) = self.seen.iter().find_map(|l| pick(l)) {
            return v;
        }
        self.next_matching(what, pick)
    }
}

/// A running child (`hobbits-node run …`), killed (SIGKILL) and reaped on drop.
pub struct NodeProcess {
    pub child: Child,
    /// Its stdout (the command must pipe it).
    pub stdout: Lines,
    /// Its stderr, when the command pipes it.
    pub stderr: Option<Lines>,
}

impl NodeProcess {
    /// Spawns `cmd` (stdout piped, stderr piped or not); output waits give up after `deadline`.
    pub fn spawn(cmd: &mut Command, deadline: Duration) -> NodeProcess {
        let mut child = cmd.spawn().expect("spawn hobbits-node");
        let stdout = Lines::spawn(child.stdout.take().expect("stdout"), "stdout", deadline);
        let stderr = child
            .stderr
            .take()
            .map(|e| Lines::spawn(e, "stderr", deadline));
        NodeProcess {
            child,
            stdout,
            stderr,
        }
    }

    /// The stderr lines (the command must have piped stderr).
    pub fn stderr(&mut self) -> &mut Lines {
        self.stderr.as_mut().expect("stderr piped")
    }

    /// The address of the `listening on hob+tcp://127.0.0.1:PORT` line (among the lines already
    /// taken, or the next ones).
    pub fn listening_uri(&mut self) -> String {
        self.stdout.find("listening on", |l| {
            l.strip_prefix("listening on ")
                .map(|u| u.trim().to_string())
        })
    }

    /// The port of the `listening on 127.0.0.1:PORT` line (among the lines already taken, or
    /// the next ones).
    pub fn listening_port(&mut self) -> u16 {
        self.stdout.find("listening on", |l| {
            l.strip_prefix("listening on ")
                .and_then(|rest| rest.rsplit(':').next())
                .map(|p| p.trim().parse::<u16>().expect("port in the listening line"))
        })
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM (the node says GOODBYE and exits on its own).
    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

pub mod netns;
