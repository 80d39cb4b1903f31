//! `hobbits-node status eth+tcp://HOST:PORT`: the eth2 RPC raw-TCP dialect's hello (ours first,
//! finalized root zero at epoch 0, which any node of the network accepts) then get_status, and
//! print what the peer says. Blocking std I/O with a deadline; every length read is capped by
//! the codec's limits.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use hobbits_chain::{Epoch, Root, Slot};
use hobbits_codec::eth::{
    EthFrame, EthHello, EthLimits, EthMessage, EthMethod, EthRequest, EthRequestBody,
    EthResponseBody, EthStatus, ETH_PREFIX_LEN,
};
use hobbits_codec::rpc::RequestId;

/// What the peer said.
pub(super) struct EthStatusReport {
    pub(super) hello: EthHello,
    pub(super) status: EthStatus,
    pub(super) elapsed: Duration,
}

/// Reads messages until the response to `id` (requests from the peer, e.g. a goodbye, end it).
fn response(
    s: &mut TcpStream,
    buf: &mut BytesMut,
    id: u64,
    method: EthMethod,
    end: Instant,
) -> Result<EthResponseBody, String> {
    let limits = EthLimits::default();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if buf.len() >= ETH_PREFIX_LEN {
            let len = u32::from_le_bytes([buf[3], buf[4], buf[5], buf[6]]);
            if len > limits.max_message_len {
                return Err(format!("message of {len} bytes is over the limit"));
            }
            let whole = ETH_PREFIX_LEN + len as usize;
            if buf.len() >= whole {
                let bytes = buf.split_to(whole);
                let frame = EthFrame::parse(&bytes, limits).map_err(|e| e.to_string())?;
                match EthMessage::from_frame(&frame).map_err(|e| e.to_string())? {
                    EthMessage::Response(r) if r.id == RequestId(id) => {
                        return r.decode_result(method, &limits).map_err(|e| e.to_string())
                    }
                    EthMessage::Request(r) => {
                        let body = r.decode_body(&limits).map_err(|e| e.to_string())?;
                        return Err(format!("the peer sent {body:?} instead of answering"));
                    }
                    EthMessage::Response(_) => continue,
                }
            }
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("timed out".into());
        }
        s.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
        let n = s.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("the peer closed the connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn send(s: &mut TcpStream, id: u64, body: &EthRequestBody) -> Result<(), String> {
    let frame = EthMessage::Request(EthRequest::new(RequestId(id), body)).to_frame();
    let bytes = frame.to_bytes().map_err(|e| e.to_string())?;
    s.write_all(&bytes).map_err(|e| format!("write: {e}"))
}

/// hello then get_status with `hostport`, within `timeout`.
pub(super) fn query(
    hostport: &str,
    network_id: u8,
    chain_id: u8,
    user_agent: &str,
    timeout: Duration,
) -> Result<EthStatusReport, String> {
    let start = Instant::now();
    let end = start + timeout;
    let addr = hostport
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("`{hostport}` is not host:port"))?;
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let mut buf = BytesMut::new();
    let ours = EthHello {
        network_id,
        chain_id: u64::from(chain_id),
        finalized_root: Root::ZERO,
        finalized_epoch: Epoch(0),
        best_root: Root::ZERO,
        best_slot: Slot(0),
    };
    send(&mut s, 1, &EthRequestBody::Hello(ours))?;
    let EthResponseBody::Hello(hello) = response(&mut s, &mut buf, 1, EthMethod::Hello, end)?
    else {
        return Err("hello: not a hello".into());
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    send(
        &mut s,
        2,
        &EthRequestBody::GetStatus(EthStatus::new([0; 32], user_agent, now)),
    )?;
    let EthResponseBody::GetStatus(status) =
        response(&mut s, &mut buf, 2, EthMethod::GetStatus, end)?
    else {
        return Err("get_status: not a status".into());
    };
    let _ = send(
        &mut s,
        3,
        &EthRequestBody::Goodbye(hobbits_chain::rpc::Goodbye { reason: 1 }),
    );
    Ok(EthStatusReport {
        hello,
        status,
        elapsed: start.elapsed(),
    })
}
