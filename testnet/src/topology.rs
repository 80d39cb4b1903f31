//! Topology generation: the links (undirected, each once as `(smaller, larger)`) of a line, ring,
//! star, seeded random graph or explicit edge list, and a connectivity check. Plain functions, no
//! I/O, no messages.

use std::collections::BTreeSet;

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::spec::{SpecError, Topology};

/// The links of `topology` over `nodes` nodes, sorted. Random graphs depend only on `seed`.
pub fn build(
    topology: &Topology,
    nodes: usize,
    seed: u64,
) -> Result<Vec<(usize, usize)>, SpecError> {
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
                return Err(SpecError::BadTopology {
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
                    return Err(SpecError::BadTopology {
                        reason: format!("edge {a}-{b} names a node beyond {}", nodes - 1),
                    });
                }
                if a == b {
                    return Err(SpecError::BadTopology {
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
    let deg = |edges: &BTreeSet<(usize, usize)>, n: usize| {
        edges.iter().filter(|(a, b)| *a == n || *b == n).count()
    };
    for n in 0..nodes {
        while deg(&edges, n) < want {
            let candidates: Vec<usize> = (0..nodes)
                .filter(|&m| m != n && !edges.contains(&(n.min(m), n.max(m))))
                .collect();
            // Prefer nodes that still need links, so degrees stay even.
            let needy: Vec<usize> = candidates
                .iter()
                .copied()
                .filter(|&m| deg(&edges, m) < want)
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
    let mut seen = BTreeSet::from([first]);
    let mut stack = vec![first];
    while let Some(n) = stack.pop() {
        for &(a, b) in edges {
            let other = if a == n {
                b
            } else if b == n {
                a
            } else {
                continue;
            };
            if set.contains(&other) && seen.insert(other) {
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
