//! The node's HTTP face on actix-web: the Beacon Node API subset a Hobbits node can answer
//! ([`api`]: node identity, peers, peer count, version, syncing, health, genesis, headers, blocks
//! in JSON and SSZ, block roots, finality checkpoints; the spec's 404/501 for what it cannot serve),
//! the events stream ([`events`]: `head`, `block`, `finalized_checkpoint` as server-sent events)
//! and `GET /metrics` (the registry in the Prometheus text format or OpenMetrics, by `Accept`).
//! docs/API.md is the reference: paths, shapes, status codes, bounds.
//!
//! [`HttpServer::start`] binds the address and runs one actix-web worker thread; the handlers
//! reach the node's actors through [`ApiLinks`] (addresses and clients, so the module knows no
//! assembly). Bounded like every input: [`HttpConfig`] caps connections, requests in flight (more
//! get 503 with a JSON body), open event streams, the time to read a request head and every actor
//! query; one request per connection (no keep-alive); request heads over actix-http's 32 KiB are
//! refused. Sends `GetPeers` (manager), `GetSyncState` (sync) and the store's queries; the
//! [`EventHub`] handles `BlockImported`.

mod api;
pub mod events;
mod json;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_web::dev::ServerHandle;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{KeepAlive, StatusCode};
use actix_web::{web, App, HttpRequest, HttpResponse, ResponseError};
use hobbits_chain::Root;
use serde_json::json;
use tokio::sync::broadcast;
use tracing::info;

pub use events::{ApiEvent, EventHub, Topic};

use crate::metrics::{ExpositionFormat, Metrics, Refresh};
use crate::peer_manager::PeerManager;
use crate::peer_table::NodeId;
use crate::store::StoreClient;
use crate::sync::SyncActor;

/// Why the HTTP server did not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A bound that must be positive is zero.
    #[error("http config `{field}` must be positive")]
    Zero {
        /// The field.
        field: &'static str,
    },
    /// The address could not be bound.
    #[error("cannot serve http on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Bounds of the HTTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Connections open at once (beyond this, new ones wait in the listen backlog). Default 256.
    pub max_connections: usize,
    /// Requests handled at once; more are answered 503. Default 64.
    pub max_in_flight: usize,
    /// Event streams open at once; more are answered 503. Default 16.
    pub max_event_streams: usize,
    /// Events a stream may fall behind before it is closed. Default 256.
    pub event_buffer: usize,
    /// A stream with no event for this long gets a comment line (`:`), so a client that left is
    /// noticed and its stream closed. Default 15 s.
    pub event_heartbeat: Duration,
    /// Time a client has to send its request head, and longest wait for one actor's answer
    /// (then 503). Default 5 s.
    pub request_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_connections: 256,
            max_in_flight: 64,
            max_event_streams: 16,
            event_buffer: 256,
            event_heartbeat: Duration::from_secs(15),
            request_timeout: Duration::from_secs(5),
        }
    }
}

impl HttpConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), HttpError> {
        let zero = |field| Err(HttpError::Zero { field });
        if self.max_connections == 0 {
            return zero("max_connections");
        }
        if self.max_in_flight == 0 {
            return zero("max_in_flight");
        }
        if self.max_event_streams == 0 {
            return zero("max_event_streams");
        }
        if self.event_buffer == 0 {
            return zero("event_buffer");
        }
        if self.request_timeout.is_zero() {
            return zero("request_timeout");
        }
        if self.event_heartbeat.is_zero() {
            return zero("event_heartbeat");
        }
        Ok(())
    }
}

/// What the handlers read: the node's identity and its actors.
#[derive(Debug, Clone)]
pub struct ApiLinks {
    /// This node's id (the API's `peer_id`).
    pub node_id: NodeId,
    /// Where the node listens for Hobbits peers.
    pub listen_addr: SocketAddr,
    /// Where the node listens for the eth2 RPC raw-TCP dialect, when it does.
    pub eth_listen_addr: Option<SocketAddr>,
    /// The user agent (the API's `version`).
    pub user_agent: String,
    /// Genesis time, seconds since the Unix epoch.
    pub genesis_time: u64,
    /// signing_root of the genesis block.
    pub genesis_root: Root,
    /// Peers.
    pub manager: Addr<PeerManager>,
    /// The chain.
    pub store: StoreClient,
    /// Sync state, when sync runs.
    pub sync: Option<Addr<SyncActor>>,
    /// The registry served on `/metrics` (404 without one).
    pub metrics: Option<Arc<Metrics>>,
    /// Run before each scrape.
    pub refresh: Option<Arc<dyn Refresh>>,
    /// The events the streams read (the [`EventHub`] publishes them).
    pub events: broadcast::Sender<ApiEvent>,
}

/// An API error: the status and the spec's body `{"code": .., "message": ..}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status)
            .content_type("application/json")
            .body(json!({ "code": self.status.as_u16(), "message": self.message }).to_string())
    }
}

/// State shared by the handlers.
#[derive(Debug)]
pub(crate) struct Shared {
    links: ApiLinks,
    config: HttpConfig,
    in_flight: Arc<AtomicUsize>,
    streams: Arc<AtomicUsize>,
}

/// One of `max` places (a request in flight, an event stream), given back on drop.
#[derive(Debug)]
pub(crate) struct Permit(Arc<AtomicUsize>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn take_permit(counter: &Arc<AtomicUsize>, max: usize, what: &str) -> Result<Permit, ApiError> {
    let taken = counter.fetch_add(1, Ordering::AcqRel);
    let permit = Permit(counter.clone());
    if taken >= max {
        return Err(ApiError::unavailable(format!(
            "node overloaded: {max} {what} at once"
        )));
    }
    Ok(permit)
}

type Data = web::Data<Shared>;

/// Admits one request, or 503 when `max_in_flight` are being handled.
fn admit(shared: &Data) -> Result<Permit, ApiError> {
    take_permit(&shared.in_flight, shared.config.max_in_flight, "requests")
}

impl Shared {
    /// `f` within the request timeout; 503 when the actor is gone or late.
    async fn ask<T, E>(
        &self,
        what: &str,
        f: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, ApiError> {
        match tokio::time::timeout(self.config.request_timeout, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(ApiError::unavailable(format!("{what} unavailable"))),
            Err(_) => Err(ApiError::unavailable(format!(
                "{what} did not answer in time"
            ))),
        }
    }
}

/// `GET /metrics`: the registry after a refresh, in the format `Accept` prefers.
async fn metrics(req: HttpRequest, shared: Data) -> Result<HttpResponse, ApiError> {
    let _permit = admit(&shared)?;
    let Some(m) = &shared.links.metrics else {
        return Err(ApiError::not_found("no metrics registry"));
    };
    if let Some(r) = &shared.links.refresh {
        r.refresh(m).await;
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = ExpositionFormat::negotiate(accept);
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        ))
        .body(m.encode(format)))
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(format!(
        "no route {} {}",
        req.method(),
        req.path()
    )))
}

/// A running HTTP server. Dropping the handle does not stop it; call [`HttpServer::stop`].
#[derive(Debug)]
pub struct HttpServer {
    local_addr: SocketAddr,
    handle: ServerHandle,
}

impl HttpServer {
    /// Binds `addr` (port 0: any free port) and serves the API, the events and `/metrics` there.
    /// Call inside an actix system.
    pub fn start(
        addr: SocketAddr,
        config: HttpConfig,
        links: ApiLinks,
    ) -> Result<HttpServer, HttpError> {
        config.validate()?;
        let bind = |source| HttpError::Bind { addr, source };
        let shared = web::Data::new(Shared {
            links,
            in_flight: Arc::new(AtomicUsize::new(0)),
            streams: Arc::new(AtomicUsize::new(0)),
            config: config.clone(),
        });
        let server =
            actix_web::HttpServer::new(move || {
                App::new()
                    .app_data(shared.clone())
                    .app_data(web::QueryConfig::default().error_handler(|e, _| {
                        ApiError::bad_request(format!("bad query: {e}")).into()
                    }))
                    .service(api::get("/metrics", metrics))
                    .configure(api::routes)
                    .default_service(web::to(not_found))
            })
            .workers(1)
            .max_connections(config.max_connections)
            .keep_alive(KeepAlive::Disabled)
            .client_request_timeout(config.request_timeout)
            .client_disconnect_timeout(Duration::from_secs(1))
            .shutdown_timeout(1)
            .disable_signals()
            .bind(addr)
            .map_err(bind)?;
        let local_addr = server
            .addrs()
            .first()
            .copied()
            .ok_or_else(|| bind(std::io::ErrorKind::AddrNotAvailable.into()))?;
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(server);
        info!(%local_addr, "serving the Beacon API and metrics on http://{local_addr}");
        Ok(HttpServer { local_addr, handle })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting and closes the open connections (event streams included).
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_bounds_are_refused() {
        assert!(HttpConfig::default().validate().is_ok());
        let bad = HttpConfig {
            max_in_flight: 0,
            ..Default::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(HttpError::Zero {
                field: "max_in_flight"
            })
        ));
    }

    #[test]
    fn permits_are_given_back() {
        let c = Arc::new(AtomicUsize::new(0));
        let a = take_permit(&c, 1, "streams").expect("first");
        assert!(take_permit(&c, 1, "streams").is_err());
        assert_eq!(
            c.load(Ordering::Acquire),
            1,
            "a refused permit is given back"
        );
        drop(a);
        assert!(take_permit(&c, 1, "streams").is_ok());
    }

    #[test]
    fn errors_have_the_spec_body() {
        let r = ApiError::not_found("Block not found").error_response();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
}
