//! The relay over real sockets on 127.0.0.1 (port 0): raw clients send the frames 2019 clients
//! really sent (hex copied from the shared vectors: they are facts) through `Relay` to raw TCP
//! servers; the bytes must arrive unchanged and each deviation must be reported with its code.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use hobbits_tools::relay::{
    DeviationCode, FrameMessage, RelayDirection, RelayEvent, RelayHandle, RelayedFrame,
};
use support::start_relay;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const ARTEMIS_HELLO: &str = "45575000000003000000001c000000c51c000000106d6574686f645f69640000000000106964000100000000c500000003626f647900ba000000106e6574776f726b5f6964000100000010636861696e5f69640001000000056c61746573745f66696e616c697a65645f726f6f740020000000000000000000000000000000000000000000000000000000000000000000000000106c61746573745f66696e616c697a65645f65706f6368000000000005626573745f726f6f74002000000000000000000000000000000000000000000000000000000000000000000000000010626573745f736c6f7400000000000000";
const PRYSM_HELLO: &str = "455750000000030000000020000000b420000000106d6574686f645f6964000000000012696400000000000000000000b4000000026e6f64655f69640003000000313200056c61746573745f66696e616c697a65645f726f6f740020000000000000000000000000000000000000000000000000000000000000000000000000126c61746573745f66696e616c697a65645f65706f636800000000000000000005626573745f726f6f74002000000000000000000000000000000000000000000000000000000000000000000000000012626573745f736c6f7400000000000000000000";
const SPEC_HELLO: &str = "4557500000000300000000200000006220000000106d6574686f645f69640000000000126964000100000000000000006200000005626f64790052000000000101000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";
const PING32: &str = "4557500000000302000000040000002070696e67000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const PONG32_PREFIX: &str = "45575000000003020000000400000020706f6e67";
const LENGTH_OVERFLOW: &str = "45575000000003000000ffffffff00000001";
const BAD_PREAMBLE: &str = "58595a0000000302000000040000000070696e67";

const DEADLINE: Duration = Duration::from_secs(10);

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("test hex")
}

/// A raw TCP server that never writes: each connection's bytes (read to EOF) are sent on the
/// channel, then the connection is dropped.
async fn recording_server() -> (SocketAddr, mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let _ = stream.read_to_end(&mut got).await;
                let _ = tx.send(got).await;
            });
        }
    });
    (addr, rx)
}

/// Takes events until `pick` returns something, within the deadline; returns it and the events
/// seen before it.
async fn wait_event<T>(
    relay: &mut RelayHandle,
    what: &str,
    mut pick: impl FnMut(&RelayEvent) -> Option<T>,
) -> (T, Vec<RelayEvent>) {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(DEADLINE, async {
        while let Some(event) = relay.next_event().await {
            if let Some(t) = pick(&event) {
                return Some(t);
            }
            seen.push(event);
        }
        None
    })
    .await;
    match found {
        Ok(Some(t)) => (t, seen),
        _ => panic!("timed out waiting for {what}; events so far: {seen:#?}"),
    }
}

fn frames_of(events: &[RelayEvent]) -> Vec<&RelayedFrame> {
    events.iter().filter_map(RelayEvent::frame).collect()
}

fn codes(f: &RelayedFrame) -> Vec<DeviationCode> {
    f.deviations.iter().map(|d| d.code).collect()
}

async fn recv_bytes(rx: &mut mpsc::Receiver<Vec<u8>>) -> Vec<u8> {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("server got the connection in time")
        .expect("server running")
}

/// Opens a client connection through the relay, writes `bytes` in pieces of `piece` bytes (so
/// frames can straddle reads), half-closes, and returns what the recording server received.
async fn send_through(
    relay: &RelayHandle,
    received: &mut mpsc::Receiver<Vec<u8>>,
    bytes: &[u8],
    piece: usize,
) -> Vec<u8> {
    let mut client = TcpStream::connect(relay.listen_addr())
        .await
        .expect("connect");
    for chunk in bytes.chunks(piece) {
        client.write_all(chunk).await.expect("write");
    }
    client.shutdown().await.expect("half-close");
    recv_bytes(received).await
}

#[tokio::test]
async fn hello_shapes_are_flagged_and_bytes_arrive_unchanged() {
    let (server, mut received) = recording_server().await;
    let mut relay = start_relay(server, |_| {}).await;

    let mut sent = unhex(ARTEMIS_HELLO);
    sent.extend(unhex(PRYSM_HELLO));
    sent.extend(unhex(SPEC_HELLO));
    // Written in uneven pieces so frames straddle reads.
    assert_eq!(
        send_through(&relay, &mut received, &sent, 37).await,
        sent,
        "bytes changed in transit"
    );
    let (unanswered, events) = wait_event(&mut relay, "connection closed", |e| match e {
        RelayEvent::ConnectionClosed { unanswered, .. } => Some(unanswered.clone()),
        _ => None,
    })
    .await;
    let frames = frames_of(&events);
    assert_eq!(frames.len(), 3, "{events:#?}");
    assert!(frames
        .iter()
        .all(|f| f.direction == RelayDirection::ClientToServer && f.message.label() == "HELLO(0)"));

    let artemis = codes(frames[0]);
    assert!(
        artemis.contains(&DeviationCode::HelloNestedDoc),
        "{artemis:?}"
    );
    assert!(artemis.contains(&DeviationCode::IdType), "{artemis:?}");
    assert!(artemis.contains(&DeviationCode::IntType), "{artemis:?}");
    let prysm = codes(frames[1]);
    assert!(prysm.contains(&DeviationCode::HelloFlatDoc), "{prysm:?}");
    assert!(prysm.contains(&DeviationCode::MissingField), "{prysm:?}");
    assert!(!prysm.contains(&DeviationCode::HelloNestedDoc), "{prysm:?}");
    assert!(
        codes(frames[2]).is_empty(),
        "spec shape is clean: {:?}",
        frames[2]
    );
    // Printed lines name the method, id and payload.
    assert!(
        frames[0].to_string().contains("HELLO(0) id=1 request"),
        "{}",
        frames[0]
    );
    assert!(
        frames[1].to_string().contains("best_slot=0"),
        "{}",
        frames[1]
    );

    // Prysm's HELLO (id 0) and the spec HELLO (id 1, Artemis's id 1 overwritten) were never
    // answered by the silent server.
    assert_eq!(unanswered.len(), 2, "{unanswered:?}");
    let summary = relay.summary();
    assert_eq!(
        summary.frame_count(RelayDirection::ClientToServer, "RPC", "HELLO(0)"),
        3
    );
    assert_eq!(summary.deviation_count(DeviationCode::HelloNestedDoc), 1);
    assert_eq!(summary.deviation_count(DeviationCode::HelloFlatDoc), 1);
    assert_eq!(summary.bytes[0], sent.len() as u64);
    assert_eq!(summary.unanswered, 2);
    let text = summary.to_string();
    assert!(
        text.contains("HELLO_NESTED_DOC") && text.contains("HELLO_FLAT_DOC"),
        "{text}"
    );
}

#[tokio::test]
async fn malformed_frames_are_forwarded_reported_and_the_relay_keeps_running() {
    let (server, mut received) = recording_server().await;
    let mut relay = start_relay(server, |_| {}).await;

    // 1: lengths that wrapped go-hobbits' arithmetic, followed by a valid frame.
    let mut sent = unhex(LENGTH_OVERFLOW);
    sent.extend(unhex(PING32));
    assert_eq!(
        send_through(&relay, &mut received, &sent, sent.len()).await,
        sent
    );
    let (undecoded, events) = wait_event(&mut relay, "first pair closed", |e| match e {
        RelayEvent::ConnectionClosed {
            undecoded_bytes, ..
        } => Some(*undecoded_bytes),
        _ => None,
    })
    .await;
    assert!(
        events.iter().any(|e| matches!(e, RelayEvent::DeviationFound { deviation, direction: RelayDirection::ClientToServer, .. }
            if deviation.code == DeviationCode::FrameTooLarge)),
        "{events:#?}"
    );
    assert!(
        frames_of(&events).is_empty(),
        "no frame decoded after the framing error"
    );
    assert_eq!(undecoded[0], sent.len() as u64);

    // 2: a bad preamble on a second connection.
    let bytes = unhex(BAD_PREAMBLE);
    assert_eq!(
        send_through(&relay, &mut received, &bytes, bytes.len()).await,
        bytes
    );
    let (_, events) = wait_event(&mut relay, "second pair closed", |e| {
        matches!(e, RelayEvent::ConnectionClosed { .. }).then_some(())
    })
    .await;
    assert!(events
        .iter()
        .any(|e| matches!(e, RelayEvent::DeviationFound { deviation, .. }
        if deviation.code == DeviationCode::FramingError)));

    // 3: a third connection still relays and decodes.
    let bytes = unhex(SPEC_HELLO);
    assert_eq!(
        send_through(&relay, &mut received, &bytes, bytes.len()).await,
        bytes
    );
    let (frame, _) = wait_event(&mut relay, "a decoded HELLO", |e| e.frame().cloned()).await;
    assert!(matches!(frame.message, FrameMessage::Rpc { .. }));
    assert!(frame.deviations.is_empty());
    let summary = relay.shutdown().await;
    assert_eq!(summary.connections_opened, 3);
    assert_eq!(summary.deviation_count(DeviationCode::FrameTooLarge), 1);
    assert_eq!(summary.deviation_count(DeviationCode::FramingError), 1);
}

#[tokio::test]
async fn a_ping_never_answered_is_flagged_after_the_timeout() {
    // The far end reads and stays silent, like Artemis did.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink).await;
    });
    let mut relay = start_relay(server, |c| c.ping_timeout = Duration::from_millis(300)).await;
    let mut client = TcpStream::connect(relay.listen_addr())
        .await
        .expect("connect");
    let started = tokio::time::Instant::now();
    client.write_all(&unhex(PING32)).await.expect("write");
    let (deviation, events) = wait_event(&mut relay, "PING_UNANSWERED", |e| match e {
        RelayEvent::DeviationFound {
            deviation,
            direction,
            ..
        } if deviation.code == DeviationCode::PingUnanswered => {
            assert_eq!(*direction, RelayDirection::ClientToServer);
            Some(deviation.clone())
        }
        _ => None,
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "not before the timeout"
    );
    assert!(deviation.detail.contains("32 byte body"), "{deviation}");
    assert_eq!(frames_of(&events).len(), 1);
    assert_eq!(relay.summary().unanswered, 1);
    drop(client);
}

#[tokio::test]
async fn a_ping_answered_through_the_relay_is_matched() {
    // The far end answers the spec's 32-byte ping with the spec's pong.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut ping = vec![0u8; unhex(PING32).len()];
        stream.read_exact(&mut ping).await.expect("ping");
        let mut pong = unhex(PONG32_PREFIX);
        pong.extend_from_slice(&ping[20..]);
        stream.write_all(&pong).await.expect("pong");
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink).await;
    });
    let mut relay = start_relay(server, |c| c.ping_timeout = Duration::from_millis(300)).await;
    let mut client = TcpStream::connect(relay.listen_addr())
        .await
        .expect("connect");
    client.write_all(&unhex(PING32)).await.expect("write");
    let mut pong = vec![0u8; unhex(PING32).len()];
    client.read_exact(&mut pong).await.expect("pong arrives");
    assert_eq!(&pong[..20], &unhex(PONG32_PREFIX)[..]);
    assert_eq!(&pong[20..], &unhex(PING32)[20..]);
    let (frame, _) = wait_event(&mut relay, "the pong record", |e| match e {
        RelayEvent::FrameRelayed(f) if f.message.label() == "pong" => Some(f.clone()),
        _ => None,
    })
    .await;
    assert!(frame.deviations.is_empty(), "{frame:?}");
    assert!(frame.to_string().contains("rtt_ms="), "{frame}");
    client.shutdown().await.expect("half-close");
    drop(client);
    let summary = relay.shutdown().await;
    assert_eq!(summary.unanswered, 0, "{summary}");
    assert_eq!(summary.deviation_count(DeviationCode::PingUnanswered), 0);
}
