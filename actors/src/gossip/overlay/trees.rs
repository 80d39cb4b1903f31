//! The push trees of the overlay ([`Trees`]), one per origin, bounded (the least recently used
//! forgotten). Each node decides only what it receives: it keeps one parent per tree (the peer
//! whose push brought the newest object first), sends PRUNE to other pushers of duplicates, and
//! pushes to every peer that did not send it a PRUNE. Ordered maps, so the router's output does
//! not depend on hashing. No messages handled or sent.

use std::collections::{BTreeMap, BTreeSet};

use super::tables::TreeKey;

#[derive(Debug)]
struct Tree<P> {
    /// Peers that asked not to be pushed to (PRUNE): they get IHAVE instead.
    lazy: BTreeSet<P>,
    /// Peers this node asked not to push (PRUNE sent), so a duplicate from them is not pruned
    /// twice.
    pruned: BTreeSet<P>,
    /// The peer whose push brought the last first copy on this tree.
    parent: Option<P>,
    /// The peers this node pushed the last object of this tree to.
    children: BTreeSet<P>,
    /// The newest `timestamp` seen on this tree (ms, the origin's clock).
    newest: u64,
    /// Use stamp, for forgetting the least recently used tree.
    used: u64,
}

/// The push trees, one per origin. Each node decides only what it receives: a duplicate pushed
/// by a peer other than its parent makes it send that peer a PRUNE, and a peer is pushed to
/// unless it sent a PRUNE (GRAFT undoes it). A new tree, or a new peer, pushes to everyone, and
/// the duplicates prune it down to a tree (Plumtree, without the symmetric prune: see
/// docs/PROTOCOL.md).
#[derive(Debug)]
pub(super) struct Trees<P> {
    trees: BTreeMap<TreeKey, Tree<P>>,
    clock: u64,
    capacity: usize,
}

impl<P: Copy + Ord> Trees<P> {
    pub(super) fn new(capacity: usize) -> Self {
        Trees {
            trees: BTreeMap::new(),
            clock: 0,
            capacity,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.trees.len()
    }

    /// Marks `key` used, creating its tree (everyone pushed to) and forgetting the least
    /// recently used one beyond the capacity.
    pub(super) fn touch(&mut self, key: TreeKey) {
        self.clock += 1;
        let clock = self.clock;
        self.trees
            .entry(key)
            .or_insert_with(|| Tree {
                lazy: BTreeSet::new(),
                pruned: BTreeSet::new(),
                parent: None,
                children: BTreeSet::new(),
                newest: 0,
                used: clock,
            })
            .used = clock;
        while self.trees.len() > self.capacity {
            let oldest = self
                .trees
                .iter()
                .min_by_key(|(_, t)| t.used)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => self.trees.remove(&k),
                None => break,
            };
        }
    }

    /// True when an object stamped `timestamp_ms` is the newest of `key`'s tree so far (ties
    /// included): only those move the parent and prune. A late copy of an older object took a
    /// path that says nothing about the tree now.
    pub(super) fn is_current(&mut self, key: TreeKey, timestamp_ms: u64) -> bool {
        self.trees.get_mut(&key).is_some_and(|t| {
            let current = timestamp_ms >= t.newest;
            t.newest = t.newest.max(timestamp_ms);
            current
        })
    }

    /// True when `peer` asked not to be pushed to on `key`'s tree.
    pub(super) fn is_lazy(&self, key: TreeKey, peer: P) -> bool {
        self.trees.get(&key).is_some_and(|t| t.lazy.contains(&peer))
    }

    /// `peer` sent PRUNE (`lazy`) or GRAFT (`!lazy`) for `key`'s tree.
    pub(super) fn set_lazy(&mut self, key: TreeKey, peer: P, lazy: bool) {
        if let Some(t) = self.trees.get_mut(&key) {
            if lazy {
                t.lazy.insert(peer);
            } else {
                t.lazy.remove(&peer);
            }
        }
    }

    /// `peer` sent PRUNE (`lazy`) or GRAFT (`!lazy`) for every tree.
    pub(super) fn set_lazy_everywhere(&mut self, peer: P, lazy: bool) {
        for t in self.trees.values_mut() {
            if lazy {
                t.lazy.insert(peer);
            } else {
                t.lazy.remove(&peer);
            }
        }
    }

    /// A duplicate pushed by `peer` on `key`'s tree: true when a PRUNE must go to it — it is not
    /// the parent and was not pruned already. A tree without a parent (its first copies came by
    /// pull, or from a peer whose push crossed our PRUNE) adopts `peer` instead: the last pusher
    /// is never pruned away.
    pub(super) fn prune(&mut self, key: TreeKey, peer: P) -> bool {
        let Some(t) = self.trees.get_mut(&key) else {
            return false;
        };
        if t.parent == Some(peer) || t.pruned.contains(&peer) {
            return false;
        }
        if t.parent.is_none() {
            t.parent = Some(peer);
            return false;
        }
        t.pruned.insert(peer)
    }

    /// `peer`'s push brought the first copy of an object on `key`'s tree: it becomes the parent,
    /// unless this node pruned it (its push crossed the PRUNE, which it will obey) or pushed it
    /// the previous object (a child overtaking once; adopting it could close a loop of parents).
    pub(super) fn set_parent(&mut self, key: TreeKey, peer: P) {
        if let Some(t) = self.trees.get_mut(&key) {
            if !t.pruned.contains(&peer) && !t.children.contains(&peer) {
                t.parent = Some(peer);
            }
        }
    }

    /// This node pushed an object of `key`'s tree to `peers`.
    pub(super) fn set_children(&mut self, key: TreeKey, peers: &[P]) {
        if let Some(t) = self.trees.get_mut(&key) {
            t.children = peers.iter().copied().collect();
        }
    }

    /// `peer` answered an ask on `key`'s tree: the GRAFT undid any PRUNE sent to it.
    pub(super) fn grafted(&mut self, key: TreeKey, peer: P) {
        if let Some(t) = self.trees.get_mut(&key) {
            t.pruned.remove(&peer);
        }
    }

    /// `peer` left (or connected anew): forgotten on every tree.
    pub(super) fn forget(&mut self, peer: P) {
        for t in self.trees.values_mut() {
            t.lazy.remove(&peer);
            t.pruned.remove(&peer);
            t.children.remove(&peer);
            if t.parent == Some(peer) {
                t.parent = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use hobbits_codec::Origin;

    use super::*;

    #[test]
    fn trees_start_eager_and_forget_the_least_recently_used() {
        let mut t: Trees<u8> = Trees::new(2);
        let (a, b, c) = (Some(Origin(1)), Some(Origin(2)), Some(Origin(3)));
        t.touch(a);
        assert!(!t.is_lazy(a, 7));
        t.set_lazy(a, 7, true);
        assert!(t.is_lazy(a, 7));
        t.touch(b);
        t.touch(a);
        t.touch(c);
        assert_eq!(t.len(), 2);
        assert!(t.is_lazy(a, 7), "a was used after b: b went");
        t.set_lazy(b, 7, true);
        assert!(!t.is_lazy(b, 7), "b is gone");
        t.forget(7);
        assert!(!t.is_lazy(a, 7));
    }

    #[test]
    fn duplicates_prune_once_and_never_the_parent() {
        let mut t: Trees<u8> = Trees::new(4);
        let a = Some(Origin(1));
        t.touch(a);
        assert!(!t.prune(a, 1), "a tree without a parent adopts the pusher");
        assert!(!t.prune(a, 1), "the parent was only late");
        assert!(t.prune(a, 2));
        assert!(!t.prune(a, 2), "pruned already");
        t.grafted(a, 2);
        t.set_parent(a, 2);
        assert!(t.prune(a, 1), "no longer the parent");
        assert!(t.prune(a, 3));
        t.set_parent(a, 3);
        assert!(
            !t.prune(a, 2),
            "a push that crossed the PRUNE makes no parent"
        );
        t.set_children(a, &[4]);
        t.set_parent(a, 4);
        assert!(t.prune(a, 4), "a child overtaking once makes no parent");
        t.forget(2);
        assert!(
            !t.prune(a, 2),
            "its parent gone, the tree adopts the next pusher"
        );
        assert!(t.prune(a, 5));
    }

    #[test]
    fn only_the_newest_object_of_a_tree_is_current() {
        let mut t: Trees<u8> = Trees::new(4);
        let a = Some(Origin(1));
        t.touch(a);
        assert!(t.is_current(a, 10));
        assert!(t.is_current(a, 10), "ties are current");
        assert!(!t.is_current(a, 9));
        assert!(!t.is_current(Some(Origin(9)), 99), "no such tree");
    }
}
