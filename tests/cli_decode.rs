//! Runs the built `hobbits-node` binary's `decode` and `encode` on reference vectors and on a
//! malformed frame (exit status 2); `decode` also on ETH raw-TCP dialect messages.

use std::io::Write;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_hobbits-node");
const TSV: &str = include_str!("../codec/testdata/frames.tsv");
const ETH_TSV: &str = include_str!("../codec/testdata/eth_messages.tsv");

fn vector(name: &str) -> String {
    vector_in(TSV, name)
}

fn vector_in(tsv: &str, name: &str) -> String {
    tsv.lines()
        .find(|l| l.split('\t').next() == Some(name))
        .and_then(|l| l.split('\t').nth(2))
        .unwrap_or_else(|| panic!("vector {name}"))
        .to_string()
}

fn run(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hobbits-node");
    {
        let mut input = child.stdin.take().expect("stdin");
        input
            .write_all(stdin.unwrap_or("").as_bytes())
            .expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn decode_prints_a_hello_with_its_payload_fields() {
    let (code, stdout, _) = run(&["decode", &vector("spec_ssz_hello")], None);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(v["version"], 3);
    assert_eq!(v["protocol"], "RPC");
    assert_eq!(v["rpc"]["method"], "HELLO");
    assert_eq!(v["rpc"]["shape"], "SpecSsz");
    assert_eq!(v["rpc"]["payload"]["network_id"], 1);
    assert_eq!(v["rpc"]["payload"]["best_slot"], 0);
    assert_eq!(
        v["rpc"]["payload"]["best_root"],
        format!("0x{}", "00".repeat(32))
    );
}

#[test]
fn decode_prints_bson_keys_in_wire_order() {
    // The header is written `method_id` then `id`: alphabetical order would swap them.
    let (code, stdout, _) = run(&["decode", &vector("spec_ssz_hello")], None);
    assert_eq!(code, 0);
    let method_id = stdout.find("\"method_id\": 0").expect("method_id");
    let id = stdout.find("\"id\": 1").expect("id");
    assert!(method_id < id, "header keys out of wire order:\n{stdout}");
}

#[test]
fn decode_reads_stdin_with_whitespace_and_0x() {
    let hex = vector("ping32");
    let spaced = format!("0x{}\n {}\n", &hex[..20], &hex[20..]);
    let (code, stdout, _) = run(&["decode"], Some(&spaced));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(v["ping"]["kind"], "ping");
}

#[test]
fn decode_then_encode_gives_the_same_bytes() {
    for name in [
        "spec_ssz_hello",
        "gossip_block_announce",
        "ping32",
        "go_rpc",
    ] {
        let hex = vector(name);
        let (code, json, _) = run(&["decode", "--compact", &hex], None);
        // go_rpc frames, but its header and body are text, not BSON: exit 2, JSON still printed.
        let expected = if name == "go_rpc" { 2 } else { 0 };
        assert_eq!(code, expected, "{name}: {json}");
        let (code, back, err) = run(&["encode"], Some(&json));
        assert_eq!(code, 0, "{name}: {err}");
        assert_eq!(back.trim(), hex, "{name}");
    }
}

#[test]
fn malformed_frame_exits_2_with_the_error() {
    let (code, stdout, stderr) = run(&["decode", &vector("length_overflow")], None);
    assert_eq!(code, 2);
    assert!(stderr.contains("exceeds the limit"), "{stderr}");
    assert!(stdout.contains("error"));
    let (code, _, stderr) = run(&["decode", &vector("bad_preamble")], None);
    assert_eq!(code, 2);
    assert!(stderr.contains("preamble"), "{stderr}");
    let (code, _, _) = run(&["decode", "not hex"], None);
    assert_eq!(code, 2);
}

#[test]
fn a_frame_whose_bson_header_does_not_parse_exits_2_and_still_prints() {
    // The spec HELLO with its header document's length (the header's first byte, at offset 16 of
    // the frame) one too large: the envelope frames, the BSON does not parse.
    let mut bytes = hex::decode(vector("spec_ssz_hello")).expect("hex");
    bytes[16] += 1;
    let (code, stdout, stderr) = run(&["decode", "--compact", &hex::encode(&bytes)], None);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("malformed frame"), "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON still printed");
    assert!(json["message_error"].is_string(), "{json}");
    assert_eq!(json["protocol"], "RPC", "{json}");
    assert!(json["header_hex"].is_string(), "{json}");
}

#[test]
fn encode_builds_a_hello_from_fields() {
    let zero = format!("0x{}", "00".repeat(32));
    let json = serde_json::json!({
        "protocol": "RPC",
        "rpc": { "method": "HELLO", "id": 1, "payload": {
            "network_id": 1, "chain_id": 1,
            "latest_finalized_root": zero, "latest_finalized_epoch": 0,
            "best_root": zero, "best_slot": 0,
        }}
    });
    let (code, hex, err) = run(&["encode", &json.to_string()], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(hex.trim(), vector("spec_ssz_hello"));
    let (code, _, _) = run(&["encode", "{\"protocol\":\"NOPE\"}"], None);
    assert_eq!(code, 2);
}

fn decode_eth(name: &str, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let hex = vector_in(ETH_TSV, name);
    let mut args = vec!["decode", "--compact"];
    args.extend(extra);
    args.push(&hex);
    let (code, stdout, stderr) = run(&args, None);
    let json = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (code, json, stderr)
}

#[test]
fn decode_prints_an_eth_request_with_its_fields() {
    let (code, json, stderr) = decode_eth("hello_request", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json["dialect"], "ETH");
    assert_eq!(json["kind"], "request");
    assert_eq!(json["id"], 1);
    assert_eq!(json["method"], "hello");
    assert_eq!(json["body"]["chain_id"], 1);
    assert_eq!(json["body"]["best_slot"], 5);
    let (code, json, _) = decode_eth("beacon_block_headers_request", &[]);
    assert_eq!(code, 0);
    assert_eq!(json["body"]["skip_slots"], 1);
}

#[test]
fn decode_types_an_eth_result_given_the_method() {
    let (code, json, _) = decode_eth("beacon_block_roots_response", &[]);
    assert_eq!(code, 0);
    assert_eq!(json["code"], "success");
    assert!(json.get("result").is_none(), "untyped without --method");
    let (code, json, stderr) = decode_eth(
        "beacon_block_roots_response",
        &["--method", "beacon_block_roots"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json["result"]["roots"][1]["slot"], 2);
    let (code, json, _) = decode_eth("code_method_not_found", &["--method", "10"]);
    assert_eq!(code, 0);
    assert_eq!(
        (json["response_code"].as_u64(), json["message"].as_str()),
        (Some(30), Some("unknown method 99"))
    );
}

#[test]
fn malformed_eth_message_exits_2_with_the_error() {
    let (code, json, stderr) = decode_eth("over_long_length", &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("exceeds the limit"), "{stderr}");
    assert!(json["error"].is_string());
    // A message that frames but does not decode still prints, with the code it would earn.
    let (code, json, stderr) = decode_eth("roots_count_over_cap", &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("count 32769"), "{stderr}");
    assert_eq!(json["answer_code"], 20);
    let (code, json, _) = decode_eth("unknown_method", &[]);
    assert_eq!((code, json["answer_code"].as_u64()), (2, Some(30)));
    let (code, json, _) = decode_eth("envelope_offset_out_of_range", &[]);
    assert_eq!((code, json["answer_code"].as_u64()), (2, Some(10)));
    let (code, _, stderr) = decode_eth(
        "roots_response_descending",
        &["--method", "beacon_block_roots"],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("not ascending"), "{stderr}");
}
