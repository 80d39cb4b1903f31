//! The NFQUEUE side of the delayer: one netlink socket bound to one queue number, in the network
//! namespace of the thread that opens it. Owns the nfnetlink_queue wire format (config commands,
//! packet messages, verdicts) encoded and parsed here in safe Rust over `nix` sockets, so the
//! delayer can `ppoll` the socket with a sub-millisecond timeout (the `nfq` crate hides its
//! descriptor) and send many verdicts in one datagram. Handles `NFQNL_MSG_PACKET`; sends
//! `NFQNL_MSG_CONFIG` (bind, copy range, queue length, flags) and `NFQNL_MSG_VERDICT`.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::poll::{ppoll, PollFd, PollFlags};
use nix::sys::socket::{
    bind, recv, sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, NetlinkAddr,
    SockFlag, SockProtocol, SockType,
};
use nix::sys::time::TimeSpec;

use super::DelayerError;

const NFNL_SUBSYS_QUEUE: u16 = 3;
const NFQNL_MSG_PACKET: u16 = 0;
const NFQNL_MSG_VERDICT: u16 = 1;
const NFQNL_MSG_CONFIG: u16 = 2;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NFQA_PACKET_HDR: u16 = 1;
const NFQA_VERDICT_HDR: u16 = 2;
const NFQA_PAYLOAD: u16 = 10;
const NFQA_CFG_CMD: u16 = 1;
const NFQA_CFG_PARAMS: u16 = 2;
const NFQA_CFG_QUEUE_MAXLEN: u16 = 3;
const NFQA_CFG_MASK: u16 = 4;
const NFQA_CFG_FLAGS: u16 = 5;
const NFQNL_CFG_CMD_BIND: u8 = 1;
const NFQNL_COPY_PACKET: u8 = 2;
/// Packets are passed up whole-GSO (no software segmentation before queueing).
const NFQA_CFG_F_FAIL_OPEN: u32 = 1;
const NFQA_CFG_F_GSO: u32 = 4;
const NLMSG_HDRLEN: usize = 16;
const NFGEN_HDRLEN: usize = 4;
/// Bytes of each packet copied to us: an IPv4 header (addresses) is all the delayer reads.
pub const COPY_RANGE: u32 = 20;

/// What the kernel does with a queued packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// `NF_DROP`.
    Drop,
    /// `NF_ACCEPT`: the packet continues through the hooks unchanged (same addresses).
    Accept,
}

/// A queued packet as the delayer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedPacket {
    /// The kernel's id for the verdict (increasing per queue).
    pub id: u32,
    /// IPv4 source and destination, when the copied bytes hold an IPv4 header.
    pub addrs: Option<([u8; 4], [u8; 4])>,
}

/// How the queue is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSettings {
    /// The queue number (`--queue-num` of the NFQUEUE rule).
    pub queue_num: u16,
    /// Packets the kernel holds for us before it drops (or, with `fail_open`, accepts) new ones.
    pub max_len: u32,
    /// Accept packets undelayed when the queue is full instead of dropping them.
    pub fail_open: bool,
    /// Socket receive buffer (bytes, forced as root).
    pub rcvbuf: usize,
}

/// One bound NFQUEUE socket.
#[derive(Debug)]
pub struct NfQueue {
    fd: OwnedFd,
    queue_num: u16,
    seq: u32,
    buf: Vec<u8>,
    out: Vec<u8>,
}

impl NfQueue {
    /// Opens a socket in the calling thread's network namespace and binds the queue.
    pub fn open(settings: QueueSettings) -> Result<NfQueue, DelayerError> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkNetFilter,
        )
        .map_err(|e| DelayerError::Socket {
            op: "socket",
            errno: e,
        })?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0)).map_err(|e| DelayerError::Socket {
            op: "bind",
            errno: e,
        })?;
        setsockopt(&fd, sockopt::RcvBufForce, &settings.rcvbuf)
            .or_else(|_| setsockopt(&fd, sockopt::RcvBuf, &settings.rcvbuf))
            .map_err(|e| DelayerError::Socket {
                op: "SO_RCVBUF",
                errno: e,
            })?;
        let mut queue = NfQueue {
            fd,
            queue_num: settings.queue_num,
            seq: 0,
            buf: vec![0; 1 << 17],
            out: Vec::with_capacity(1 << 16),
        };
        queue.config(
            &[attr_bytes(NFQA_CFG_CMD, &[NFQNL_CFG_CMD_BIND, 0, 0, 0])],
            "bind",
        )?;
        let mut params = COPY_RANGE.to_be_bytes().to_vec();
        params.push(NFQNL_COPY_PACKET);
        queue.config(&[attr_bytes(NFQA_CFG_PARAMS, &params)], "copy range")?;
        queue.config(
            &[attr_bytes(
                NFQA_CFG_QUEUE_MAXLEN,
                &settings.max_len.to_be_bytes(),
            )],
            "queue max length",
        )?;
        let flags = NFQA_CFG_F_GSO
            | if settings.fail_open {
                NFQA_CFG_F_FAIL_OPEN
            } else {
                0
            };
        let mask = NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN;
        queue.config(
            &[
                attr_bytes(NFQA_CFG_FLAGS, &flags.to_be_bytes()),
                attr_bytes(NFQA_CFG_MASK, &mask.to_be_bytes()),
            ],
            "flags",
        )?;
        Ok(queue)
    }

    /// Sends one config message and waits for its acknowledgement.
    fn config(&mut self, attrs: &[Vec<u8>], what: &'static str) -> Result<(), DelayerError> {
        self.out.clear();
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        push_message(
            &mut self.out,
            NFQNL_MSG_CONFIG,
            NLM_F_REQUEST | NLM_F_ACK,
            seq,
            self.queue_num,
            attrs,
        );
        self.flush()?;
        loop {
            let len = recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::empty()).map_err(|e| {
                DelayerError::Socket {
                    op: "recv",
                    errno: e,
                }
            })?;
            for msg in Messages::new(&self.buf[..len]) {
                if msg.kind == NLMSG_ERROR && msg.seq == seq {
                    let code = msg
                        .body
                        .get(..4)
                        .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                        .unwrap_or(-1);
                    if code == 0 {
                        return Ok(());
                    }
                    return Err(DelayerError::Config {
                        what,
                        errno: Errno::from_raw(-code),
                    });
                }
            }
        }
    }

    /// Waits until the socket is readable or `timeout` passes (None: forever). Returns whether
    /// it is readable.
    pub fn wait(&self, timeout: Option<std::time::Duration>) -> Result<bool, DelayerError> {
        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
        let spec = timeout.map(TimeSpec::from_duration);
        match ppoll(&mut fds, spec, None) {
            Ok(n) => Ok(n > 0),
            Err(Errno::EINTR) => Ok(false),
            Err(e) => Err(DelayerError::Socket {
                op: "ppoll",
                errno: e,
            }),
        }
    }

    /// Reads what is there without blocking and appends each queued packet to `out`. Returns
    /// `Ok(false)` when nothing was waiting. `ENOBUFS` (our socket overflowed: the kernel dropped
    /// packet messages, the packets themselves stay queued) is returned as an error the caller
    /// counts; the lost ids show as a gap in the id sequence.
    pub fn receive(&mut self, out: &mut Vec<QueuedPacket>) -> Result<bool, DelayerError> {
        let len = match recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::MSG_DONTWAIT) {
            Ok(len) => len,
            Err(Errno::EAGAIN) => return Ok(false),
            Err(Errno::ENOBUFS) => return Err(DelayerError::Overflow),
            Err(e) => {
                return Err(DelayerError::Socket {
                    op: "recv",
                    errno: e,
                })
            }
        };
        for msg in Messages::new(&self.buf[..len]) {
            if msg.kind == (NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_PACKET) {
                out.extend(parse_packet(msg.body));
            }
            // NLMSG_ERROR here answers a verdict for an id the kernel no longer holds
            // (a gap id that was already gone): nothing to do.
        }
        Ok(true)
    }

    /// Queues a verdict; [`NfQueue::flush`] sends every queued one in one datagram.
    pub fn verdict(&mut self, id: u32, verdict: Verdict) {
        let code: u32 = match verdict {
            Verdict::Drop => 0,
            Verdict::Accept => 1,
        };
        let mut hdr = code.to_be_bytes().to_vec();
        hdr.extend_from_slice(&id.to_be_bytes());
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let attrs = [attr_bytes(NFQA_VERDICT_HDR, &hdr)];
        push_message(
            &mut self.out,
            NFQNL_MSG_VERDICT,
            NLM_F_REQUEST,
            seq,
            self.queue_num,
            &attrs,
        );
        if self.out.len() > 60_000 {
            // A datagram stays well under the kernel's netlink size limit.
            if let Err(e) = self.flush() {
                tracing::warn!(error = %e, "delayer: verdicts not sent");
            }
        }
    }

    /// Sends the queued verdicts (or config message).
    pub fn flush(&mut self) -> Result<(), DelayerError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let result = sendto(
            self.fd.as_raw_fd(),
            &self.out,
            &NetlinkAddr::new(0, 0),
            MsgFlags::empty(),
        );
        self.out.clear();
        result.map(drop).map_err(|e| DelayerError::Socket {
            op: "sendto",
            errno: e,
        })
    }
}

/// One netlink attribute, padded to 4 bytes.
fn attr_bytes(kind: u16, payload: &[u8]) -> Vec<u8> {
    let len = 4 + payload.len();
    let mut out = Vec::with_capacity(align4(len));
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(align4(len), 0);
    out
}

fn align4(len: usize) -> usize {
    (len + 3) & !3
}

/// Appends one nfnetlink message (netlink header, nfgenmsg, attributes) to `out`.
fn push_message(out: &mut Vec<u8>, msg: u16, flags: u16, seq: u32, res_id: u16, attrs: &[Vec<u8>]) {
    let len = NLMSG_HDRLEN + NFGEN_HDRLEN + attrs.iter().map(Vec::len).sum::<usize>();
    out.extend_from_slice(&(len as u32).to_ne_bytes());
    out.extend_from_slice(&(NFNL_SUBSYS_QUEUE << 8 | msg).to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    // nfgenmsg: family AF_UNSPEC, version NFNETLINK_V0, resource id (queue number) big-endian.
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&res_id.to_be_bytes());
    for attr in attrs {
        out.extend_from_slice(attr);
    }
}

/// One netlink message inside a datagram.
#[derive(Debug)]
struct Message<'a> {
    kind: u16,
    seq: u32,
    /// After the netlink header.
    body: &'a [u8],
}

/// The messages of one datagram; stops at the first malformed length.
#[derive(Debug)]
struct Messages<'a> {
    rest: &'a [u8],
}

impl<'a> Messages<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Messages { rest: buf }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Message<'a>;

    fn next(&mut self) -> Option<Message<'a>> {
        let hdr = self.rest.get(..NLMSG_HDRLEN)?;
        let len = u32::from_ne_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as usize;
        let kind = u16::from_ne_bytes([hdr[4], hdr[5]]);
        let seq = u32::from_ne_bytes([hdr[8], hdr[9], hdr[10], hdr[11]]);
        if len < NLMSG_HDRLEN || len > self.rest.len() || kind == NLMSG_DONE {
            self.rest = &[];
            return None;
        }
        let body = &self.rest[NLMSG_HDRLEN..len];
        self.rest = self.rest.get(align4(len)..).unwrap_or(&[]);
        Some(Message { kind, seq, body })
    }
}

/// Attributes after the nfgenmsg of a packet message.
fn parse_packet(body: &[u8]) -> Option<QueuedPacket> {
    let mut rest = body.get(NFGEN_HDRLEN..)?;
    let mut id = None;
    let mut addrs = None;
    while rest.len() >= 4 {
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & 0x7fff;
        if len < 4 || len > rest.len() {
            break;
        }
        let payload = &rest[4..len];
        match kind {
            NFQA_PACKET_HDR if payload.len() >= 4 => {
                id = Some(u32::from_be_bytes([
                    payload[0], payload[1], payload[2], payload[3],
                ]));
            }
            NFQA_PAYLOAD if payload.len() >= 20 && payload[0] >> 4 == 4 => {
                let src = [payload[12], payload[13], payload[14], payload[15]];
                let dst = [payload[16], payload[17], payload[18], payload[19]];
                addrs = Some((src, dst));
            }
            _ => {}
        }
        rest = rest.get(align4(len)..).unwrap_or(&[]);
    }
    Some(QueuedPacket { id: id?, addrs })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A packet message as the kernel writes it: header, nfgenmsg, packet header, payload.
    fn packet_message(id: u32, payload: &[u8]) -> Vec<u8> {
        let mut hdr = id.to_be_bytes().to_vec();
        hdr.extend_from_slice(&[0x08, 0x00, 2]);
        let attrs = [
            attr_bytes(NFQA_PACKET_HDR, &hdr),
            attr_bytes(NFQA_PAYLOAD, payload),
        ];
        let mut out = Vec::new();
        push_message(&mut out, NFQNL_MSG_PACKET, 0, 0, 7, &attrs);
        out
    }

    fn ipv4_header(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
        let mut h = vec![0x45, 0, 0, 60, 0, 0, 0x40, 0, 64, 6, 0, 0];
        h.extend_from_slice(&src);
        h.extend_from_slice(&dst);
        h
    }

    #[test]
    fn reads_id_and_addresses_of_each_message_in_a_datagram() {
        let mut datagram = packet_message(41, &ipv4_header([198, 18, 0, 2], [198, 18, 0, 3]));
        datagram.extend(packet_message(
            42,
            &ipv4_header([198, 18, 0, 3], [198, 18, 0, 2]),
        ));
        let got: Vec<_> = Messages::new(&datagram)
            .filter_map(|m| parse_packet(m.body))
            .collect();
        assert_eq!(
            got,
            vec![
                QueuedPacket {
                    id: 41,
                    addrs: Some(([198, 18, 0, 2], [198, 18, 0, 3]))
                },
                QueuedPacket {
                    id: 42,
                    addrs: Some(([198, 18, 0, 3], [198, 18, 0, 2]))
                },
            ]
        );
    }

    #[test]
    fn short_or_non_ipv4_payload_keeps_the_id_without_addresses() {
        let datagram = packet_message(9, &[0x60; 40]);
        let got: Vec<_> = Messages::new(&datagram)
            .filter_map(|m| parse_packet(m.body))
            .collect();
        assert_eq!(got, vec![QueuedPacket { id: 9, addrs: None }]);
        let short = packet_message(10, &[0x45; 8]);
        let got: Vec<_> = Messages::new(&short)
            .filter_map(|m| parse_packet(m.body))
            .collect();
        assert_eq!(
            got,
            vec![QueuedPacket {
                id: 10,
                addrs: None
            }]
        );
    }

    #[test]
    fn truncated_or_lying_lengths_end_the_walk_without_panicking() {
        let whole = packet_message(5, &ipv4_header([1, 2, 3, 4], [5, 6, 7, 8]));
        for cut in 0..whole.len() {
            let _ = Messages::new(&whole[..cut])
                .filter_map(|m| parse_packet(m.body))
                .count();
        }
        let mut lying = whole.clone();
        lying[0..4].copy_from_slice(&(u32::MAX).to_ne_bytes());
        assert_eq!(Messages::new(&lying).count(), 0);
        let mut bad_attr = whole;
        bad_attr[NLMSG_HDRLEN + NFGEN_HDRLEN] = 0xff;
        let _ = Messages::new(&bad_attr)
            .filter_map(|m| parse_packet(m.body))
            .count();
    }

    #[test]
    fn verdict_message_layout() {
        let mut out = Vec::new();
        let mut hdr = 1u32.to_be_bytes().to_vec();
        hdr.extend_from_slice(&77u32.to_be_bytes());
        push_message(
            &mut out,
            NFQNL_MSG_VERDICT,
            NLM_F_REQUEST,
            3,
            7,
            &[attr_bytes(NFQA_VERDICT_HDR, &hdr)],
        );
        assert_eq!(out.len(), 16 + 4 + 12);
        assert_eq!(&out[0..4], &32u32.to_ne_bytes());
        assert_eq!(&out[4..6], &(3u16 << 8 | 1).to_ne_bytes());
        assert_eq!(&out[18..20], &7u16.to_be_bytes());
        assert_eq!(&out[24..28], &1u32.to_be_bytes());
        assert_eq!(&out[28..32], &77u32.to_be_bytes());
    }
}
