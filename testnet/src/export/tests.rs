//! Every generated document parsed back (YAML with a YAML parser, node TOML with the config
//! crate) and checked against the testnet file: names, ports, peers, probes, roles.

use std::collections::BTreeSet;

use yaml_rust2::{Yaml, YamlLoader};

use super::*;

const FILE: &str = r#"
nodes = 5
producers = [0]
slot_ms = 400
persistent = [2]

[topology]
kind = "ring"

[network]
latency_ms = 20

[[event]]
at_slot = 3
action = "join"
node = 4

[[event]]
at_slot = 5
action = "kill"
node = 1

[[event]]
at_slot = 7
action = "restart"
node = 1
"#;

fn setup() -> (TestnetSpec, Vec<ExportNode>) {
    let spec = TestnetSpec::from_toml(FILE).expect("valid");
    let ids = crate::run::node_ids(spec.seed, spec.nodes);
    let nodes = nodes(&spec, &ids).expect("nodes");
    (spec, nodes)
}

fn docs(text: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(text).expect("the YAML parses")
}

fn strings(y: &Yaml) -> Vec<String> {
    y.as_vec()
        .expect("a list")
        .iter()
        .map(|v| v.as_str().expect("a string").to_string())
        .collect()
}

/// The ring's neighbours of `n` among 5 nodes.
fn ring(n: usize) -> BTreeSet<usize> {
    [(n + 1) % 5, (n + 4) % 5].into_iter().collect()
}

#[test]
fn nodes_carry_roles_peers_and_join_slots() {
    let (_, nodes) = setup();
    assert_eq!(nodes.len(), 5);
    for n in &nodes {
        assert_eq!(
            n.peers.iter().copied().collect::<BTreeSet<_>>(),
            ring(n.index)
        );
    }
    assert!(nodes[0].producer && !nodes[1].producer);
    assert!(nodes[2].persistent && !nodes[3].persistent);
    assert_eq!(nodes[4].joins_at, 3);
    assert_eq!(nodes[1].joins_at, 0);
}

#[test]
fn kubernetes_objects_name_ports_peers_and_probes() {
    let (spec, nodes) = setup();
    let d = docs(&k8s::manifests(&spec, &nodes));
    assert_eq!(d.len(), 3);
    let (config, service, set) = (&d[0], &d[1], &d[2]);

    assert_eq!(config["kind"].as_str(), Some("ConfigMap"));
    let data = config["data"].as_hash().expect("data");
    assert_eq!(data.len(), 5);
    for n in &nodes {
        let text = config["data"][format!("hobbits-{}.toml", n.index).as_str()]
            .as_str()
            .expect("a node's file");
        let c = ::config::Config::builder()
            .add_source(::config::File::from_str(text, ::config::FileFormat::Toml))
            .build()
            .expect("the node TOML parses");
        assert_eq!(c.get_string("listen").expect("listen"), "0.0.0.0:9000");
        assert_eq!(c.get_string("metrics").expect("metrics"), "0.0.0.0:9100");
        assert_eq!(c.get::<u64>("node_id").expect("id"), n.node_id.0);
        let peers: BTreeSet<String> = c
            .get::<Vec<String>>("peers")
            .expect("peers")
            .into_iter()
            .collect();
        let want: BTreeSet<String> = ring(n.index)
            .into_iter()
            .map(|p| format!("hob+tcp://hobbits-{p}.hobbits:9000"))
            .collect();
        assert_eq!(peers, want, "node {}", n.index);
        assert_eq!(c.get_bool("produce").unwrap_or(false), n.index == 0);
        if n.index == 0 {
            assert_eq!(c.get::<u64>("slot_ms").expect("slot"), 400);
        }
        assert_eq!(c.get_string("data_dir").is_ok(), n.index == 2);
    }

    assert_eq!(service["kind"].as_str(), Some("Service"));
    assert_eq!(service["metadata"]["name"].as_str(), Some("hobbits"));
    assert_eq!(service["spec"]["clusterIP"].as_str(), Some("None"));
    assert_eq!(
        service["spec"]["publishNotReadyAddresses"].as_bool(),
        Some(true)
    );
    assert_eq!(service["spec"]["selector"]["app"].as_str(), Some("hobbits"));
    let ports: Vec<i64> = service["spec"]["ports"]
        .as_vec()
        .expect("ports")
        .iter()
        .map(|p| p["port"].as_i64().expect("port"))
        .collect();
    assert_eq!(ports, [9000, 9100]);

    assert_eq!(set["kind"].as_str(), Some("StatefulSet"));
    let s = &set["spec"];
    assert_eq!(s["serviceName"].as_str(), Some("hobbits"));
    assert_eq!(s["replicas"].as_i64(), Some(5));
    assert_eq!(s["podManagementPolicy"].as_str(), Some("Parallel"));
    assert_eq!(
        s["template"]["metadata"]["labels"]["app"].as_str(),
        s["selector"]["matchLabels"]["app"].as_str()
    );
    let c = &s["template"]["spec"]["containers"][0];
    assert_eq!(c["image"].as_str(), Some(IMAGE));
    assert_eq!(c["imagePullPolicy"].as_str(), Some("Never"));
    assert_eq!(
        strings(&c["args"]),
        [
            "run",
            "--config",
            "/etc/hobbits/$(POD_NAME).toml",
            "--attest"
        ]
    );
    assert_eq!(c["env"][0]["name"].as_str(), Some("POD_NAME"));
    assert_eq!(
        c["env"][0]["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
        Some("metadata.name")
    );
    assert_eq!(
        strings(&c["readinessProbe"]["exec"]["command"]),
        [IMAGE_BIN, "status", "hob+tcp://127.0.0.1:9000"]
    );
    assert_eq!(c["livenessProbe"]["tcpSocket"]["port"].as_i64(), Some(9000));
    let mounts: Vec<&str> = c["volumeMounts"]
        .as_vec()
        .expect("mounts")
        .iter()
        .map(|m| m["mountPath"].as_str().expect("path"))
        .collect();
    assert_eq!(mounts, ["/etc/hobbits", "/data"]);
    assert_eq!(
        s["template"]["spec"]["volumes"][0]["configMap"]["name"].as_str(),
        Some("hobbits-config")
    );
    assert_eq!(
        s["volumeClaimTemplates"][0]["metadata"]["name"].as_str(),
        Some("data")
    );
    assert_eq!(
        s["template"]["metadata"]["annotations"]["prometheus.io/port"].as_str(),
        Some("9100")
    );
}

#[test]
fn compose_services_have_static_addresses_peers_and_health_checks() {
    let (spec, nodes) = setup();
    let d = docs(&compose::compose_yaml(&spec, &nodes));
    let c = &d[0];
    let services = c["services"].as_hash().expect("services");
    assert_eq!(services.len(), 6); // five nodes and prometheus
    assert_eq!(
        c["networks"]["hobbits"]["ipam"]["config"][0]["subnet"].as_str(),
        Some(compose::SUBNET)
    );
    for n in &nodes {
        let s = &c["services"][format!("node{}", n.index).as_str()];
        assert_eq!(s["image"].as_str(), Some(IMAGE));
        assert_eq!(
            s["networks"]["hobbits"]["ipv4_address"].as_str(),
            Some(format!("198.18.0.{}", 2 + n.index).as_str())
        );
        let args = strings(&s["command"]);
        let after = |flag: &str| -> Vec<String> {
            args.windows(2)
                .filter(|w| w[0] == flag)
                .map(|w| w[1].clone())
                .collect()
        };
        let peers: BTreeSet<String> = after("--peer").into_iter().collect();
        let want: BTreeSet<String> = ring(n.index)
            .into_iter()
            .map(|p| format!("hob+tcp://198.18.0.{}:9000", 2 + p))
            .collect();
        assert_eq!(peers, want, "node {}", n.index);
        assert_eq!(after("--listen"), ["0.0.0.0:9000"]);
        assert_eq!(after("--metrics"), ["0.0.0.0:9100"]);
        assert_eq!(after("--node-id"), [n.node_id.0.to_string()]);
        assert_eq!(args.contains(&"--produce".to_string()), n.index == 0);
        assert_eq!(after("--data-dir").len(), usize::from(n.index == 2));
        assert_eq!(
            strings(&s["healthcheck"]["test"]),
            ["CMD", IMAGE_BIN, "status", "hob+tcp://127.0.0.1:9000"]
        );
        // The late joiner waits in its profile; the others start with `up`.
        assert_eq!(
            s["profiles"].is_badvalue(),
            n.index != 4,
            "node {}",
            n.index
        );
    }
    assert_eq!(
        strings(&c["services"]["node2"]["volumes"]),
        ["node2-data:/data"]
    );
    assert!(c["volumes"]["node2-data"].as_hash().is_some());
    assert_eq!(
        strings(&c["services"]["prometheus"]["profiles"]),
        ["monitoring"]
    );
}

#[test]
fn prometheus_scrapes_every_node_and_the_gaps_are_listed() {
    let targets = [
        "hobbits-0.hobbits:9100".to_string(),
        "hobbits-1.hobbits:9100".to_string(),
    ];
    let d = docs(&prometheus_yaml(&targets));
    let job = &d[0]["scrape_configs"][0];
    assert_eq!(job["job_name"].as_str(), Some("hobbits"));
    assert_eq!(job["metrics_path"].as_str(), Some("/metrics"));
    assert_eq!(strings(&job["static_configs"][0]["targets"]), targets);

    let (spec, _) = setup();
    let missing = not_applied(&spec, "Compose", "by hand");
    assert!(missing[0].contains("`network.latency_ms`"), "{missing:?}");
    assert!(missing
        .iter()
        .any(|m| m.starts_with("event 0 (`join` at slot 3): by hand")));
    assert!(missing
        .iter()
        .any(|m| m.starts_with("event 1 (`kill` at slot 5)")));
    assert_eq!(missing.len(), 4);
    let text = not_applied_text("Compose", &missing);
    assert_eq!(text.lines().filter(|l| l.starts_with("- ")).count(), 4);
}

#[test]
fn the_image_holds_the_binary_and_its_loader_and_builds_from_scratch() {
    let dir = std::env::temp_dir().join(format!("hobbits-export-image-{}", std::process::id()));
    let program = std::env::current_exe().expect("this test binary");
    let files = write_image(&dir, &program).expect("written");
    let rootfs = dir.join("image/rootfs");
    assert_eq!(
        std::fs::metadata(rootfs.join("usr/local/bin/hobbits-node"))
            .expect("binary")
            .len(),
        std::fs::metadata(&program).expect("program").len()
    );
    // A dynamic glibc binary: its loader and libc come along, at the paths ldd gave.
    assert!(files.iter().any(|f| f.contains("ld-linux")), "{files:?}");
    assert!(files.iter().any(|f| f.contains("libc.so")), "{files:?}");
    for f in &files {
        assert!(rootfs.join(f.trim_start_matches('/')).is_file(), "{f}");
    }
    let dockerfile = std::fs::read_to_string(dir.join("image/Dockerfile")).expect("Dockerfile");
    let steps: Vec<&str> = dockerfile.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        steps,
        [
            "FROM scratch",
            "COPY rootfs/ /",
            "ENTRYPOINT [\"/usr/local/bin/hobbits-node\"]"
        ]
    );
    std::fs::remove_dir_all(&dir).expect("removed");
}

#[test]
fn nodes_attest_unless_the_file_says_not() {
    let (mut spec, nodes) = setup();
    let attests = |spec: &TestnetSpec| {
        let pods = docs(&k8s::manifests(spec, &nodes))
            .iter()
            .filter(|d| d["kind"].as_str() == Some("StatefulSet"))
            .map(|d| strings(&d["spec"]["template"]["spec"]["containers"][0]["args"]))
            .all(|a| a.contains(&"--attest".to_string()));
        let services = nodes
            .iter()
            .filter(|n| compose::node_args(spec, n).contains(&"--attest".to_string()))
            .count();
        (pods, services)
    };
    assert_eq!(attests(&spec), (true, nodes.len()));
    spec.attest = Some(false);
    assert_eq!(attests(&spec), (false, 0));
}
