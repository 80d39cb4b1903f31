//! Unit tests of the link model: resolution order, loss combination, the latency floor, refusals
//! naming their key, node lists.

use super::*;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Wrapper {
    network: NetworkFile,
}

fn parse(text: &str) -> Result<NetworkSpec, NetworkError> {
    let w: Wrapper = config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| bad("network", e.to_string()))?;
    NetworkSpec::from_file(w.network)
}

const WORLD: &str = r#"
    [network]
    latency_ms = 20
    jitter_ms = 2
    [network.locations]
    europe = { europe = 10, america = 80, asia = 150 }
    america = { america = 10, asia = 120 }
    asia = { asia = 15 }
    [network.reliabilities]
    bad = { up_mbit = 2, down_mbit = 2, loss = 0.02 }
    [[network.class]]
    nodes = "0-1"
    location = "europe"
    [[network.class]]
    nodes = "2"
    location = "asia"
    reliability = "bad"
    [[network.link]]
    link = [1, 0]
    latency_ms = 3
    [[network.node]]
    node = 3
    down_mbit = 0.5
"#;

#[test]
fn resolves_overrides_then_locations_then_defaults() {
    let spec = parse(WORLD).expect("parses");
    spec.validate(4).expect("valid");
    let ms = Duration::from_millis;
    assert_eq!(
        spec.link_params(0, 1).latency,
        ms(3),
        "override, either order"
    );
    assert_eq!(spec.link_params(0, 2).latency, ms(150), "europe-asia");
    assert_eq!(spec.link_params(2, 1).latency, ms(150), "symmetric");
    assert_eq!(
        spec.link_params(2, 3).latency,
        ms(20),
        "node 3 has no location: default"
    );
    assert_eq!(spec.link_params(0, 2).jitter, ms(2));
    let r = spec.resolve(4, &[(0, 1), (0, 2), (2, 3)]);
    assert_eq!(r.delay[&(0, 2)], (ms(150), ms(2)));
    assert_eq!(r.loss.get(&(0, 1)), None);
    assert_eq!(r.loss[&(0, 2)], Loss(20_000));
    assert_eq!(r.loss[&(2, 0)], Loss(20_000));
    assert_eq!(
        r.bandwidth,
        vec![
            (None, None),
            (None, None),
            (Some(2_000_000), Some(2_000_000)),
            (None, Some(500_000))
        ]
    );
    let features: Vec<Feature> = spec.features().into_keys().collect();
    assert_eq!(
        features,
        vec![
            Feature::Latency,
            Feature::Jitter,
            Feature::Loss,
            Feature::Bandwidth
        ]
    );
    assert_eq!(
        spec.features()[&Feature::Loss],
        "network.class[1].reliability"
    );
}

#[test]
fn the_latency_floor_is_the_shortest_path() {
    let spec = parse(WORLD).expect("parses");
    // 0-1 3 ms (override), 0-2 150 ms, 1-2 150 ms, 2-3 20 ms (node 3 has no location).
    let edges = [(0, 1), (0, 2), (1, 2), (2, 3)];
    let r = spec.resolve(5, &edges);
    let ms = |n| Some(Duration::from_millis(n));
    assert_eq!(
        r.latency_floor(5, &edges, 1),
        vec![ms(3), ms(0), ms(150), ms(170), None]
    );
}

#[test]
fn losses_combine_independently() {
    let a = Loss::from_fraction("x", 0.1).expect("ok");
    let b = Loss::from_fraction("x", 0.2).expect("ok");
    assert_eq!(a.combine(b), Loss(280_000));
    assert_eq!(Loss::default().combine(a), a);
}

#[test]
fn refusals_name_the_key() {
    let cases = [
        ("[network]\nloss = 1.5", "network.loss"),
        ("[network]\nlatency_ms = 20000", "network.latency_ms"),
        (
            "[network.reliabilities]\nx = { up_mbit = 0 }",
            "network.reliabilities.x.up_mbit",
        ),
        (
            "[[network.class]]\nnodes = \"0-x\"",
            "network.class[0].nodes",
        ),
        ("[[network.link]]\nlink = [1]", "network.link[0].link"),
        (
            "[network.locations]\na = { b = 1 }\nb = { a = 2 }",
            "network.locations.b.a",
        ),
        (
            "[[network.node]]\nnode = 1\n[[network.node]]\nnode = 1",
            "network.node[1]",
        ),
    ];
    for (text, key) in cases {
        let err = parse(text).expect_err(text);
        assert_eq!(err.key, key, "{text}: {err}");
    }
    let validate = [
        ("[[network.class]]\nnodes = \"0-5\"", "network.class[0].nodes"),
        ("[[network.class]]\nnodes = \"0\"\n[[network.class]]\nnodes = \"0\"", "network.class[1].nodes"),
        ("[[network.class]]\nnodes = \"0\"\nlocation = \"mars\"", "network.class[0].location"),
        ("[[network.class]]\nnodes = \"0\"\nreliability = \"x\"", "network.class[0].reliability"),
        ("[network.locations]\na = { a = 1 }\nb = { b = 1 }\n[[network.class]]\nnodes = \"0\"\nlocation = \"a\"\n[[network.class]]\nnodes = \"1\"\nlocation = \"b\"", "network.locations.a"),
        ("[[network.link]]\nlink = [1, 1]", "network.link[0].link"),
        ("[[network.node]]\nnode = 9", "network.node"),
    ];
    for (text, key) in validate {
        let err = parse(text).expect("parses").validate(4).expect_err(text);
        assert_eq!(err.key, key, "{text}: {err}");
    }
    let unknown = parse("[network]\nlatncy_ms = 3").expect_err("unknown key");
    assert!(unknown.reason.contains("latncy_ms"), "{unknown}");
}

#[test]
fn empty_section_uses_no_feature() {
    let spec = parse("[network]\nlatency_ms = 0").expect("parses");
    assert!(spec.is_empty());
    assert_eq!(spec.resolve(2, &[(0, 1)]).delay.len(), 0);
}

#[test]
fn node_lists() {
    assert_eq!(parse_nodes("0-2, 5").expect("ok"), vec![0, 1, 2, 5]);
    assert!(parse_nodes("3-1").is_err());
    assert!(parse_nodes("").is_err());
    assert!(parse_nodes("0-9999999").is_err());
}
