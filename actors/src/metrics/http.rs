//! [`MetricsServer`]: a tiny HTTP/1.1 responder on tokio for Prometheus. It reads the request
//! head (at most [`MAX_REQUEST_HEAD`] bytes, within [`REQUEST_TIMEOUT`]), answers `GET /metrics`
//! with 200 and the text format (after a [`Refresh`] when one is given), 404 for any other path or
//! method, 400 for a malformed or oversized request, always with `Connection: close`. At most
//! [`MAX_CONNECTIONS`] requests are served at once; more are closed unanswered. No HTTP crate: the
//! only request it serves is one line. Handles no actix messages; the refresh sends queries.
//! [`Refresh`] is how the registry, at the bottom of the crate, gets fresh values from actors it
//! does not know: the node's collector implements it.

use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::{Metrics, MetricsError};

/// Called before each scrape to copy values the registry does not count itself (peers, head,
/// gossip and sync counters) into it. Each actor's answer should be bounded by
/// `MetricsConfig::query_timeout`; what does not answer keeps its previous values.
pub trait Refresh: std::fmt::Debug {
    /// Stores fresh values in `metrics`.
    fn refresh<'a>(&'a self, metrics: &'a Metrics) -> Pin<Box<dyn Future<Output = ()> + 'a>>;
}

/// Largest request head read (request line and headers).
pub(crate) const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// Time a client has to send its request head, and to read the response.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Requests served at once.
pub(crate) const MAX_CONNECTIONS: usize = 16;

/// Content type of the Prometheus text format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What a request line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpRoute {
    /// `GET /metrics` (a query string is ignored).
    Metrics,
    /// Any other method or path: 404.
    NotFound,
    /// Not an HTTP/1.x request line: 400.
    BadRequest,
}

/// Reads a request line (`METHOD SP TARGET SP HTTP/1.x`, without the line end).
pub fn parse_request_line(line: &str) -> HttpRoute {
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return HttpRoute::BadRequest;
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
        return HttpRoute::BadRequest;
    }
    let path = target.split('?').next().unwrap_or(target);
    if method == "GET" && path == "/metrics" {
        HttpRoute::Metrics
    } else {
        HttpRoute::NotFound
    }
}

/// The request head once complete: `Some(request line)` when `buf` holds the blank line ending
/// the head, `None` when more bytes are needed.
fn complete_head(buf: &[u8]) -> Option<Result<String, ()>> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").or_else(|| {
        // Tolerate bare LF line ends.
        buf.windows(2).position(|w| w == b"\n\n")
    })?;
    let head = &buf[..end];
    let line = head.split(|b| *b == b'\n').next().unwrap_or(head);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some(String::from_utf8(line.to_vec()).map_err(|_| ()))
}

fn response(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn read_head(stream: &mut TcpStream) -> Result<HttpRoute, &'static str> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(head) = complete_head(&buf) {
            return Ok(head.map_or(HttpRoute::BadRequest, |l| parse_request_line(&l)));
        }
        if buf.len() >= MAX_REQUEST_HEAD {
            return Ok(HttpRoute::BadRequest);
        }
        let n = stream.read(&mut chunk).await.map_err(|_| "read error")?;
        if n == 0 {
            return Err("closed before the end of the request head");
        }
        let room = MAX_REQUEST_HEAD + 4 - buf.len();
        buf.extend_from_slice(&chunk[..n.min(room)]);
    }
}

async fn serve(mut stream: TcpStream, metrics: Arc<Metrics>, sources: Option<Rc<dyn Refresh>>) {
    let route = match tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(r)) => r,
        Ok(Err(why)) => return debug!(why, "metrics request dropped"),
        Err(_) => return debug!("metrics request timed out"),
    };
    let bytes = match route {
        HttpRoute::Metrics => {
            if let Some(s) = &sources {
                s.refresh(&metrics).await;
            }
            response("200 OK", CONTENT_TYPE, &metrics.render())
        }
        HttpRoute::NotFound => response("404 Not Found", "text/plain", "not found\n"),
        HttpRoute::BadRequest => response("400 Bad Request", "text/plain", "bad request\n"),
    };
    let write = async {
        stream.write_all(&bytes).await?;
        stream.shutdown().await
    };
    if let Err(e) = tokio::time::timeout(REQUEST_TIMEOUT, write)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
    {
        debug!(error = %e, "metrics response not written");
    }
}

/// A running metrics endpoint. Dropping the handle does not stop it; call [`MetricsServer::stop`].
#[derive(Debug)]
pub struct MetricsServer {
    local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl MetricsServer {
    /// Binds `addr` (port 0: any free port) and serves `metrics` there; each scrape first
    /// runs `sources` when given. Call inside an actix system (or a tokio `LocalSet`).
    pub async fn start(
        addr: SocketAddr,
        metrics: Arc<Metrics>,
        sources: Option<Rc<dyn Refresh>>,
    ) -> Result<MetricsServer, MetricsError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| MetricsError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| MetricsError::Bind { addr, source })?;
        info!(%local_addr, "serving metrics on http://{local_addr}/metrics");
        let active = Rc::new(Cell::new(0usize));
        let task = tokio::task::spawn_local(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        warn!(error = %e, "metrics accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if active.get() >= MAX_CONNECTIONS {
                    debug!(%peer, "metrics: too many requests at once, closed");
                    continue;
                }
                active.set(active.get() + 1);
                let active = active.clone();
                let (m, s) = (metrics.clone(), sources.clone());
                tokio::task::spawn_local(async move {
                    serve(stream, m, s).await;
                    active.set(active.get().saturating_sub(1));
                });
            }
        });
        Ok(MetricsServer { local_addr, task })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting (requests being served finish on their own).
    pub fn stop(&self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        assert_eq!(
            parse_request_line("GET /metrics HTTP/1.1"),
            HttpRoute::Metrics
        );
        assert_eq!(
            parse_request_line("GET /metrics?x=1 HTTP/1.0"),
            HttpRoute::Metrics
        );
        assert_eq!(parse_request_line("GET / HTTP/1.1"), HttpRoute::NotFound);
        assert_eq!(
            parse_request_line("POST /metrics HTTP/1.1"),
            HttpRoute::NotFound
        );
        assert_eq!(parse_request_line("GET /metrics"), HttpRoute::BadRequest);
        assert_eq!(
            parse_request_line("GET /metrics SPDY/3"),
            HttpRoute::BadRequest
        );
        assert_eq!(
            parse_request_line("GET  /metrics HTTP/1.1"),
            HttpRoute::BadRequest
        );
        assert_eq!(parse_request_line("\u{1}\u{2}"), HttpRoute::BadRequest);
    }

    #[test]
    fn head_completes_on_the_blank_line() {
        assert_eq!(complete_head(b"GET /metrics HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(
            complete_head(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(Ok("GET /metrics HTTP/1.1".to_string()))
        );
        assert_eq!(
            complete_head(b"GET / HTTP/1.0\n\n"),
            Some(Ok("GET / HTTP/1.0".to_string()))
        );
        assert_eq!(complete_head(b"\xff\xfe\r\n\r\n"), Some(Err(())));
    }

    #[test]
    fn response_has_length_and_close() {
        let r = String::from_utf8(response("200 OK", CONTENT_TYPE, "a 1\n")).expect("utf8");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(r.contains("Content-Length: 4\r\n"));
        assert!(r.contains("Connection: close\r\n"));
        assert!(r.ends_with("\r\n\r\na 1\n"));
    }
}
