//! Connections from the hub namespace: the engine process stays in the root namespace, and one
//! thread of it lives in the hub, where it opens TCP connections to node addresses on request
//! (a connection keeps the namespace it was made in, so the caller then uses it like any other).
//! Takes `Connect` requests over a bounded channel; replies with the stream or the error.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::time::Duration;

use super::NetnsError;

type Reply = SyncSender<io::Result<TcpStream>>;

/// A request to the hub thread.
#[derive(Debug)]
struct Connect {
    addr: SocketAddr,
    timeout: Duration,
    reply: Reply,
}

/// The hub thread's handle; the thread ends when the handle is dropped.
#[derive(Debug, Clone)]
pub struct HubConnector {
    requests: SyncSender<Connect>,
}

impl HubConnector {
    /// Starts the thread in the namespace at `netns_path`.
    pub fn start(netns_path: &str) -> Result<HubConnector, NetnsError> {
        let (requests, inbox) = sync_channel::<Connect>(256);
        let (ready_tx, ready_rx) = sync_channel(1);
        let path = netns_path.to_string();
        std::thread::Builder::new()
            .name("netns-hub".into())
            .spawn(move || {
                let entered = super::enter_netns(&path);
                let ok = entered.is_ok();
                let _ = ready_tx.send(entered);
                if !ok {
                    return;
                }
                for request in inbox {
                    let _ = request
                        .reply
                        .send(TcpStream::connect_timeout(&request.addr, request.timeout));
                }
            })
            .map_err(|e| NetnsError::Setup {
                what: "hub thread".into(),
                reason: e.to_string(),
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(HubConnector { requests }),
            Ok(Err(reason)) => Err(NetnsError::Setup {
                what: format!("entering {netns_path}"),
                reason,
            }),
            Err(_) => Err(NetnsError::Setup {
                what: format!("entering {netns_path}"),
                reason: "thread ended".into(),
            }),
        }
    }

    /// Connects from the hub (blocking: at most `timeout`, plus the queue ahead of it).
    pub fn connect(&self, addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        let (reply, answer) = sync_channel(1);
        self.requests
            .send(Connect {
                addr,
                timeout,
                reply,
            })
            .map_err(|_| io::Error::other("hub thread gone"))?;
        answer
            .recv()
            .map_err(|_| io::Error::other("hub thread gone"))?
    }
}
