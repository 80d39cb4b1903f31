//! Identity newtypes of the peer layer: [`PeerId`] (one connection, local), [`NodeId`] (a node,
//! exchanged in the HELLO header) and [`Direction`] (who dialed).

use std::fmt;

/// Local id of one connection (a session); unique for the life of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u64);

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "peer#{}", self.0)
    }
}

/// A node's identity, exchanged in the HELLO header; random per process unless configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u64);

impl NodeId {
    /// A fresh random id (63 bits, so it travels as a non-negative BSON int64).
    pub fn random() -> Self {
        NodeId(rand::random::<u64>() >> 1)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Which wire a connection speaks: Hobbits frames (EWP v3), or the eth2 RPC raw-TCP dialect
/// (`ETH` prefix; docs/PROTOCOL.md). Both kinds are peers of the same table and manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// Hobbits frames (`hob+tcp://`).
    Hobbits,
    /// The ETH raw-TCP dialect (`eth+tcp://`).
    Eth,
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Hobbits => "hobbits",
            Dialect::Eth => "eth",
        })
    }
}

/// Who opened the TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The remote dialed us.
    Inbound,
    /// We dialed the remote.
    Outbound,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        })
    }
}
