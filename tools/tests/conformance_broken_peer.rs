//! The conformance checker against deliberately broken peers (raw TCP servers in this file, on
//! 127.0.0.1 port 0): one never answers anything; one answers every PING-protocol frame, `pong`
//! included (go-hobbits' behaviour); one answers PINGs but keeps connections open after garbage.
//! The report must show those failures and be "failed"; an unreachable address is a `Connect`
//! error.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hobbits_codec::{FrameCodec, PingFrame, Protocol};
use hobbits_tools::conformance::{run_conformance, CheckId, ConformanceConfig, ConformanceError};
use tokio::net::TcpListener;
use tokio_util::codec::Framed;

/// How a test double behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Behaviour {
    /// Answer `ping` with `pong`.
    answer_ping: bool,
    /// Answer `pong` with `pong` too (go-hobbits).
    answer_pong: bool,
    /// Close the connection on a malformed frame (otherwise hold it open, reading nothing).
    close_on_garbage: bool,
}

const SILENT: Behaviour = Behaviour {
    answer_ping: false,
    answer_pong: false,
    close_on_garbage: true,
};
const ECHOES_EVERY_PING: Behaviour = Behaviour {
    answer_ping: true,
    answer_pong: true,
    close_on_garbage: true,
};
const KEEPS_GARBAGE_CONNECTIONS: Behaviour = Behaviour {
    answer_ping: true,
    answer_pong: false,
    close_on_garbage: false,
};

async fn broken_peer(behaviour: Behaviour) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut framed = Framed::new(stream, FrameCodec::default());
                while let Some(item) = framed.next().await {
                    match item {
                        Ok(frame) if frame.protocol == Protocol::Ping => {
                            let is_ping = &frame.header[..] == b"ping";
                            if (is_ping && behaviour.answer_ping)
                                || (!is_ping && behaviour.answer_pong)
                            {
                                let pong = PingFrame::pong(frame.body.clone());
                                if framed.send(pong.to_frame()).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Ok(_) => {}
                        Err(_) if !behaviour.close_on_garbage => {
                            // Hold the connection open, reading nothing more.
                            tokio::time::sleep(Duration::from_secs(30)).await;
                            return;
                        }
                        Err(_) => return,
                    }
                }
            });
        }
    });
    addr
}

fn fast_config() -> ConformanceConfig {
    ConformanceConfig {
        timeout: Duration::from_millis(600),
        quiet: Duration::from_millis(200),
        ..ConformanceConfig::default()
    }
}

#[tokio::test]
async fn silent_peer_fails_ping_hello_and_malformed_checks() {
    let addr = broken_peer(SILENT).await;
    let report = run_conformance(addr, fast_config())
        .await
        .expect("reachable");
    assert!(!report.passed(), "{report:#?}");
    assert_eq!(report.overall(), "failed");
    // Every check fails, except that without the peer's HELLO the checks built on it (its chain,
    // its network, a handshaked connection) cannot run: skipped, with the reason.
    let header_checks = [
        CheckId::HeadersAscending,
        CheckId::HeadersDescending,
        CheckId::HeadersSkip,
        CheckId::HeadersMax,
        CheckId::BlockBodies,
        CheckId::BeaconStates,
        CheckId::RequestIds,
        CheckId::GossipRelayed,
        CheckId::GossipLyingHash,
        CheckId::GetAttestation,
        CheckId::GoodbyeWrongNetwork,
        CheckId::GoodbyeUnknownFinalized,
    ];
    for id in CheckId::ALL {
        let r = report.result(id).expect("ran");
        if header_checks.contains(&id) {
            assert_eq!(r.outcome.status(), "skipped", "{id}");
            assert!(
                r.outcome.evidence().contains("HELLO"),
                "{id}: {}",
                r.outcome.evidence()
            );
        } else {
            assert_eq!(r.outcome.status(), "fail", "{id}: {report:#?}");
        }
    }
    let echo = report.result(CheckId::PingEcho).expect("ran");
    assert!(
        echo.outcome.evidence().contains("no pong"),
        "{}",
        echo.outcome.evidence()
    );
    // No connection answers a PING, so there is none to send the bad frame on.
    let malformed = report.result(CheckId::MalformedFrameCloses).expect("ran");
    assert!(
        malformed.outcome.evidence().contains("no live connection"),
        "{}",
        malformed.outcome.evidence()
    );
}

#[tokio::test]
async fn peer_keeping_garbage_connections_open_fails_malformed_frame_closes() {
    let addr = broken_peer(KEEPS_GARBAGE_CONNECTIONS).await;
    let report = run_conformance(addr, fast_config())
        .await
        .expect("reachable");
    assert_eq!(report.overall(), "failed");
    let malformed = &report
        .result(CheckId::MalformedFrameCloses)
        .expect("ran")
        .outcome;
    assert_eq!(malformed.status(), "fail");
    assert!(
        malformed.evidence().contains("still open"),
        "{}",
        malformed.evidence()
    );
    // It does answer PING and ignores `pong`, and keeps serving fresh connections.
    for id in [
        CheckId::PingEcho,
        CheckId::PongIgnored,
        CheckId::AcceptsAfterMalformed,
    ] {
        let o = &report.result(id).expect("ran").outcome;
        assert_eq!(o.status(), "pass", "{id}: {}", o.evidence());
    }
}

#[tokio::test]
async fn peer_answering_pong_fails_pong_ignored_only_among_ping_checks() {
    let addr = broken_peer(ECHOES_EVERY_PING).await;
    let report = run_conformance(addr, fast_config())
        .await
        .expect("reachable");
    assert_eq!(report.overall(), "failed");
    let outcome = |id| report.result(id).expect("ran").outcome.clone();
    for id in [
        CheckId::PingEcho,
        CheckId::PingPipelined,
        CheckId::PingSplit,
        CheckId::MalformedFrameCloses,
        CheckId::AcceptsAfterMalformed,
    ] {
        assert_eq!(outcome(id).status(), "pass", "{id}: {:?}", outcome(id));
    }
    let pong = outcome(CheckId::PongIgnored);
    assert_eq!(pong.status(), "fail");
    assert!(
        pong.evidence().contains("was answered"),
        "{}",
        pong.evidence()
    );
    // It answers no RPC at all.
    assert_eq!(outcome(CheckId::Hello).status(), "fail");
    let (pass, fail, skipped) = report.counts();
    assert_eq!(pass + fail + skipped, CheckId::ALL.len());
}

#[tokio::test]
async fn unreachable_target_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    match run_conformance(addr, fast_config()).await {
        Err(ConformanceError::Connect { target, .. }) => assert_eq!(target, addr),
        other => panic!("expected a connect error, got {other:?}"),
    }
}

#[tokio::test]
async fn invalid_configuration_is_refused() {
    let config = ConformanceConfig {
        quiet: Duration::from_secs(10),
        timeout: Duration::from_secs(1),
        ..ConformanceConfig::default()
    };
    let addr: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    assert!(matches!(
        run_conformance(addr, config).await,
        Err(ConformanceError::InvalidConfig { .. })
    ));
}

/// Answers PING, and HELLO in Artemis' 2019 shape (`{body: {fields…}}`, int32 ids, hex-string
/// roots); serves nothing else.
async fn artemis_like_peer() -> SocketAddr {
    use bson::{doc, Bson};
    use hobbits_codec::rpc::{RpcEnvelope, RpcMethod};
    use hobbits_codec::Frame;

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut framed = Framed::new(stream, FrameCodec::default());
                while let Some(Ok(frame)) = framed.next().await {
                    let reply = match frame.protocol {
                        Protocol::Ping if &frame.header[..] == b"ping" => {
                            Some(PingFrame::pong(frame.body.clone()).to_frame())
                        }
                        Protocol::Rpc => match RpcEnvelope::from_frame(&frame) {
                            Ok(env) if env.header.method == RpcMethod::Hello => {
                                let header = doc! { "method_id": 0i32, "id": Bson::Int32(env.header.id.0 as i32) };
                                let zero = format!("0x{}", "00".repeat(32));
                                let body = doc! { "body": {
                                    "network_id": 1i32, "chain_id": 1i32,
                                    "latest_finalized_root": zero.clone(), "latest_finalized_epoch": 0i32,
                                    "best_root": zero, "best_slot": 0i32,
                                } };
                                let (mut h, mut b) = (Vec::new(), Vec::new());
                                header.to_writer(&mut h).expect("header");
                                body.to_writer(&mut b).expect("body");
                                Some(Frame::new(Protocol::Rpc, h, b))
                            }
                            _ => None,
                        },
                        _ => None,
                    };
                    if let Some(f) = reply {
                        if framed.send(f).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn hello_in_artemis_shape_is_accepted_and_reported() {
    let addr = artemis_like_peer().await;
    let report = run_conformance(addr, fast_config())
        .await
        .expect("reachable");
    let hello = &report.result(CheckId::Hello).expect("ran").outcome;
    assert_eq!(hello.status(), "pass", "{}", hello.evidence());
    assert!(
        hello.evidence().contains("NestedDocument"),
        "{}",
        hello.evidence()
    );
    assert_eq!(
        report.peer_hello.as_ref().map(|p| p.shape.name()),
        Some("NestedDocument")
    );
    // It serves no headers: the range checks fail (after a successful handshake), not skip.
    let asc = &report
        .result(CheckId::HeadersAscending)
        .expect("ran")
        .outcome;
    assert_eq!(asc.status(), "fail", "{}", asc.evidence());
    assert!(
        asc.evidence().contains("BLOCK_HEADERS"),
        "{}",
        asc.evidence()
    );
    assert_eq!(report.overall(), "failed");
}
