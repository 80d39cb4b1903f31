//! Topology generation: the links (undirected, each once as `(smaller, larger)`) of a line, ring,
//! star, seeded random graph or explicit edge list ([`Topology`], parsed from `line`, `random:K`,
//! `edges:0-1,…`), and a connectivity check. Plain functions, no I/O, no messages.

use std::collections::BTreeSet;
use std::str::FromStr;

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// A topology that cannot be built or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad topology: {reason}")]
pub struct TopologyError {
    /// What is wrong.
    pub reason: String,
}

/// How nodes are linked (an undirected graph over node indices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topology {
    /// 0 - 1 - 2 - ... - n-1.
    Line,
    /// A line closed into a ring.
    Ring,
    /// Node 0 linked to every other node.
    Star,
    /// A connected random graph where every node has at least `degree` links (seeded).
    Random {
        /// Links per node (at least; capped at n-1).
        degree: usize,
    },
    /// Exactly these links.
    Edges(Vec<(usize, usize)>),
}

impl std::fmt::Display for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Topology::Line => f.write_str("line"),
            Topology::Ring => f.write_str("ring"),
            Topology::Star => f.write_str("star"),
            Topology::Random { degree } => write!(f, "random:{degree}"),
            Topology::Edges(e) => {
                f.write_str("edges:")?;
                let parts: Vec<String> = e.iter().map(|(a, b)| format!("{a}-{b}")).collect();
                f.write_str(&parts.join(","))
            }
        }
    }
}

impl FromStr for Topology {
    type Err = TopologyError;

    /// `line`, `ring`, `star`, `random` (degree 3), `random:K`, `edges:0-1,1-2,...`.
    fn from_str(s: &str) -> Result<Self, TopologyError> {
        let bad = |reason: String| TopologyError { reason };
        let (kind, arg) = match s.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (s, None),
        };
        match (kind, arg) {
            ("line", None) => Ok(Topology::Line),
            ("ring", None) => Ok(Topology::Ring),
            ("star", None) => Ok(Topology::Star),
            ("random", None) => Ok(Topology::Random { degree: 3 }),
            ("random", Some(k)) => k
                .parse()
                .map(|degree| Topology::Random { degree })
                .map_err(|_| bad(format!("`{k}` is not a degree (random:K)"))),
            ("edges", Some(list)) => {
                let mut edges = Vec::new();
                for pair in list.split(',').filter(|p| !p.is_empty()) {
                    let parsed = pair
                        .split_once('-')
                        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
                    edges.push(
                        parsed.ok_or_else(|| {
                            bad(format!("`{pair}` is not an edge (edges:A-B,C-D)"))
                        })?,
                    );
                }
                Ok(Topology::Edges(edges))
            }
            _ => Err(bad(format!(
                "`{s}`: expected line, ring, star, random[:K] or edges:A-B,..."
            ))),
        }
    }
}

/// The links of `topology` over `nodes` nodes, sorted. Random graphs depend only on `seed`.
pub fn build(
    topology: &Topology,
    nodes: usize,
    seed: u64,
) -> Result<Vec<(usize, usize)>, TopologyError> {
    let mut set = BTreeSet::new();
    let mut add = |a: usize, b: usize| {
        if a != b {
            set.insert((a.min(b), a.max(b)));
        }
    };
    match topology {
        Topology::Line => (1..nodes).for_each(|i| add(i - 1, i)),
        Topology::Ring => {
            (1..nodes).for_each(|i| add(i - 1, i));
            if nodes > 2 {
                add(nodes - 1, 0);
            }
        }
        Topology::Star => (1..nodes).for_each(|i| add(0, i)),
        Topology::Random { degree } => {
            if *degree == 0 {
                return Err(TopologyError {
                    reason: "random degree must be at least 1".into(),
                });
            }
            random_edges(nodes, *degree, seed)
                .into_iter()
                .for_each(|(a, b)| add(a, b));
        }
        Topology::Edges(edges) => {
            for &(a, b) in edges {
                if a >= nodes || b >= nodes {
                    return Err(TopologyError {
                        reason: format!("edge {a}-{b} names a node beyond {}", nodes - 1),
                    });
                }
                if a == b {
                    return Err(TopologyError {
                        reason: format!("edge {a}-{b} links a node to itself"),
                    });
                }
                add(a, b);
            }
        }
    }
    Ok(set.into_iter().collect())
}

/// A random spanning tree (so the graph is connected) plus random links until every node has at
/// least `degree` links (capped at `nodes - 1`).
fn random_edges(nodes: usize, degree: usize, seed: u64) -> BTreeSet<(usize, usize)> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut edges = BTreeSet::new();
    let mut order: Vec<usize> = (0..nodes).collect();
    order.shuffle(&mut rng);
    for i in 1..nodes {
        let parent = order[rng.gen_range(0..i)];
        let child = order[i];
        edges.insert((parent.min(child), parent.max(child)));
    }
    let want = degree.min(nodes.saturating_sub(1));
    // Degrees kept in an array (the same choices as counting them in `edges`, in linear time).
    let mut deg = vec![0usize; nodes];
    for &(a, b) in &edges {
        deg[a] += 1;
        deg[b] += 1;
    }
    for n in 0..nodes {
        while deg[n] < want {
            let candidates: Vec<usize> = (0..nodes)
                .filter(|&m| m != n && !edges.contains(&(n.min(m), n.max(m))))
                .collect();
            // Prefer nodes that still need links, so degrees stay even.
            let needy: Vec<usize> = candidates
                .iter()
                .copied()
                .filter(|&m| deg[m] < want)
                .collect();
            let pool = if needy.is_empty() {
                &candidates
            } else {
                &needy
            };
            let Some(&m) = pool.choose(&mut rng) else {
                break;
            };
            edges.insert((n.min(m), n.max(m)));
            deg[n] += 1;
            deg[m] += 1;
        }
    }
    edges
}

/// True when every node in `members` reaches every other through links between members.
pub fn is_connected(edges: &[(usize, usize)], members: &[usize]) -> bool {
    let Some(&first) = members.first() else {
        return true;
    };
    let set: BTreeSet<usize> = members.iter().copied().collect();
    let mut adjacent: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for &(a, b) in edges {
        if set.contains(&a) && set.contains(&b) {
            adjacent.entry(a).or_default().push(b);
            adjacent.entry(b).or_default().push(a);
        }
    }
    let mut seen = BTreeSet::from([first]);
    let mut stack = vec![first];
    while let Some(n) = stack.pop() {
        for &other in adjacent.get(&n).into_iter().flatten() {
            if seen.insert(other) {
                stack.push(other);
            }
        }
    }
    seen.len() == set.len()
}

/// Links of `node`, as the other end.
pub fn neighbours(edges: &[(usize, usize)], node: usize) -> Vec<usize> {
    edges
        .iter()
        .filter_map(|&(a, b)| {
            if a == node {
                Some(b)
            } else if b == node {
                Some(a)
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(n: usize) -> Vec<usize> {
        (0..n).collect()
    }

    #[test]
    fn random_graphs_are_connected_and_meet_the_degree_for_many_seeds() {
        for seed in 0..50 {
            for (n, k) in [(2, 1), (5, 2), (8, 3), (20, 3), (13, 12)] {
                let e = build(&Topology::Random { degree: k }, n, seed).expect("build");
                assert!(is_connected(&e, &all(n)), "seed {seed} n {n} k {k}: {e:?}");
                for node in 0..n {
                    assert!(neighbours(&e, node).len() >= k.min(n - 1), "seed {seed}");
                }
            }
        }
    }

    #[test]
    fn random_graphs_depend_only_on_the_seed() {
        let t = Topology::Random { degree: 3 };
        assert_eq!(build(&t, 10, 7).ok(), build(&t, 10, 7).ok());
        assert_ne!(build(&t, 10, 7).ok(), build(&t, 10, 8).ok());
    }

    #[test]
    fn fixed_shapes() {
        assert_eq!(
            build(&Topology::Line, 4, 0).ok(),
            Some(vec![(0, 1), (1, 2), (2, 3)])
        );
        assert_eq!(
            build(&Topology::Ring, 4, 0).ok(),
            Some(vec![(0, 1), (0, 3), (1, 2), (2, 3)])
        );
        assert_eq!(
            build(&Topology::Star, 4, 0).ok(),
            Some(vec![(0, 1), (0, 2), (0, 3)])
        );
        assert_eq!(build(&Topology::Ring, 1, 0).ok(), Some(vec![]));
        assert!(build(&Topology::Edges(vec![(0, 9)]), 4, 0).is_err());
        assert!(build(&Topology::Edges(vec![(1, 1)]), 4, 0).is_err());
    }

    #[test]
    fn connectivity_sees_partitions() {
        let e = vec![(0, 1), (2, 3)];
        assert!(!is_connected(&e, &all(4)));
        assert!(is_connected(&e, &[0, 1]));
        assert!(!is_connected(
            &build(&Topology::Line, 5, 0).unwrap_or_default(),
            &[0, 1, 3]
        ));
    }
}
