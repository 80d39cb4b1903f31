//! Pure rules for judging GET_BLOCK_HEADERS answers (no I/O, unit-tested): order and
//! parent_root linkage of a list of headers, and the blocks the eth2 `skip_slots` rule selects
//! from a known chain.
//!
//! The rule (eth2 RPC interface v0.8.1, "Beacon block headers"): targets `s0, s0 ± (skip+1), …`;
//! each target yields the closest block at or before it; duplicates collapse; at most `max`.
//! So with empty slots consecutive results can be closer than `skip+1` (the spec's own example:
//! skip 1 from slot 2 with slot 4 empty gives `[2, 3, 6, 8, 10]`); spacing is exactly `skip+1`
//! only on a chain without empty slots.

use hobbits_chain::{BeaconBlockHeader, Root, Slot};

/// What the checks need of one header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderSummary {
    /// Its slot.
    pub slot: Slot,
    /// Its signing_root (the block's identity).
    pub root: Root,
    /// Its parent_root.
    pub parent: Root,
}

impl From<&BeaconBlockHeader> for HeaderSummary {
    fn from(h: &BeaconBlockHeader) -> Self {
        HeaderSummary {
            slot: h.slot,
            root: h.signing_root(),
            parent: h.parent_root,
        }
    }
}

/// Walk order of a range query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// `direction` 1.
    Ascending,
    /// `direction` 0.
    Descending,
}

impl Order {
    /// The wire `direction`.
    pub fn wire(self) -> u8 {
        match self {
            Order::Ascending => 1,
            Order::Descending => 0,
        }
    }

    /// An arrow for evidence lines.
    pub fn arrow(self) -> &'static str {
        match self {
            Order::Ascending => "asc",
            Order::Descending => "desc",
        }
    }
}

/// Slots strictly increasing (ascending) or decreasing (descending).
pub fn check_monotone(headers: &[HeaderSummary], order: Order) -> Result<(), String> {
    for (i, w) in headers.windows(2).enumerate() {
        let ok = match order {
            Order::Ascending => w[1].slot > w[0].slot,
            Order::Descending => w[1].slot < w[0].slot,
        };
        if !ok {
            return Err(format!(
                "slots not strictly {}: #{} slot {} then #{} slot {}",
                if order == Order::Ascending {
                    "increasing"
                } else {
                    "decreasing"
                },
                i,
                w[0].slot.0,
                i + 1,
                w[1].slot.0
            ));
        }
    }
    Ok(())
}

/// Strictly monotone, and each header is the parent (by signing_root) of the next in chain order.
pub fn check_linked(headers: &[HeaderSummary], order: Order) -> Result<(), String> {
    check_monotone(headers, order)?;
    for (i, w) in headers.windows(2).enumerate() {
        let (parent, child) = match order {
            Order::Ascending => (&w[0], &w[1]),
            Order::Descending => (&w[1], &w[0]),
        };
        if child.parent != parent.root {
            return Err(format!(
                "#{}/#{}: header at slot {} has parent_root {} but the header at slot {} has signing_root {}",
                i,
                i + 1,
                child.slot.0,
                super::conn::short_root(&child.parent.0),
                parent.slot.0,
                super::conn::short_root(&parent.root.0)
            ));
        }
    }
    Ok(())
}

/// The signing_roots the skip_slots rule selects from `chain` (every block from genesis up to its
/// last, ascending): start slot `s0`, `skip`, `order`, at most `max`.
pub fn expected_selection(
    chain: &[HeaderSummary],
    s0: Slot,
    skip: u64,
    order: Order,
    max: usize,
) -> Vec<Root> {
    let Some(tip) = chain.last().map(|h| h.slot) else {
        return Vec::new();
    };
    let step = skip.saturating_add(1);
    let at_or_before = |t: u64| -> Option<Root> {
        let idx = chain.partition_point(|h| h.slot.0 <= t);
        idx.checked_sub(1).map(|i| chain[i].root)
    };
    let mut out: Vec<Root> = Vec::new();
    let mut t = Some(s0.0);
    while let Some(target) = t {
        if out.len() >= max {
            break;
        }
        if order == Order::Ascending && target > tip.0 {
            break;
        }
        if let Some(root) = at_or_before(target) {
            if out.last() != Some(&root) {
                out.push(root);
            }
        }
        t = match order {
            Order::Ascending => target.checked_add(step),
            Order::Descending => target.checked_sub(step),
        };
    }
    out
}

/// Compares an answer with the rule's selection from a chain known up to `known_tip`. Headers at
/// slots above `known_tip` (the peer's chain grew since) are allowed at the end of an ascending
/// answer; a shorter answer than expected is allowed (a peer may cap responses) but not an empty
/// one when blocks were expected. `Ok` says how many were compared and whether it was cut short.
pub fn compare_selection(
    got: &[HeaderSummary],
    expected: &[Root],
    known_tip: Slot,
) -> Result<String, String> {
    if got.is_empty() && !expected.is_empty() {
        return Err(format!("empty answer, {} headers expected", expected.len()));
    }
    let known: Vec<&HeaderSummary> = got.iter().take_while(|h| h.slot <= known_tip).collect();
    if got[known.len()..].iter().any(|h| h.slot <= known_tip) {
        return Err("headers beyond the known chain are mixed with known ones".into());
    }
    for (i, h) in known.iter().enumerate() {
        match expected.get(i) {
            Some(root) if *root == h.root => {}
            Some(root) => {
                return Err(format!(
                    "#{i}: got the block at slot {} ({}), the skip rule selects {}",
                    h.slot.0,
                    super::conn::short_root(&h.root.0),
                    super::conn::short_root(&root.0)
                ))
            }
            None => {
                return Err(format!(
                    "#{i}: extra block at slot {}: the rule selects only {}",
                    h.slot.0,
                    expected.len()
                ))
            }
        }
    }
    let cut = if known.len() < expected.len() && got.len() == known.len() {
        format!(" (answer cut at {} of {})", known.len(), expected.len())
    } else {
        String::new()
    };
    Ok(format!("{} as the rule selects{cut}", known.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain with blocks at `slots` (ascending), linked.
    fn chain(slots: &[u64]) -> Vec<HeaderSummary> {
        let mut out: Vec<HeaderSummary> = Vec::new();
        for &s in slots {
            let parent = out.last().map_or(Root::ZERO, |h| h.root);
            let mut root = [0u8; 32];
            root[..8].copy_from_slice(&(s + 1).to_be_bytes());
            out.push(HeaderSummary {
                slot: Slot(s),
                root: Root(root),
                parent,
            });
        }
        out
    }

    fn slots_of(c: &[HeaderSummary], roots: &[Root]) -> Vec<u64> {
        roots
            .iter()
            .map(|r| c.iter().find(|h| h.root == *r).expect("known").slot.0)
            .collect()
    }

    #[test]
    fn spec_example_with_empty_slot_collapses() {
        // Blocks at every slot 0..=10 except 4: skip 1 from 2 gives [2, 3, 6, 8, 10].
        let c = chain(&[0, 1, 2, 3, 5, 6, 7, 8, 9, 10]);
        let sel = expected_selection(&c, Slot(2), 1, Order::Ascending, 100);
        assert_eq!(slots_of(&c, &sel), vec![2, 3, 6, 8, 10]);
        // And with slot 3 empty too: [2, 6, 8, 10].
        let c = chain(&[0, 1, 2, 5, 6, 7, 8, 9, 10]);
        let sel = expected_selection(&c, Slot(2), 1, Order::Ascending, 100);
        assert_eq!(slots_of(&c, &sel), vec![2, 6, 8, 10]);
    }

    #[test]
    fn descending_and_max() {
        let c = chain(&[0, 1, 2, 3, 4, 5, 6]);
        let sel = expected_selection(&c, Slot(6), 2, Order::Descending, 100);
        assert_eq!(slots_of(&c, &sel), vec![6, 3, 0]);
        let sel = expected_selection(&c, Slot(0), 0, Order::Ascending, 3);
        assert_eq!(slots_of(&c, &sel), vec![0, 1, 2]);
    }

    #[test]
    fn linkage_and_order_are_checked() {
        let c = chain(&[0, 1, 3]);
        check_linked(&c, Order::Ascending).expect("linked");
        let mut rev = c.clone();
        rev.reverse();
        check_linked(&rev, Order::Descending).expect("linked descending");
        assert!(check_linked(&rev, Order::Ascending).is_err());
        let mut broken = c.clone();
        broken[2].parent = Root([9; 32]);
        assert!(check_linked(&broken, Order::Ascending)
            .expect_err("must fail")
            .contains("parent_root"));
    }

    #[test]
    fn comparison_allows_growth_and_caps_but_not_wrong_blocks() {
        let c = chain(&[0, 1, 2, 3, 4]);
        let known = &c[..4];
        let expected = expected_selection(known, Slot(0), 1, Order::Ascending, 10);
        // Chain grew to slot 4: the extra block at the end is fine.
        let got = vec![c[0], c[2], c[4]];
        compare_selection(&got, &expected, Slot(3)).expect("growth allowed");
        // Cut short by a cap.
        assert!(compare_selection(&got[..1], &expected, Slot(3))
            .expect("cap")
            .contains("cut"));
        // Wrong block.
        let wrong = vec![c[0], c[1]];
        assert!(compare_selection(&wrong, &expected, Slot(3)).is_err());
        assert!(compare_selection(&[], &expected, Slot(3)).is_err());
    }
}
