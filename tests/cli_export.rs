//! `hobbits-node testnet FILE --export k8s|compose DIR`: every document written parses (YAML with
//! a YAML parser) and matches the testnet file (one pod / service per node, the producer, the
//! scrape targets), the image recipe holds the binary, and what the platform cannot express is
//! listed on stderr and in `not-applied.md`.

use std::path::PathBuf;
use std::process::Command;

use yaml_rust2::YamlLoader;

const BIN: &str = env!("CARGO_BIN_EXE_hobbits-node");
const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/testnets/shadow_regions.toml"
);

fn export(kind: &str) -> (PathBuf, String) {
    let dir =
        std::env::temp_dir().join(format!("hobbits-cli-export-{}-{kind}", std::process::id()));
    let out = Command::new(BIN)
        .args(["testnet", EXAMPLE, "--export", kind])
        .arg(&dir)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let image = dir.join("image/rootfs/usr/local/bin/hobbits-node");
    assert_eq!(
        std::fs::metadata(image)
            .expect("the binary in the image")
            .len(),
        std::fs::metadata(BIN).expect("binary").len()
    );
    // The example's link model and its kill / restart are not applied, and say so.
    let listed = std::fs::read_to_string(dir.join("not-applied.md")).expect("not-applied.md");
    for what in [
        "`network.locations`",
        "`kill` at slot 8",
        "`restart` at slot 14",
    ] {
        assert!(
            listed.contains(what) && stderr.contains(what),
            "{what}: {listed}"
        );
    }
    (dir, stderr)
}

fn yaml(path: PathBuf) -> Vec<yaml_rust2::Yaml> {
    let text = std::fs::read_to_string(&path).expect("written");
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn k8s_export_parses_and_matches_the_testnet() {
    let (dir, _) = export("k8s");
    let d = yaml(dir.join("testnet.yaml"));
    let kinds: Vec<&str> = d
        .iter()
        .map(|x| x["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["ConfigMap", "Service", "StatefulSet"]);
    assert_eq!(d[0]["data"].as_hash().expect("data").len(), 12);
    let node0 = d[0]["data"]["hobbits-0.toml"].as_str().expect("node 0");
    assert!(
        node0.contains("produce = true") && node0.contains("slot_ms = 500"),
        "{node0}"
    );
    assert_eq!(d[2]["spec"]["replicas"].as_i64(), Some(12));
    // Node 6 keeps its chain: the pods get a volume.
    assert!(d[2]["spec"]["volumeClaimTemplates"].as_vec().is_some());
    let p = yaml(dir.join("prometheus.yml"));
    let targets = p[0]["scrape_configs"][0]["static_configs"][0]["targets"]
        .as_vec()
        .expect("targets");
    assert_eq!(targets.len(), 12);
    assert_eq!(targets[11].as_str(), Some("hobbits-11.hobbits:9100"));
    let dockerfile = std::fs::read_to_string(dir.join("image/Dockerfile")).expect("Dockerfile");
    assert!(dockerfile.contains("FROM scratch"));
    std::fs::remove_dir_all(&dir).expect("removed");
}

#[test]
fn compose_export_parses_and_matches_the_testnet() {
    let (dir, stderr) = export("compose");
    assert!(stderr.contains("`join` at slot 6"), "{stderr}");
    let d = yaml(dir.join("compose.yaml"));
    let services = d[0]["services"].as_hash().expect("services");
    assert_eq!(services.len(), 13);
    assert_eq!(
        d[0]["services"]["node11"]["networks"]["hobbits"]["ipv4_address"].as_str(),
        Some("198.18.0.13")
    );
    assert_eq!(
        d[0]["services"]["node11"]["profiles"][0].as_str(),
        Some("late")
    );
    let p = yaml(dir.join("prometheus.yml"));
    let targets = p[0]["scrape_configs"][0]["static_configs"][0]["targets"]
        .as_vec()
        .expect("targets");
    assert_eq!(targets[0].as_str(), Some("198.18.0.2:9100"));
    std::fs::remove_dir_all(&dir).expect("removed");
}
