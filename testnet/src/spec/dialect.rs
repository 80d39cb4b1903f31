//! Which wire each node of a testnet speaks ([`Dialect`]: `hobbits`, `eth` or `both`), the
//! testnet file's `dialect` key (the default) and `[[node]]` tables (`index`, `dialect`), and the
//! rule that picks the wire of each link ([`link_wire`]; docs/TESTNETS.md, "Dialects"). Plain
//! data; handles no messages.

use std::collections::BTreeMap;

use super::SpecError;

/// The wires a node speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Dialect {
    /// EWP v3 frames only (`hob+tcp://`): what every node spoke before dialects.
    #[default]
    Hobbits,
    /// The eth2 RPC raw-TCP dialect only (`--eth-listen`, peers dialed `eth+tcp://`).
    Eth,
    /// Both: it listens on both wires and bridges them through its store.
    Both,
}

impl Dialect {
    /// The file's name: `hobbits`, `eth` or `both`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Hobbits => "hobbits",
            Dialect::Eth => "eth",
            Dialect::Both => "both",
        }
    }

    /// Whether the node has Hobbits links.
    pub fn speaks_hobbits(self) -> bool {
        matches!(self, Dialect::Hobbits | Dialect::Both)
    }

    /// Whether the node listens on the ETH wire.
    pub fn speaks_eth(self) -> bool {
        matches!(self, Dialect::Eth | Dialect::Both)
    }
}

impl std::str::FromStr for Dialect {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "hobbits" => Ok(Dialect::Hobbits),
            "eth" => Ok(Dialect::Eth),
            "both" => Ok(Dialect::Both),
            other => Err(format!("dialect `{other}`: expected hobbits, eth or both")),
        }
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The wire one link uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wire {
    /// EWP v3 (`hob+tcp://`): blocks by gossip and range sync.
    Hobbits,
    /// ETH raw TCP (`eth+tcp://`): blocks by polling the peer's roots (no gossip on this wire).
    Eth,
}

/// The wire of a link between nodes speaking `a` and `b`: Hobbits when both speak it (it has
/// gossip), else ETH when both speak it, else `None` (no link is possible).
pub fn link_wire(a: Dialect, b: Dialect) -> Option<Wire> {
    if a.speaks_hobbits() && b.speaks_hobbits() {
        Some(Wire::Hobbits)
    } else if a.speaks_eth() && b.speaks_eth() {
        Some(Wire::Eth)
    } else {
        None
    }
}

/// Every node's dialect: a default and the nodes that differ.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dialects {
    /// The file's `dialect` (default `hobbits`).
    pub default: Dialect,
    /// `[[node]]` tables' `dialect`, by node index.
    pub per_node: BTreeMap<usize, Dialect>,
}

impl Dialects {
    /// Node `n`'s dialect.
    pub fn of(&self, n: usize) -> Dialect {
        self.per_node.get(&n).copied().unwrap_or(self.default)
    }

    /// True when every node speaks Hobbits only (the testnet as before dialects).
    pub fn all_hobbits(&self) -> bool {
        self.default == Dialect::Hobbits && self.per_node.values().all(|d| *d == Dialect::Hobbits)
    }

    /// Checks the per-node indices against `nodes` and that every link of `edges` has a wire;
    /// the error names the key.
    pub fn validate(&self, nodes: usize, edges: &[(usize, usize)]) -> Result<(), SpecError> {
        if let Some((&n, _)) = self.per_node.iter().find(|(n, _)| **n >= nodes) {
            return Err(SpecError::NoSuchNode {
                what: "`[[node]]` `index`".into(),
                node: n,
                nodes,
            });
        }
        for &(a, b) in edges {
            let (da, db) = (self.of(a), self.of(b));
            if link_wire(da, db).is_none() {
                return Err(SpecError::Dialect {
                    reason: format!(
                        "`dialect`: nodes {a} ({da}) and {b} ({db}) are linked by the topology but \
                         share no dialect (a link needs both ends on hobbits, or both on eth; \
                         `both` speaks either)"
                    ),
                });
            }
        }
        Ok(())
    }

    /// The wire of each edge (validated specs only; an impossible link reads as Hobbits).
    pub fn wires(&self, edges: &[(usize, usize)]) -> Vec<Wire> {
        edges
            .iter()
            .map(|&(a, b)| link_wire(self.of(a), self.of(b)).unwrap_or(Wire::Hobbits))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_take_hobbits_when_both_can_else_eth_else_nothing() {
        use Dialect::*;
        assert_eq!(link_wire(Hobbits, Both), Some(Wire::Hobbits));
        assert_eq!(link_wire(Both, Both), Some(Wire::Hobbits));
        assert_eq!(link_wire(Eth, Both), Some(Wire::Eth));
        assert_eq!(link_wire(Eth, Eth), Some(Wire::Eth));
        assert_eq!(link_wire(Eth, Hobbits), None);
        assert_eq!("both".parse::<Dialect>(), Ok(Both));
        assert!("libp2p".parse::<Dialect>().is_err());
    }
}
