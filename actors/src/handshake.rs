//! The HELLO handshake as plain logic: [`check_hello`] decides whether a peer's HELLO is
//! acceptable (eth2 RPC interface v0.8.1 rules), and [`Handshake`] tracks one connection's phase
//! (who sends HELLO first, which HELLO is a reply, what is allowed before the handshake).
//!
//! Policy (also in docs/PROTOCOL.md, "Node behaviour"):
//! - the dialing side sends HELLO first; the receiving side replies with its own HELLO carrying the
//!   same request id; a HELLO whose id is that of our own outstanding HELLO is the reply and is
//!   not answered (so two nodes never loop);
//! - PING is always answered, even before HELLO; GOODBYE is always accepted; any other RPC before
//!   the peer's HELLO is accepted is ignored (logged, counted; no response: Hobbits has no error
//!   response); GOSSIP before HELLO is dropped;
//! - the session marks the HELLO accepted as soon as our checks pass, before its reply is written,
//!   so a request sent right after the reply is served (the manager may still close a duplicate);
//! - no accepted HELLO within the handshake timeout closes the connection (GOODBYE 3).

use hobbits_chain::rpc::Hello;
use hobbits_chain::store::FinalizedCheck;
use hobbits_chain::{Epoch, Root};

use crate::peer_table::Direction;

/// Why a peer's HELLO was refused (all lead to GOODBYE 2, irrelevant network).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelloRejection {
    /// Different `network_id`.
    #[error("network_id {theirs} differs from ours ({ours})")]
    NetworkMismatch {
        /// Ours.
        ours: u8,
        /// The peer's.
        theirs: u8,
    },
    /// Different `chain_id`.
    #[error("chain_id {theirs} differs from ours ({ours})")]
    ChainMismatch {
        /// Ours.
        ours: u8,
        /// The peer's.
        theirs: u8,
    },
    /// Their finalized root is not the root of our chain at that epoch.
    #[error("finalized root {theirs} at epoch {epoch} is not in our chain")]
    FinalizedRootMismatch {
        /// The peer's finalized epoch.
        epoch: u64,
        /// The peer's finalized root.
        theirs: Root,
    },
}

/// Checks a peer's HELLO against ours. `finalized(root, epoch)` asks our chain whether the peer's
/// finalized `(root, epoch)` is ours: only a definite conflict refuses the peer (an epoch we do not
/// know yet is judged later, by sync).
pub fn check_hello(
    ours: &Hello,
    theirs: &Hello,
    finalized: impl FnOnce(&Root, Epoch) -> FinalizedCheck,
) -> Result<(), HelloRejection> {
    if ours.network_id != theirs.network_id {
        return Err(HelloRejection::NetworkMismatch {
            ours: ours.network_id,
            theirs: theirs.network_id,
        });
    }
    if ours.chain_id != theirs.chain_id {
        return Err(HelloRejection::ChainMismatch {
            ours: ours.chain_id,
            theirs: theirs.chain_id,
        });
    }
    let epoch = theirs.latest_finalized_epoch;
    match finalized(&theirs.latest_finalized_root, epoch) {
        FinalizedCheck::Conflicts => Err(HelloRejection::FinalizedRootMismatch {
            epoch: epoch.0,
            theirs: theirs.latest_finalized_root,
        }),
        FinalizedCheck::Matches | FinalizedCheck::Unknown => Ok(()),
    }
}

/// Where a connection stands in the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakePhase {
    /// Waiting for the peer's HELLO (and, when we dialed, for our HELLO to be answered).
    AwaitingHello,
    /// The peer's HELLO was received and is being checked.
    Checking,
    /// HELLO accepted: all RPC is served.
    Established,
    /// Refused or closing: nothing more is served.
    Closed,
}

/// What to do with a HELLO that arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelloArrival {
    /// Whether we must send our HELLO back with the same id.
    pub reply: bool,
    /// Whether this HELLO should be checked (false for a duplicate while checking).
    pub check: bool,
}

/// What a frame is allowed to do in the current phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Serve it.
    Serve,
    /// Refuse it (RPC request: ignored, no response; gossip: dropped).
    Refuse,
}

/// Per-connection handshake state.
#[derive(Debug, Clone)]
pub struct Handshake {
    direction: Direction,
    phase: HandshakePhase,
    our_hello_id: Option<u64>,
}

impl Handshake {
    /// A new connection.
    pub fn new(direction: Direction) -> Self {
        Handshake {
            direction,
            phase: HandshakePhase::AwaitingHello,
            our_hello_id: None,
        }
    }

    /// Whether we must open with HELLO (we dialed).
    pub fn sends_first(&self) -> bool {
        self.direction == Direction::Outbound
    }

    /// Records the id of the HELLO request we sent.
    pub fn sent_hello(&mut self, id: u64) {
        self.our_hello_id = Some(id);
    }

    /// A HELLO with request id `id` arrived.
    pub fn on_hello(&mut self, id: u64) -> HelloArrival {
        let is_reply_to_ours = self.our_hello_id == Some(id);
        if is_reply_to_ours {
            self.our_hello_id = None;
        }
        let check = matches!(self.phase, HandshakePhase::AwaitingHello);
        if check {
            self.phase = HandshakePhase::Checking;
        }
        // A reply to our own HELLO is never answered; a HELLO request is (also after the
        // handshake: a peer may re-announce its head), unless we are closing.
        let reply = !is_reply_to_ours && self.phase != HandshakePhase::Closed;
        HelloArrival { reply, check }
    }

    /// The peer's HELLO passed [`check_hello`].
    pub fn accept(&mut self) {
        if self.phase != HandshakePhase::Closed {
            self.phase = HandshakePhase::Established;
        }
    }

    /// The peer was refused or the connection is closing.
    pub fn close(&mut self) {
        self.phase = HandshakePhase::Closed;
    }

    /// Current phase.
    pub fn phase(&self) -> HandshakePhase {
        self.phase
    }

    /// Whether all RPC is served.
    pub fn is_established(&self) -> bool {
        self.phase == HandshakePhase::Established
    }

    /// Whether an RPC request other than HELLO / GOODBYE, or a GOSSIP, may be served now.
    pub fn admit_request(&self) -> Admission {
        if self.is_established() {
            Admission::Serve
        } else {
            Admission::Refuse
        }
    }

    /// Whether the handshake timer should close the connection now.
    pub fn timed_out(&self) -> bool {
        matches!(
            self.phase,
            HandshakePhase::AwaitingHello | HandshakePhase::Checking
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hobbits_chain::Slot;

    fn hello(network_id: u8, epoch: u64, root: u8) -> Hello {
        Hello {
            network_id,
            chain_id: 1,
            latest_finalized_root: Root([root; 32]),
            latest_finalized_epoch: Epoch(epoch),
            best_root: Root([9; 32]),
            best_slot: Slot(100),
        }
    }

    #[test]
    fn network_and_chain_must_match() {
        let ours = hello(1, 0, 0);
        assert_eq!(
            check_hello(&ours, &hello(2, 0, 0), |_, _| FinalizedCheck::Matches),
            Err(HelloRejection::NetworkMismatch { ours: 1, theirs: 2 })
        );
        let mut other_chain = hello(1, 0, 0);
        other_chain.chain_id = 5;
        assert!(matches!(
            check_hello(&ours, &other_chain, |_, _| FinalizedCheck::Matches),
            Err(HelloRejection::ChainMismatch { .. })
        ));
    }

    #[test]
    fn only_a_definite_finality_conflict_refuses() {
        let ours = hello(1, 5, 5);
        assert!(check_hello(&ours, &hello(1, 3, 3), |_, _| FinalizedCheck::Matches).is_ok());
        assert!(check_hello(&ours, &hello(1, 7, 3), |_, _| FinalizedCheck::Unknown).is_ok());
        assert_eq!(
            check_hello(&ours, &hello(1, 3, 0xbb), |root, epoch| {
                assert_eq!((*root, epoch), (Root([0xbb; 32]), Epoch(3)));
                FinalizedCheck::Conflicts
            }),
            Err(HelloRejection::FinalizedRootMismatch {
                epoch: 3,
                theirs: Root([0xbb; 32])
            })
        );
    }

    #[test]
    fn dialer_reply_is_not_answered_but_requests_are() {
        let mut h = Handshake::new(Direction::Outbound);
        assert!(h.sends_first());
        h.sent_hello(1);
        assert_eq!(h.admit_request(), Admission::Refuse);
        assert_eq!(
            h.on_hello(1),
            HelloArrival {
                reply: false,
                check: true
            }
        );
        h.accept();
        assert_eq!(h.admit_request(), Admission::Serve);
        // A later HELLO request from the peer (head changed) is answered, not re-checked.
        assert_eq!(
            h.on_hello(7),
            HelloArrival {
                reply: true,
                check: false
            }
        );
    }

    #[test]
    fn receiver_replies_and_times_out_without_hello() {
        let mut h = Handshake::new(Direction::Inbound);
        assert!(!h.sends_first());
        assert!(h.timed_out());
        assert_eq!(
            h.on_hello(42),
            HelloArrival {
                reply: true,
                check: true
            }
        );
        assert!(h.timed_out(), "still checking");
        h.accept();
        assert!(!h.timed_out());
        h.close();
        assert_eq!(h.admit_request(), Admission::Refuse);
    }
}
