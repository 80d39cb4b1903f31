//! The generated Shadow documents, parsed back: the YAML with a YAML parser, the GML with a
//! small reader of its `key value` / `key [ ... ]` lines.

use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

use super::*;

fn ids(spec: &TestnetSpec) -> Vec<NodeId> {
    crate::run::node_ids(spec.seed, spec.nodes)
}

const FILE: &str = r#"
nodes = 4
seed = 3
producers = [0]
slot_ms = 500
slots = 12
settle_ms = 3000
persistent = [2]

[topology]
kind = "line"

[network]
latency_ms = 50

[network.locations]
eu = { eu = 10, us = 80 }
us = { us = 5 }

[network.reliabilities]
bad = { up_mbit = 2, down_mbit = 8, loss = 0.02 }

[[network.class]]
nodes = "0-1"
location = "eu"

[[network.class]]
nodes = "2"
location = "us"
reliability = "bad"

[[event]]
at_slot = 3
action = "join"
node = 3

[[event]]
at_slot = 5
action = "kill"
node = 2

[[event]]
at_slot = 8
action = "restart"
node = 2
"#;

fn plan() -> ShadowPlan {
    let spec = TestnetSpec::from_toml(FILE).expect("valid file");
    ShadowPlan::for_spec(&spec, Path::new("/opt/bin/hobbits-node"), &ids(&spec))
        .expect("shadow can run it")
}

fn yaml(plan: &ShadowPlan) -> Yaml {
    let mut docs = YamlLoader::load_from_str(&plan.yaml()).expect("the YAML parses");
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

fn args(process: &Yaml) -> Vec<String> {
    process["args"]
        .as_vec()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string arg").to_string())
        .collect()
}

fn after<'a>(args: &'a [String], flag: &str) -> Vec<&'a str> {
    args.windows(2)
        .filter(|w| w[0] == flag)
        .map(|w| w[1].as_str())
        .collect()
}

#[test]
fn one_host_per_node_at_its_address_with_its_peers_and_role() {
    let y = yaml(&plan());
    assert_eq!(y["general"]["stop_time"].as_str(), Some("10000 ms")); // 1 s + 12 x 500 ms + 3 s
    assert_eq!(
        y["network"]["graph"]["file"]["path"].as_str(),
        Some("network.gml")
    );
    let hosts = y["hosts"].as_hash().expect("hosts");
    assert_eq!(hosts.len(), 4);
    for n in 0..4 {
        let host = &y["hosts"][host_name(n).as_str()];
        assert_eq!(host["network_node_id"].as_i64(), Some(n as i64));
        assert_eq!(
            host["ip_addr"].as_str(),
            Some(format!("198.18.0.{}", 2 + n).as_str())
        );
        let first = &host["processes"][0];
        assert_eq!(first["path"].as_str(), Some("/opt/bin/hobbits-node"));
        let a = args(first);
        assert_eq!(a[0], "run");
        assert_eq!(after(&a, "--listen"), [format!("198.18.0.{}:9000", 2 + n)]);
        assert_eq!(after(&a, "--event-log"), [EVENT_LOG]);
        assert_eq!(after(&a, "--genesis-time"), ["946684801"]);
        assert!(a.contains(&"--attest".to_string()));
        // A line: each node dials its neighbours, by address, and nobody else.
        let want: Vec<String> = [n.checked_sub(1), (n < 3).then_some(n + 1)]
            .into_iter()
            .flatten()
            .map(|p| format!("hob+tcp://198.18.0.{}:9000", 2 + p))
            .collect();
        assert_eq!(after(&a, "--peer"), want, "node {n}");
        assert_eq!(a.contains(&"--produce".to_string()), n == 0);
        assert_eq!(after(&a, "--data-dir").len(), usize::from(n == 2));
    }
    // The producer stops half a slot after the last slot; the others run to the end.
    let p0 = &y["hosts"]["node0"]["processes"][0];
    assert_eq!(p0["start_time"].as_str(), Some("1000 ms"));
    assert_eq!(p0["shutdown_time"].as_str(), Some("7250 ms"));
    assert_eq!(p0["shutdown_signal"].as_str(), Some("SIGTERM"));
    assert_eq!(p0["expected_final_state"]["exited"].as_i64(), Some(0));
    assert_eq!(
        y["hosts"]["node1"]["processes"][0]["expected_final_state"].as_str(),
        Some("running")
    );
    // Join at slot 3; kill at slot 5 then restart at slot 8: two processes on one host.
    let p3 = y["hosts"]["node3"]["processes"].as_vec().expect("list");
    assert_eq!(p3.len(), 1);
    assert_eq!(p3[0]["start_time"].as_str(), Some("2500 ms"));
    let p2 = y["hosts"]["node2"]["processes"].as_vec().expect("list");
    assert_eq!(p2.len(), 2);
    assert_eq!(p2[0]["shutdown_time"].as_str(), Some("3500 ms"));
    assert_eq!(p2[0]["shutdown_signal"].as_str(), Some("SIGKILL"));
    assert_eq!(
        p2[0]["expected_final_state"]["signaled"].as_str(),
        Some("SIGKILL")
    );
    assert_eq!(p2[1]["start_time"].as_str(), Some("5000 ms"));
    assert_eq!(args(&p2[0]), args(&p2[1]));
    // Node 2's reliability: its bandwidth on its host.
    assert_eq!(
        y["hosts"]["node2"]["bandwidth_up"].as_str(),
        Some("2000 Kbit")
    );
    assert_eq!(
        y["hosts"]["node2"]["bandwidth_down"].as_str(),
        Some("8000 Kbit")
    );
    assert!(y["hosts"]["node1"]["bandwidth_up"].is_badvalue());
}

/// The GML's `node [...]` and `edge [...]` blocks as key -> value maps.
fn gml_blocks(text: &str, kind: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut out = Vec::new();
    let mut current: Option<std::collections::BTreeMap<String, String>> = None;
    for line in text.lines().map(str::trim) {
        if line == format!("{kind} [") {
            current = Some(Default::default());
        } else if line == "]" {
            out.extend(current.take());
        } else if let Some(block) = current.as_mut() {
            let (k, v) = line.split_once(' ').expect("one attribute per line");
            block.insert(k.to_string(), v.trim_matches('"').to_string());
        }
    }
    out
}

#[test]
fn the_graph_has_a_self_loop_per_node_and_an_edge_per_link_with_its_latency_and_loss() {
    let text = plan().gml();
    assert!(text.starts_with("graph [\n  directed 0\n"));
    let nodes = gml_blocks(&text, "node");
    assert_eq!(nodes.len(), 4);
    assert!(nodes.iter().all(|n| n.contains_key("host_bandwidth_up")));
    let edges = gml_blocks(&text, "edge");
    let find = |a: usize, b: usize| {
        edges
            .iter()
            .find(|e| e["source"] == a.to_string() && e["target"] == b.to_string())
            .unwrap_or_else(|| panic!("edge {a}-{b}"))
    };
    for n in 0..4 {
        assert_eq!(find(n, n)["latency"], "1 us");
    }
    assert_eq!(edges.len(), 4 + 3);
    // eu-eu 10 ms; eu-us 80 ms with node 2's 2% loss; node 3 has no class: the default 50 ms.
    assert_eq!(find(0, 1)["latency"], "10 ms");
    assert_eq!(find(0, 1)["packet_loss"], "0.0");
    assert_eq!(find(1, 2)["latency"], "80 ms");
    assert_eq!(find(1, 2)["packet_loss"], "0.02");
    assert_eq!(find(2, 3)["latency"], "50 ms");
    assert_eq!(find(2, 3)["packet_loss"], "0.02");
}

#[test]
fn refuses_what_shadow_cannot_express_naming_the_key() {
    let refusal = |extra: &str| {
        let spec = TestnetSpec::from_toml(&format!(
            "nodes = 4\n{extra}\n[topology]\nkind = \"line\"\n"
        ))
        .expect("valid file");
        ShadowPlan::for_spec(&spec, Path::new("/bin/true"), &ids(&spec))
            .err()
            .map(|e| e.to_string())
    };
    let text = refusal("[network]\njitter_ms = 5").expect("no jitter in Shadow");
    assert!(
        text.contains("`network.jitter_ms`") && text.contains("shadow"),
        "{text}"
    );
    let text = refusal("[[event]]\nat_slot = 2\naction = \"cut\"\nlink = [0, 1]\n")
        .expect("the graph is fixed");
    assert!(text.contains("event 0 (`cut` at slot 2)"), "{text}");
    let text = refusal(
        "[[event]]\nat_slot = 2\naction = \"freeze\"\nnode = 1\n[[event]]\nat_slot = 3\naction = \"thaw\"\nnode = 1\n",
    )
    .expect("no SIGCONT");
    assert!(text.contains("`freeze`"), "{text}");
    // Loss and bandwidth are fixed per link / host: Shadow takes them.
    assert_eq!(refusal("[network]\nloss = 0.01\nlatency_ms = 5"), None);
}

#[test]
fn write_puts_both_files_in_the_directory() {
    let dir = std::env::temp_dir().join(format!("hobbits-shadow-write-{}", std::process::id()));
    let p = plan();
    assert_eq!(
        p.write(&dir).expect("written"),
        ["shadow.yaml", "network.gml"]
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("shadow.yaml")).expect("yaml"),
        p.yaml()
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("network.gml")).expect("gml"),
        p.gml()
    );
    std::fs::remove_dir_all(&dir).expect("removed");
}

#[test]
fn sites_pack_the_nodes_without_a_role_onto_shared_hosts_of_one_location() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/testnets/shadow_sites.toml"
    ))
    .expect("example");
    let spec = TestnetSpec::from_toml(&text).expect("valid");
    let plan = ShadowPlan::with_sites(&spec, Path::new("/opt/hobbits-node"), &ids(&spec), Some(4))
        .expect("plan");
    // Node 0 (producer) and node 39 (joins late) alone; 38 others in sites of at most 4 nodes,
    // each site inside one location (europe 1..19: 5 sites, america 20..38: 5 sites).
    let sites: Vec<&Host> = plan
        .hosts
        .iter()
        .filter(|h| h.name.starts_with("site"))
        .collect();
    assert_eq!(plan.hosts.len(), 2 + sites.len());
    assert_eq!(sites.len(), 10);
    assert!(sites.iter().all(|h| (1..=4).contains(&h.nodes.len())));
    for h in &sites {
        let europe = h.nodes.iter().all(|&n| n < 20);
        let america = h.nodes.iter().all(|&n| n >= 20);
        assert!(europe || america, "{:?}", h.nodes);
    }
    let y = yaml(&plan);
    assert_eq!(y["network"]["use_shortest_path"].as_bool(), Some(false));
    let site0 = &y["hosts"]["site0"]["processes"][0];
    assert_eq!(args(site0), ["site", "../../../site-0.json"]);
    assert_eq!(site0["expected_final_state"].as_str(), Some("running"));
    // The site files: each node at its host's address on its own port, dialing its neighbours'
    // addresses, logging to its own file.
    assert_eq!(plan.sites.len(), 10);
    let (name, site) = &plan.sites[0];
    assert_eq!(name, "site-0.json");
    let host = sites[0];
    for (slot, node) in site.nodes.iter().enumerate() {
        let n = host.nodes[slot];
        assert_eq!(node.listen, format!("{}:{}", host.addr, 9000 + slot));
        assert_eq!(node.node_id, plan.node_ids[n].0);
        assert_eq!(
            node.event_log.as_deref(),
            Some(format!("events-{n}.jsonl").as_str())
        );
        let want = plan
            .edges
            .iter()
            .filter(|&&(a, b)| a == n || b == n)
            .count();
        assert_eq!(node.peers.len(), want);
        assert_eq!(
            plan.log_path(n),
            Path::new(&host.name).join(format!("events-{n}.jsonl"))
        );
    }
    assert_eq!(plan.log_path(0), Path::new("node0").join(EVENT_LOG));
    // The graph: the two locations and "no location", every pair with its latency.
    let edges = gml_blocks(&plan.gml(), "edge");
    assert_eq!(gml_blocks(&plan.gml(), "node").len(), 3);
    assert_eq!(edges.len(), 6);
    let latency = |a: &str, b: &str| {
        edges
            .iter()
            .find(|e| e["source"] == a && e["target"] == b)
            .map(|e| e["latency"].clone())
    };
    // Locations sorted: america 0, europe 1.
    assert_eq!(latency("0", "0").as_deref(), Some("15 ms"));
    assert_eq!(latency("0", "1").as_deref(), Some("80 ms"));
    assert_eq!(latency("1", "1").as_deref(), Some("10 ms"));
    // One host per node unless asked (40 nodes are far below the host limit).
    let plain =
        ShadowPlan::for_spec(&spec, Path::new("/opt/hobbits-node"), &ids(&spec)).expect("plan");
    assert_eq!(plain.hosts.len(), 40);
    assert!(plain.sites.is_empty());
}

#[test]
fn sites_refuse_a_links_or_a_nodes_own_shape() {
    let spec = TestnetSpec::from_toml(FILE).expect("valid");
    let err = ShadowPlan::with_sites(&spec, Path::new("/bin/true"), &ids(&spec), Some(2))
        .expect_err("node 2's reliability loses packets");
    assert!(
        err.to_string().contains("`network.reliabilities.bad`"),
        "{err}"
    );
}

#[test]
fn by_default_sites_keep_the_run_within_the_open_file_budget() {
    let plan = |nodes: usize| {
        let spec =
            TestnetSpec::from_toml(&format!("nodes = {nodes}\n[topology]\nkind = \"line\"\n"))
                .expect("valid");
        ShadowPlan::for_spec(&spec, Path::new("/bin/true"), &ids(&spec)).expect("plan")
    };
    // 2,000 nodes: a host each (10,000 files for the processes, 2,000 logs).
    assert_eq!(plan(2000).hosts.len(), 2000);
    // 10,000 nodes: at most (17,000 - 10,000) / 5 = 1,400 hosts: the producer alone and the
    // others 8 to a site.
    let big = plan(10_000);
    assert_eq!(big.hosts.len(), 1 + 9999_usize.div_ceil(8));
    assert!(big.hosts.len() * FILES_PER_HOST + 10_000 <= FILE_BUDGET);
    assert!(!big.attest);
}

#[test]
fn nodes_attest_unless_the_file_says_not_or_past_the_cap() {
    let attesting = |text: &str| {
        let spec = TestnetSpec::from_toml(text).expect("valid file");
        let plan = ShadowPlan::for_spec(&spec, Path::new("/opt/bin/hobbits-node"), &ids(&spec))
            .expect("shadow can run it");
        let y = yaml(&plan);
        (0..spec.nodes)
            .filter(|n| {
                args(&y["hosts"][host_name(*n).as_str()]["processes"][0])
                    .contains(&"--attest".to_string())
            })
            .count()
    };
    assert_eq!(attesting("nodes = 4"), 4);
    assert_eq!(attesting("nodes = 4\nattest = false"), 0);
    let past = ATTEST_MAX_NODES + 1;
    assert_eq!(attesting(&format!("nodes = {past}")), 0);
    assert_eq!(attesting(&format!("nodes = {past}\nattest = true")), past);
}
