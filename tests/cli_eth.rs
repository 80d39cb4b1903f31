//! `hobbits-node run --eth-listen` speaks the eth2 RPC raw-TCP dialect: the line
//! `eth listening on eth+tcp://…` names the address, a hello on our network is answered with the
//! node's own hello (code 0), get_status is then served, and beacon_chain_state earns 30;
//! `status eth+tcp://…` prints its hello and status (and fails on another network); a second
//! process started with `--peer eth+tcp://…` dials it (the first one's log names the connection).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::BytesMut;
use hobbits_chain::{Epoch, Root, Slot};
use hobbits_codec::eth::{
    ChainStateRequest, EthFrame, EthHello, EthLimits, EthMessage, EthMethod, EthRequest,
    EthRequestBody, EthResponse, EthResponseBody, EthStatus,
};
use hobbits_codec::rpc::RequestId;
use hobbits_codec::ResponseCode;
use support::{NodeProcess, BIN};

fn ask(s: &mut TcpStream, buf: &mut BytesMut, id: u64, body: &EthRequestBody) -> EthResponse {
    let frame = EthMessage::Request(EthRequest::new(RequestId(id), body)).to_frame();
    s.write_all(&frame.to_bytes().expect("encode"))
        .expect("write");
    let mut chunk = [0u8; 4096];
    loop {
        // "ETH" | u32 LE length | message (docs/PROTOCOL.md).
        let whole = buf
            .get(3..7)
            .map(|l| 7 + u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize);
        if let Some(len) = whole.filter(|len| buf.len() >= *len) {
            let bytes = buf.split_to(len);
            let frame = EthFrame::parse(&bytes, EthLimits::default()).expect("frames");
            match EthMessage::from_frame(&frame).expect("message") {
                EthMessage::Response(r) if r.id == RequestId(id) => return r,
                other => panic!("unexpected {other:?}"),
            }
        }
        let n = s.read(&mut chunk).expect("read");
        assert!(n > 0, "the node closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[test]
fn run_eth_listen_serves_hello_status_and_chain_state() {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "run",
        "--listen",
        "127.0.0.1:0",
        "--eth-listen",
        "127.0.0.1:0",
        "--network-id",
        "1",
        "--chain-id",
        "1",
        "--log",
        "info",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut node = NodeProcess::spawn(&mut cmd, Duration::from_secs(20));
    let eth = node.stdout.find("eth listening on", |l| {
        l.strip_prefix("eth listening on eth+tcp://")
            .map(|a| a.trim().to_string())
    });
    let genesis = node.stdout.find("genesis root", |l| {
        l.strip_prefix("genesis root ")
            .map(|r| r.trim().trim_start_matches("0x").to_string())
    });
    let genesis = Root::from_slice(&hex::decode(genesis).expect("hex")).expect("32 bytes");

    let mut s = TcpStream::connect(&eth).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut buf = BytesMut::new();
    let hello = EthHello {
        network_id: 1,
        chain_id: 1,
        finalized_root: genesis,
        finalized_epoch: Epoch(0),
        best_root: genesis,
        best_slot: Slot(0),
    };
    let answer = ask(&mut s, &mut buf, 1, &EthRequestBody::Hello(hello));
    assert_eq!(answer.code, ResponseCode::Success, "{}", answer.message());
    let limits = EthLimits::default();
    let Ok(EthResponseBody::Hello(theirs)) = answer.decode_result(EthMethod::Hello, &limits) else {
        panic!("hello result");
    };
    assert_eq!(theirs.best_root, genesis);
    let status = ask(
        &mut s,
        &mut buf,
        2,
        &EthRequestBody::GetStatus(EthStatus::new([0; 32], "cli-test", 1)),
    );
    assert_eq!(status.code, ResponseCode::Success);
    let state = ask(
        &mut s,
        &mut buf,
        3,
        &EthRequestBody::BeaconChainState(ChainStateRequest { hashes: vec![] }),
    );
    assert_eq!(state.code, ResponseCode::MethodNotFound);

    // status eth+tcp:// reads its hello and get_status.
    let out = Command::new(BIN)
        .args([
            "status",
            &format!("eth+tcp://{eth}"),
            "--network-id",
            "1",
            "--chain-id",
            "1",
        ])
        .output()
        .expect("status");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains("best_slot          0"), "{text}");
    assert!(text.contains("user_agent         hobbits-node"), "{text}");
    let wrong = Command::new(BIN)
        .args(["status", &format!("eth+tcp://{eth}"), "--network-id", "9"])
        .output()
        .expect("status");
    assert!(
        !wrong.status.success(),
        "another network is refused: {wrong:?}"
    );

    // A second node dials it by eth+tcp://; the first logs the handshake.
    let mut dialer = Command::new(BIN);
    dialer
        .args([
            "run",
            "--listen",
            "127.0.0.1:0",
            "--network-id",
            "1",
            "--chain-id",
            "1",
            "--peer",
            &format!("eth+tcp://{eth}"),
            "--log",
            "warn",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut second = NodeProcess::spawn(&mut dialer, Duration::from_secs(20));
    second.listening_uri();
    node.stderr().find("ETH peer handshaked", |l| {
        l.contains("ETH peer handshaked").then_some(())
    });
    second.terminate();
    node.terminate();
}

#[test]
fn run_refuses_an_eth_listen_that_is_no_address() {
    let out = Command::new(BIN)
        .args(["run", "--eth-listen", "nowhere"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("eth-listen"));
}
