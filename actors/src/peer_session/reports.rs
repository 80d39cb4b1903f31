//! What a session reports to the peer manager that started it: [`ReportHandshake`] (the peer's
//! HELLO was accepted; the reply admits or refuses the connection: one per node, bans) and
//! [`SessionClosed`]. The manager handles them; they are defined here, beside their sender,
//! because the manager depends on the session (it starts sessions) and the session must not
//! depend back. Offences go to the manager as `PeerPenalized` (`crate::events`).

use actix::prelude::*;
use hobbits_chain::rpc::Hello;

use super::SessionStats;
use crate::events::{DisconnectReason, SessionHandle};
use crate::peer_table::{HandshakeAdmission, NodeId, PeerId};

/// Command to the manager: the session's HELLO exchange succeeded; the reply says whether to
/// keep the connection.
#[derive(Debug, Message)]
#[rtype(result = "HandshakeAdmission")]
pub struct ReportHandshake {
    /// The connection.
    pub peer: PeerId,
    /// The remote node id from the HELLO header, if any.
    pub node_id: Option<NodeId>,
    /// The peer's HELLO.
    pub hello: Hello,
    /// The session.
    pub session: SessionHandle,
    /// Both sides advertised the gossip overlay in their HELLO.
    pub gossip_overlay: bool,
}

/// Event to the manager: the session stopped.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SessionClosed {
    /// The connection.
    pub peer: PeerId,
    /// Why.
    pub reason: DisconnectReason,
    /// Its counters.
    pub stats: SessionStats,
}
