//! Unit tests of the testnet description: a full file, explicit edges and random degree, bad
//! files naming their problem, overrides, topology strings and the default testnet.

use super::*;

const FULL: &str = r#"
nodes = 6
seed = 42
producers = [0]
slot_ms = 100
slots = 30
settle_ms = 2000

[topology]
kind = "ring"

[[event]]
at_slot = 5
action = "join"
node = 5

[[event]]
at_slot = 8
action = "cut"
link = [0, 1]

[[event]]
at_slot = 10
action = "kill"
node = 2

[[event]]
at_slot = 14
action = "heal"
link = [1, 0]

[[event]]
at_slot = 16
action = "restart"
node = 2

[[event]]
at_slot = 20
action = "snapshot_join"
node = 4
from = 0
"#;

#[test]
fn a_full_file_parses_in_order() {
    let s = TestnetSpec::from_toml(FULL).expect("valid");
    assert_eq!(s.nodes, 6);
    assert_eq!(s.topology, Topology::Ring);
    assert_eq!(s.slot, Duration::from_millis(100));
    assert_eq!(s.settle, Duration::from_secs(2));
    assert_eq!(s.events.len(), 6);
    assert_eq!(s.events[0].action, Action::Join { node: 5 });
    assert_eq!(s.events[3].action, Action::HealLink { a: 1, b: 0 });
    assert_eq!(
        s.events[5].action,
        Action::SnapshotJoin { node: 4, from: 0 }
    );
    assert_eq!(s.initial_nodes(), vec![0, 1, 2, 3]);
}

#[test]
fn explicit_edges_and_random_degree_parse() {
    let s = TestnetSpec::from_toml(
        "nodes = 3\n[topology]\nkind = \"edges\"\nedges = [[0, 1], [1, 2]]\n",
    )
    .expect("edges");
    assert_eq!(s.topology, Topology::Edges(vec![(0, 1), (1, 2)]));
    let s = TestnetSpec::from_toml("[topology]\nkind = \"random\"\ndegree = 4\n").expect("r");
    assert_eq!(s.topology, Topology::Random { degree: 4 });
}

#[test]
fn bad_files_name_the_problem() {
    let err = |t: &str| TestnetSpec::from_toml(t).expect_err(t);
    assert!(matches!(err("nodes = \"x\""), SpecError::Parse { .. }));
    assert!(matches!(err("colour = 3"), SpecError::Parse { .. }));
    assert!(matches!(
        err("nodes = 0"),
        SpecError::OutOfRange { field: "nodes", .. }
    ));
    assert!(matches!(
        err("nodes = 3\nproducers = [5]"),
        SpecError::NoSuchNode { node: 5, .. }
    ));
    assert!(matches!(
        err("[[event]]\nat_slot = 3\naction = \"explode\"\nnode = 1"),
        SpecError::BadEvent { index: 0, .. }
    ));
    assert!(matches!(
        err("[[event]]\nat_slot = 3\naction = \"restart\"\nnode = 1"),
        SpecError::BadEvent { .. }
    ));
    assert!(matches!(
        err("[topology]\nkind = \"line\"\n[[event]]\nat_slot = 3\naction = \"cut\"\nlink = [0, 5]"),
        SpecError::BadEvent { .. }
    ));
    assert!(matches!(
        err("[[event]]\nat_slot = 99\naction = \"kill\"\nnode = 1"),
        SpecError::BadEvent { .. }
    ));
    assert!(matches!(
        err("[topology]\nkind = \"hypercube\""),
        SpecError::BadTopology { .. }
    ));
}

#[test]
fn overrides_replace_and_revalidate() {
    let s = TestnetSpec::from_toml(FULL).expect("valid");
    let o = SpecOverrides {
        slots: Some(50),
        seed: Some(9),
        topology: Some("random:2".parse().expect("topology")),
        ..Default::default()
    };
    let t = s.clone().with_overrides(&o).expect("overrides");
    assert_eq!((t.slots, t.seed), (50, 9));
    assert_eq!(t.topology, Topology::Random { degree: 2 });
    // Fewer nodes than the scenario needs is refused.
    let o = SpecOverrides {
        nodes: Some(3),
        ..Default::default()
    };
    assert!(s.with_overrides(&o).is_err());
}

#[test]
fn topology_strings_round_trip() {
    for s in ["line", "ring", "star", "random:5", "edges:0-1,1-2"] {
        let t: Topology = s.parse().expect(s);
        assert_eq!(t.to_string(), s);
    }
    assert!("edges:0+1".parse::<Topology>().is_err());
    assert!("random:x".parse::<Topology>().is_err());
}

#[test]
fn the_default_testnet_is_valid_for_any_size() {
    for n in 1..=16 {
        TestnetSpec::default_for(n).validate().expect("default");
    }
}

const FAULTS: &str = r#"
nodes = 6
producers = [0, 3]
slots = 40
engine = "netns"
persistent = [4]

[topology]
kind = "ring"

[network]
latency_ms = 30
jitter_ms = 5

[[network.node]]
node = 5
up_mbit = 2
down_mbit = 2
loss = 0.02

[[event]]
at_slot = 4
action = "freeze"
node = 3

[[event]]
at_slot = 6
action = "thaw"
node = 3

[[event]]
at_slot = 8
action = "partition"
groups = { east = [0, 1, 2], west = [3, 4, 5] }

[[event]]
at_slot = 12
action = "heal_partition"

[[event]]
at_slot = 14
action = "loss"
link = [0, 1]
loss = 0.05

[[event]]
at_slot = 16
action = "bandwidth"
node = 2
up_mbit = 1

[[event]]
at_slot = 18
action = "kill"
node = 4

[[event]]
at_slot = 20
action = "restart"
node = 4

[[event]]
at_slot = 22
action = "clock_skew"
node = 3
skew_ms = -300
"#;

#[test]
fn fault_events_network_engine_and_persistent_nodes_parse() {
    let spec = TestnetSpec::from_toml(FAULTS).expect("valid");
    assert_eq!(spec.engine, Some(EngineName::Netns));
    assert_eq!(spec.persistent, vec![4]);
    assert_eq!(spec.network.default.latency, Duration::from_millis(30));
    let actions: Vec<&str> = spec.events.iter().map(|e| e.action.name()).collect();
    assert_eq!(
        actions,
        [
            "freeze",
            "thaw",
            "partition",
            "heal_partition",
            "loss",
            "bandwidth",
            "kill",
            "restart",
            "clock_skew"
        ]
    );
    assert_eq!(
        spec.events[2].action,
        Action::Partition {
            groups: vec![
                ("east".into(), vec![0, 1, 2]),
                ("west".into(), vec![3, 4, 5])
            ]
        }
    );
    assert_eq!(
        spec.events[5].action,
        Action::SetBandwidth {
            node: 2,
            up_bps: Some(1_000_000),
            down_bps: None
        }
    );
    assert_eq!(
        spec.events[8].action,
        Action::ClockSkew {
            node: 3,
            skew_ms: -300
        }
    );
}

#[test]
fn impossible_faults_are_refused_naming_the_event() {
    let cases = [
        (
            "action = \"freeze\"",
            "action = \"thaw\"",
            "node 3 is not frozen then",
        ),
        (
            "action = \"partition\"\ngroups = { east = [0, 1, 2], west = [3, 4, 5] }",
            "action = \"heal_partition\"",
            "no partition to heal",
        ),
    ];
    for (from, to, reason) in cases {
        let err = TestnetSpec::from_toml(&FAULTS.replacen(from, to, 1))
            .expect_err(reason)
            .to_string();
        assert!(err.contains(reason), "{err}");
    }
    let two_groups = FAULTS.replace("west = [3, 4, 5]", "west = [2, 4, 5]");
    let err = TestnetSpec::from_toml(&two_groups)
        .expect_err("node 2 twice")
        .to_string();
    assert!(err.contains("node 2 is in two groups"), "{err}");
    let not_a_link = FAULTS.replace("link = [0, 1]\nloss", "link = [0, 3]\nloss");
    let err = TestnetSpec::from_toml(&not_a_link)
        .expect_err("0-3")
        .to_string();
    assert!(err.contains("0-3 is not a link"), "{err}");
    let not_a_producer = FAULTS.replace("node = 3\nskew_ms", "node = 1\nskew_ms");
    let err = TestnetSpec::from_toml(&not_a_producer)
        .expect_err("node 1 has no slot clock")
        .to_string();
    assert!(err.contains("only a producer has a slot clock"), "{err}");
    let bad_engine = FAULTS.replace("engine = \"netns\"", "engine = \"docker\"");
    assert!(TestnetSpec::from_toml(&bad_engine).is_err());
    let bad_network = FAULTS.replace("jitter_ms = 5", "jitter_ms = 5\nloss = 2.0");
    let err = TestnetSpec::from_toml(&bad_network)
        .expect_err("loss 2")
        .to_string();
    assert!(err.contains("`network.loss`"), "{err}");
}

#[test]
fn dialects_per_node_with_a_default_and_links_both_ends_speak() {
    let mixed = r#"
nodes = 4
dialect = "both"
[topology]
kind = "line"
[[node]]
index = 0
dialect = "hobbits"
[[node]]
index = 3
dialect = "eth"
"#;
    let spec = TestnetSpec::from_toml(mixed).expect("valid");
    let kinds: Vec<Dialect> = (0..4).map(|n| spec.dialects.of(n)).collect();
    assert_eq!(
        kinds,
        vec![Dialect::Hobbits, Dialect::Both, Dialect::Both, Dialect::Eth]
    );
    let edges = spec.edges().expect("edges");
    assert_eq!(
        spec.dialects.wires(&edges),
        vec![Wire::Hobbits, Wire::Hobbits, Wire::Eth]
    );
    assert!(!spec.dialects.all_hobbits());
    assert!(TestnetSpec::default_for(4).dialects.all_hobbits());

    // Node 0 (hobbits) next to node 1 (eth): no wire, refused naming the key and both nodes.
    let impossible = mixed.replace("dialect = \"both\"", "dialect = \"eth\"");
    let err = TestnetSpec::from_toml(&impossible).expect_err("no common dialect");
    let text = err.to_string();
    assert!(
        text.contains("`dialect`") && text.contains("nodes 0 (hobbits) and 1 (eth)"),
        "{text}"
    );
    let err = TestnetSpec::from_toml("nodes = 2\ndialect = \"quic\"").expect_err("bad name");
    assert!(
        err.to_string().contains("`dialect`: dialect `quic`"),
        "{err}"
    );
    let err = TestnetSpec::from_toml("nodes = 2\n[[node]]\nindex = 5\ndialect = \"eth\"")
        .expect_err("no node 5");
    assert!(
        matches!(err, SpecError::NoSuchNode { node: 5, .. }),
        "{err}"
    );
    // A cut may cross either wire: the node redials lost peers of both dialects.
    let cut =
        |link: &str| format!("{mixed}\n[[event]]\nat_slot = 2\naction = \"cut\"\nlink = {link}\n");
    assert!(TestnetSpec::from_toml(&cut("[2, 3]")).is_ok());
    assert!(TestnetSpec::from_toml(&cut("[0, 1]")).is_ok());
    let err = TestnetSpec::from_toml("nodes = 2\n[[node]]\nindex = 1\ncolour = \"red\"")
        .expect_err("unknown key");
    assert!(err.to_string().contains("colour"), "{err}");
}

#[test]
fn gossip_overlay_for_every_node_or_node_by_node() {
    let none = TestnetSpec::from_toml("nodes = 4").expect("valid");
    assert!(!none.gossip_overlay.any(4));
    let all = TestnetSpec::from_toml("nodes = 4\ngossip_overlay = true").expect("valid");
    assert!((0..4).all(|n| all.gossip_overlay.on(n)));
    let mixed =
        TestnetSpec::from_toml("nodes = 4\n[gossip_overlay]\ndefault = true\nflood = [1, 3]")
            .expect("valid");
    let on: Vec<bool> = (0..4).map(|n| mixed.gossip_overlay.on(n)).collect();
    assert_eq!(on, vec![true, false, true, false]);
    let few = TestnetSpec::from_toml("nodes = 4\n[gossip_overlay]\noverlay = [2]").expect("valid");
    let on: Vec<bool> = (0..4).map(|n| few.gossip_overlay.on(n)).collect();
    assert_eq!(on, vec![false, false, true, false]);
    // The command line sets every node either way.
    let o = SpecOverrides {
        gossip_overlay: Some(false),
        ..Default::default()
    };
    let off = mixed.with_overrides(&o).expect("valid");
    assert!(!off.gossip_overlay.any(4));
    let err = |text: &str| TestnetSpec::from_toml(text).expect_err(text);
    assert!(matches!(
        err("nodes = 4\n[gossip_overlay]\noverlay = [4]"),
        SpecError::NoSuchNode { .. }
    ));
    assert!(matches!(
        err("nodes = 4\n[gossip_overlay]\noverlay = [1]\nflood = [1]"),
        SpecError::Parse { .. }
    ));
    assert!(matches!(
        err("nodes = 4\n[gossip_overlay]\neverything = true"),
        SpecError::Parse { .. }
    ));
}

#[test]
fn attest_follows_the_file_then_the_flag_then_the_engine_default() {
    let small = TestnetSpec::from_toml("nodes = 4").expect("valid");
    assert_eq!(small.attest, None);
    assert!(small.attests(None));
    assert!(small.attests(Some(64)));
    // An engine's cap (Shadow: 64) turns the default off past it, not what the file says.
    let large = TestnetSpec::from_toml("nodes = 100").expect("valid");
    assert!(large.attests(None));
    assert!(!large.attests(Some(64)));
    let forced = TestnetSpec::from_toml("nodes = 100\nattest = true").expect("valid");
    assert!(forced.attests(Some(64)));
    let off = TestnetSpec::from_toml("nodes = 4\nattest = false").expect("valid");
    assert!(!off.attests(None));
    assert!(!off.attests(Some(64)));
    // The command line wins over the file.
    let o = SpecOverrides {
        attest: Some(true),
        ..Default::default()
    };
    assert!(off.with_overrides(&o).expect("valid").attests(None));
}
