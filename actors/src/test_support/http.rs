//! A tiny HTTP/1.1 client over loopback for the tests of the node's HTTP face: [`get`] sends one
//! request (the server closes the connection after its answer) and returns an [`HttpReply`]
//! (status, headers, body; chunked bodies decoded); [`EventStream`] opens `/eth/v1/events` and
//! reads server-sent events one at a time, each read bounded by a deadline. Every read has a
//! deadline; nothing here retries. Handles and sends no actix messages.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest wait for a whole answer or one event.
pub const HTTP_DEADLINE: Duration = Duration::from_secs(20);

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values, in order.
    pub headers: Headers,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl HttpReply {
    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Header names (lower case) and values.
type Headers = Vec<(String, String)>;

/// Splits `buf` at the end of the head: (status, headers, where the body starts).
fn parse_head(buf: &[u8]) -> Option<(u16, Headers, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some((status, headers, end + 4))
}

/// Decodes the complete chunks at the front of `raw` into `out`; returns the bytes consumed
/// and whether the last chunk was seen.
fn dechunk(raw: &[u8], out: &mut Vec<u8>) -> (usize, bool) {
    let mut at = 0;
    loop {
        let Some(line_end) = raw[at..].windows(2).position(|w| w == b"\r\n") else {
            return (at, false);
        };
        let size_text = String::from_utf8_lossy(&raw[at..at + line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            return (at, false);
        };
        let data = at + line_end + 2;
        if raw.len() < data + size + 2 {
            return (at, false);
        }
        out.extend_from_slice(&raw[data..data + size]);
        at = data + size + 2;
        if size == 0 {
            return (at, true);
        }
    }
}

async fn send(addr: SocketAddr, path: &str, accept: Option<&str>) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n{accept}\r\n");
    s.write_all(request.as_bytes()).await.expect("write");
    s
}

/// `GET path`, optionally with an `Accept` header; the whole answer within [`HTTP_DEADLINE`].
pub async fn get(addr: SocketAddr, path: &str, accept: Option<&str>) -> HttpReply {
    let mut s = send(addr, path, accept).await;
    let mut buf = Vec::new();
    tokio::time::timeout(HTTP_DEADLINE, s.read_to_end(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("GET {path}: no whole answer in time"))
        .expect("read");
    let (status, headers, start) =
        parse_head(&buf).unwrap_or_else(|| panic!("GET {path}: no HTTP head in {buf:?}"));
    let mut reply = HttpReply {
        status,
        headers,
        body: Vec::new(),
    };
    if reply.header("transfer-encoding") == Some("chunked") {
        dechunk(&buf[start..], &mut reply.body);
    } else {
        reply.body = buf[start..].to_vec();
    }
    reply
}

/// An open `/eth/v1/events` stream.
#[derive(Debug)]
pub struct EventStream {
    stream: TcpStream,
    raw: Vec<u8>,
    text: Vec<u8>,
    /// The answer's status and headers (body empty).
    pub head: HttpReply,
}

impl EventStream {
    /// Opens `/eth/v1/events?topics=…`; the head is read within [`HTTP_DEADLINE`].
    pub async fn open(addr: SocketAddr, topics: &str) -> EventStream {
        let path = format!("/eth/v1/events?topics={topics}");
        let mut stream = send(addr, &path, Some("text/event-stream")).await;
        let mut raw = Vec::new();
        let (status, headers, start) = loop {
            if let Some(h) = parse_head(&raw) {
                break h;
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(HTTP_DEADLINE, stream.read(&mut chunk))
                .await
                .expect("event stream head in time")
                .expect("read");
            assert!(n > 0, "closed before the head: {raw:?}");
            raw.extend_from_slice(&chunk[..n]);
        };
        let mut es = EventStream {
            stream,
            raw: raw[start..].to_vec(),
            text: Vec::new(),
            head: HttpReply {
                status,
                headers,
                body: Vec::new(),
            },
        };
        if es.head.header("transfer-encoding") != Some("chunked") {
            // Not a stream (an error answer): the rest is the body.
            es.head.body = std::mem::take(&mut es.raw);
        }
        es
    }

    /// The next event (`event:` name, `data:` as JSON), `None` when the server closed the
    /// stream; panics after `deadline`.
    pub async fn next(&mut self, deadline: Duration) -> Option<(String, serde_json::Value)> {
        let end = tokio::time::Instant::now() + deadline;
        loop {
            let (used, last) = dechunk(&self.raw, &mut self.text);
            self.raw.drain(..used);
            if let Some(pos) = self.text.windows(2).position(|w| w == b"\n\n") {
                let event: Vec<u8> = self.text.drain(..pos + 2).collect();
                let event = String::from_utf8_lossy(&event).into_owned();
                let mut name = String::new();
                let mut data = String::new();
                for line in event.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if name.is_empty() {
                    continue; // a comment
                }
                let data = serde_json::from_str(&data)
                    .unwrap_or_else(|e| panic!("event data not JSON ({e}): {data}"));
                return Some((name, data));
            }
            if last {
                return None;
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout_at(end, self.stream.read(&mut chunk))
                .await
                .expect("next event in time")
                .ok()?;
            if n == 0 {
                return None;
            }
            self.raw.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_decode_in_pieces() {
        let mut out = Vec::new();
        let raw = b"5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n";
        assert_eq!(dechunk(&raw[..9], &mut out), (0, false));
        assert_eq!(dechunk(&raw[..10], &mut out), (10, false));
        assert_eq!(out, b"hello");
        let mut all = Vec::new();
        assert_eq!(dechunk(raw, &mut all), (raw.len(), true));
        assert_eq!(all, b"helloabc");
    }
}
