//! The node's Beacon API over real HTTP requests on 127.0.0.1 (docs/API.md): a node holding a
//! 5-block chain with one peer answers every endpoint of the subset with the spec's envelopes,
//! field names, string integers and status codes — success, bad ids (400), unknown blocks and
//! peers (404), what it does not keep (501), unknown routes (404), overload (503) — all with the
//! `{"code", "message"}` body; blocks come as JSON or SSZ by `Accept`. The events stream delivers
//! `block` then `head` for each produced block, in slot order, while a producer runs, and
//! `finalized_checkpoint` when finality advances (the API then calls those blocks finalized).
//! With one request allowed in flight and a scrape held open, another request gets 503.

mod support;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hobbits_actors::http::{ApiLinks, HttpConfig, HttpServer};
use hobbits_actors::metrics::{Metrics, Refresh};
use hobbits_actors::test_support::http::{get, EventStream, HttpReply};
use hobbits_actors::test_support::prom::parse_samples;
use hobbits_actors::{NodeParts, ProducerConfig};
use serde_json::Value;
use ssz::Encode;
use support::{chain, node_config, start, wait_for};

const DEADLINE: Duration = Duration::from_secs(20);

fn local() -> Option<SocketAddr> {
    Some("127.0.0.1:0".parse().expect("addr"))
}

/// A JSON error of the spec's shape with this status.
fn assert_error(r: &HttpReply, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text());
    let j = r.json();
    assert_eq!(j["code"], status, "{what}");
    assert!(
        j["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {j}"
    );
}

/// 200 with a JSON body.
async fn ok_json(addr: SocketAddr, path: &str) -> Value {
    let r = get(addr, path, None).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"), "{path}");
    r.json()
}

/// A decimal string, as the API writes integers.
fn int(v: &Value) -> u64 {
    v.as_str()
        .unwrap_or_else(|| panic!("{v} is not a string"))
        .parse()
        .unwrap_or_else(|_| panic!("{v} is not a decimal integer"))
}

fn is_hex(v: &Value, bytes: usize) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 2 + 2 * bytes
            && s.starts_with("0x")
            && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
    })
}

#[actix_rt::test]
async fn the_beacon_api_subset_answers_as_the_spec_describes() {
    support::init_tracing();
    let config = node_config(1, &[]);
    let blocks = chain(&config, 5);
    let roots: Vec<String> = blocks
        .iter()
        .map(|b| b.signing_root().to_string())
        .collect();
    let a = start(
        config,
        NodeParts {
            http_addr: local(),
            eth_listen: local(),
            http_config: HttpConfig {
                max_event_streams: 2,
                event_heartbeat: Duration::from_millis(50),
                ..HttpConfig::default()
            },
            ..NodeParts::full()
        },
        &blocks,
    )
    .await;
    let http = a.node.http_server.as_ref().expect("http").local_addr();
    let b = start(node_config(2, &[a.addr()]), NodeParts::full(), &blocks).await;
    wait_for("the peers handshake", DEADLINE, || async {
        (a.handshaked().await == 1).then_some(())
    })
    .await;

    // Node.
    let id = ok_json(http, "/eth/v1/node/identity").await;
    assert_eq!(id["data"]["peer_id"], "0000000000000001");
    assert_eq!(
        id["data"]["p2p_addresses"][0],
        format!("hob+tcp://{}", a.addr())
    );
    let eth = a.node.eth_listen_addr.expect("eth listener");
    assert_eq!(id["data"]["p2p_addresses"][1], format!("eth+tcp://{eth}"));
    assert_eq!(
        id["data"]["p2p_addresses"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(int(&id["data"]["metadata"]["seq_number"]), 0);
    let peers = ok_json(http, "/eth/v1/node/peers").await;
    assert_eq!(int(&peers["meta"]["count"]), 1);
    let p = &peers["data"][0];
    assert_eq!(p["peer_id"], "0000000000000002");
    assert_eq!(p["state"], "connected");
    assert_eq!(p["direction"], "inbound");
    assert!(p["last_seen_p2p_address"]
        .as_str()
        .is_some_and(|s| s.starts_with("hob+tcp://127.0.0.1:")));
    let filtered = ok_json(http, "/eth/v1/node/peers?direction=outbound").await;
    assert_eq!(filtered["data"], Value::Array(vec![]));
    assert_eq!(int(&filtered["meta"]["count"]), 0);
    assert_error(
        &get(http, "/eth/v1/node/peers?state=sleeping", None).await,
        400,
        "bad state",
    );
    let one = ok_json(http, "/eth/v1/node/peers/0000000000000002").await;
    assert_eq!(one["data"], *p);
    assert_error(
        &get(http, "/eth/v1/node/peers/00000000000000ff", None).await,
        404,
        "unknown peer",
    );
    assert_error(
        &get(http, "/eth/v1/node/peers/not-a-peer", None).await,
        400,
        "bad peer id",
    );
    let count = ok_json(http, "/eth/v1/node/peer_count").await;
    assert_eq!(int(&count["data"]["connected"]), 1);
    assert_eq!(int(&count["data"]["connecting"]), 0);
    assert_eq!(int(&count["data"]["disconnected"]), 0);
    let version = ok_json(http, "/eth/v1/node/version").await;
    assert!(version["data"]["version"]
        .as_str()
        .is_some_and(|v| v.starts_with("hobbits-node/")));
    let syncing = ok_json(http, "/eth/v1/node/syncing").await;
    assert_eq!(int(&syncing["data"]["head_slot"]), 5);
    assert_eq!(int(&syncing["data"]["sync_distance"]), 0);
    assert_eq!(syncing["data"]["is_syncing"], false);
    assert_eq!(syncing["data"]["is_optimistic"], false);
    let health = get(http, "/eth/v1/node/health", None).await;
    assert_eq!((health.status, health.body.len()), (200, 0));
    assert_error(
        &get(http, "/eth/v1/node/health?syncing_status=abc", None).await,
        400,
        "bad syncing_status",
    );

    // Genesis and headers.
    let genesis = ok_json(http, "/eth/v1/beacon/genesis").await;
    assert_eq!(int(&genesis["data"]["genesis_time"]), 0);
    assert!(is_hex(&genesis["data"]["genesis_validators_root"], 32));
    assert!(is_hex(&genesis["data"]["genesis_fork_version"], 4));
    assert_eq!(
        genesis["data"]["genesis_block_root"],
        a.node.genesis_root.to_string()
    );
    let head = ok_json(http, "/eth/v1/beacon/headers").await;
    assert_eq!(head["execution_optimistic"], false);
    assert_eq!(head["finalized"], false);
    assert_eq!(head["data"].as_array().map(Vec::len), Some(1));
    let h = &head["data"][0];
    assert_eq!(h["root"], roots[4]);
    assert_eq!(h["canonical"], true);
    let msg = &h["header"]["message"];
    assert_eq!(int(&msg["slot"]), 5);
    assert_eq!(msg["parent_root"], roots[3]);
    for field in ["state_root", "body_root"] {
        assert!(is_hex(&msg[field], 32), "{field}");
    }
    assert!(is_hex(&h["header"]["signature"], 96));
    let at3 = ok_json(http, "/eth/v1/beacon/headers?slot=3").await;
    assert_eq!(at3["data"][0]["root"], roots[2]);
    let parent = format!("/eth/v1/beacon/headers?slot=3&parent_root={}", roots[1]);
    assert_eq!(ok_json(http, &parent).await["data"][0]["root"], roots[2]);
    let wrong_parent = format!("/eth/v1/beacon/headers?slot=3&parent_root={}", roots[0]);
    assert_eq!(
        ok_json(http, &wrong_parent).await["data"],
        Value::Array(vec![])
    );
    let empty = ok_json(http, "/eth/v1/beacon/headers?slot=99").await;
    assert_eq!(empty["data"], Value::Array(vec![]));
    assert_error(
        &get(http, "/eth/v1/beacon/headers?slot=three", None).await,
        400,
        "bad slot",
    );
    for (id, root) in [
        ("head", roots[4].clone()),
        ("3", roots[2].clone()),
        (roots[1].as_str(), roots[1].clone()),
        ("genesis", a.node.genesis_root.to_string()),
        ("finalized", a.node.genesis_root.to_string()),
    ] {
        let j = ok_json(http, &format!("/eth/v1/beacon/headers/{id}")).await;
        assert_eq!(j["data"]["root"], root, "{id}");
        assert_eq!(j["data"]["canonical"], true, "{id}");
        let finalized = id == "genesis" || id == "finalized";
        assert_eq!(j["finalized"], finalized, "{id}");
        let r = ok_json(http, &format!("/eth/v1/beacon/blocks/{id}/root")).await;
        assert_eq!(r["data"]["root"], root, "{id}");
        assert_eq!(r["execution_optimistic"], false);
    }
    let unknown = format!("0x{}", "77".repeat(32));
    for path in [
        format!("/eth/v1/beacon/headers/{unknown}"),
        format!("/eth/v2/beacon/blocks/{unknown}"),
        format!("/eth/v1/beacon/blocks/{unknown}/root"),
        "/eth/v1/beacon/headers/42".to_string(),
    ] {
        assert_error(&get(http, &path, None).await, 404, &path);
    }
    for bad in ["nonsense", "0x1234", "-1", "99999999999999999999999"] {
        let path = format!("/eth/v1/beacon/headers/{bad}");
        assert_error(&get(http, &path, None).await, 400, &path);
        let path = format!("/eth/v2/beacon/blocks/{bad}");
        assert_error(&get(http, &path, None).await, 400, &path);
    }

    // Blocks, JSON and SSZ.
    let r = get(http, "/eth/v2/beacon/blocks/head", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("eth-consensus-version"), Some("phase0"));
    let j = r.json();
    assert_eq!(j["version"], "phase0");
    assert_eq!(j["finalized"], false);
    let m = &j["data"]["message"];
    assert_eq!(int(&m["slot"]), 5);
    assert_eq!(m["parent_root"], roots[3]);
    let body = &m["body"];
    assert!(is_hex(&body["randao_reveal"], 96));
    assert!(is_hex(&body["graffiti"], 32));
    assert_eq!(int(&body["eth1_data"]["deposit_count"]), 0);
    for list in [
        "proposer_slashings",
        "attester_slashings",
        "attestations",
        "deposits",
        "voluntary_exits",
        "transfers",
    ] {
        assert!(body[list].is_array(), "{list}");
    }
    assert!(is_hex(&j["data"]["signature"], 96));
    let ssz = get(
        http,
        "/eth/v2/beacon/blocks/2",
        Some("application/octet-stream"),
    )
    .await;
    assert_eq!(ssz.status, 200);
    assert_eq!(ssz.header("content-type"), Some("application/octet-stream"));
    assert_eq!(ssz.body, blocks[1].as_ssz_bytes());

    // Finality, and what the node does not keep.
    let fin = ok_json(http, "/eth/v1/beacon/states/head/finality_checkpoints").await;
    for c in ["previous_justified", "current_justified", "finalized"] {
        assert_eq!(int(&fin["data"][c]["epoch"]), 0, "{c}");
        assert!(is_hex(&fin["data"][c]["root"], 32), "{c}");
    }
    assert_eq!(fin["execution_optimistic"], false);
    for path in [
        "/eth/v1/beacon/states/123/finality_checkpoints",
        "/eth/v1/beacon/states/head/validators",
        "/eth/v1/beacon/states/head/root",
        "/eth/v1/validator/duties/proposer/1",
        "/eth/v2/debug/beacon/states/head",
        "/eth/v1/beacon/headers/justified",
    ] {
        assert_error(&get(http, path, None).await, 501, path);
    }
    assert_error(
        &get(http, "/eth/v1/beacon/states/h!/finality_checkpoints", None).await,
        400,
        "bad state id",
    );
    assert_error(&get(http, "/eth/v1/nothing/here", None).await, 404, "route");
    // Only GET: another method is 405 with the error body.
    let mut post = tokio::net::TcpStream::connect(http).await.expect("connect");
    tokio::io::AsyncWriteExt::write_all(
        &mut post,
        b"POST /eth/v1/node/version HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    )
    .await
    .expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(
        DEADLINE,
        tokio::io::AsyncReadExt::read_to_end(&mut post, &mut answer),
    )
    .await
    .expect("answer in time")
    .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    assert!(
        answer
            .ends_with(r#"{"code":405,"message":"POST /eth/v1/node/version: only GET is served"}"#),
        "{answer}"
    );

    // Metrics on the same server.
    let metrics = get(http, "/metrics", None).await;
    let samples = parse_samples(&metrics.text()).expect("text format");
    assert!(samples
        .iter()
        .any(|s| s.name == "hobbits_peers" && s.value == 1.0));

    // Overload: event streams beyond the bound get 503 with the JSON body.
    assert_error(&get(http, "/eth/v1/events", None).await, 400, "no topics");
    assert_error(
        &get(http, "/eth/v1/events?topics=head,attestation", None).await,
        400,
        "unknown topic",
    );
    let s1 = EventStream::open(http, "head").await;
    let s2 = EventStream::open(http, "block").await;
    assert_eq!((s1.head.status, s2.head.status), (200, 200));
    assert_eq!(s1.head.header("content-type"), Some("text/event-stream"));
    let s3 = EventStream::open(http, "head").await;
    assert_error(&s3.head, 503, "third stream");
    // Plain requests are still served.
    assert_eq!(get(http, "/eth/v1/node/health", None).await.status, 200);
    // A client that leaves gives its place back (noticed at the next heartbeat write).
    drop(s1);
    wait_for("a stream's place freed", DEADLINE, || async {
        let s = EventStream::open(http, "block").await;
        (s.head.status == 200).then_some(())
    })
    .await;
    drop(s2);

    b.stop().await;
    a.stop().await;
}

#[actix_rt::test]
async fn the_events_stream_delivers_block_then_head_in_slot_order_and_finality_while_producing() {
    support::init_tracing();
    let mut config = node_config(1, &[]);
    config.producer = Some(ProducerConfig {
        slot_duration: Duration::from_millis(100),
    });
    // 22 blocks (8 slots an epoch, finality 2 epochs behind the head): the block at slot 24
    // finalizes epoch 1, whose boundary block is at slot 8.
    let seeded = chain(&config, 22);
    let a = start(
        config,
        NodeParts {
            http_addr: local(),
            ..NodeParts::full()
        },
        &seeded,
    )
    .await;
    let http = a.node.http_server.as_ref().expect("http").local_addr();
    let mut stream = EventStream::open(http, "head,block,finalized_checkpoint").await;
    assert_eq!(stream.head.status, 200);
    let mut heads_only = EventStream::open(http, "head").await;

    let mut last_slot = 22;
    let mut blocks_seen = 0;
    let mut finalized = None;
    while blocks_seen < 8 {
        let (name, block) = stream.next(DEADLINE).await.expect("stream open");
        if name == "finalized_checkpoint" {
            // Right after the head event of the import that advanced finality.
            assert!(finalized.is_none(), "one advance expected: {block}");
            finalized = Some((last_slot, block));
            continue;
        }
        assert_eq!(name, "block", "a block event comes first: {block}");
        let slot = int(&block["slot"]);
        assert!(slot > last_slot, "slots increase: {slot} after {last_slot}");
        assert!(is_hex(&block["block"], 32));
        assert_eq!(block["execution_optimistic"], false);
        let (name, head) = stream.next(DEADLINE).await.expect("stream open");
        assert_eq!(name, "head", "the head follows its block: {head}");
        assert_eq!(int(&head["slot"]), slot);
        assert_eq!(head["block"], block["block"]);
        assert!(is_hex(&head["state"], 32));
        assert!(head["epoch_transition"].is_boolean());
        // The block is served once announced.
        let served = get(http, &format!("/eth/v1/beacon/blocks/{slot}/root"), None).await;
        assert_eq!(served.json()["data"]["root"], block["block"]);
        last_slot = slot;
        blocks_seen += 1;
    }
    let (at_slot, f) = finalized.expect("a finalized_checkpoint event");
    assert_eq!(
        at_slot, 24,
        "finality advanced with the head at slot 24: {f}"
    );
    assert_eq!(int(&f["epoch"]), 1);
    assert_eq!(f["execution_optimistic"], false);
    assert!(is_hex(&f["state"], 32));
    let boundary = ok_json(http, "/eth/v1/beacon/blocks/8/root").await;
    assert_eq!(f["block"], boundary["data"]["root"]);
    assert_eq!(boundary["finalized"], true);
    let fin = ok_json(http, "/eth/v1/beacon/headers/finalized").await;
    assert_eq!(fin["data"]["root"], f["block"]);
    let checkpoints = ok_json(http, "/eth/v1/beacon/states/head/finality_checkpoints").await;
    assert_eq!(checkpoints["data"]["finalized"]["epoch"], "1");
    assert_eq!(checkpoints["data"]["finalized"]["root"], f["block"]);
    assert_eq!(
        ok_json(http, "/eth/v1/beacon/headers/9").await["finalized"],
        false
    );
    // A stream with only `head` sees heads only, in order.
    let mut prev = 0;
    for _ in 0..3 {
        let (name, head) = heads_only.next(DEADLINE).await.expect("stream open");
        assert_eq!(name, "head");
        let slot = int(&head["slot"]);
        assert!(slot > prev);
        prev = slot;
    }
    a.stop().await;
}

/// A refresh that holds every scrape until released.
#[derive(Debug)]
struct Gate {
    entered: AtomicBool,
    release: tokio::sync::Semaphore,
}

impl Refresh for Gate {
    fn refresh<'a>(&'a self, _: &'a Metrics) -> Pin<Box<dyn Future<Output = ()> + 'a>> {
        Box::pin(async move {
            self.entered.store(true, Ordering::SeqCst);
            let _ = self.release.acquire().await;
        })
    }
}

#[actix_rt::test]
async fn a_request_beyond_max_in_flight_gets_503() {
    support::init_tracing();
    let a = start(node_config(1, &[]), NodeParts::full(), &[]).await;
    let gate = Arc::new(Gate {
        entered: AtomicBool::new(false),
        release: tokio::sync::Semaphore::new(0),
    });
    let n = &a.node;
    let links = ApiLinks {
        node_id: n.node_id,
        listen_addr: n.listen_addr,
        eth_listen_addr: None,
        user_agent: "test".into(),
        genesis_time: 0,
        genesis_root: n.genesis_root,
        manager: n.manager.clone(),
        store: n.store.clone(),
        sync: n.sync.clone(),
        metrics: Some(Arc::new(Metrics::default())),
        refresh: Some(gate.clone()),
        events: tokio::sync::broadcast::channel(4).0,
    };
    let config = HttpConfig {
        max_in_flight: 1,
        ..HttpConfig::default()
    };
    let server =
        HttpServer::start("127.0.0.1:0".parse().expect("addr"), config, links).expect("server");
    let http = server.local_addr();
    let scrape = actix_rt::spawn(get(http, "/metrics", None));
    wait_for("the scrape is held in its refresh", DEADLINE, || async {
        gate.entered.load(Ordering::SeqCst).then_some(())
    })
    .await;
    assert_error(
        &get(http, "/eth/v1/node/version", None).await,
        503,
        "second request",
    );
    gate.release.add_permits(1);
    let scraped = scrape.await.expect("scrape task");
    assert_eq!(scraped.status, 200);
    let version = ok_json(http, "/eth/v1/node/version").await;
    assert_eq!(version["data"]["version"], "test");
    server.stop().await;
    a.stop().await;
}
