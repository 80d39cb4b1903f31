//! The relay's network side on tokio: [`Relay::start`] binds the listen address and accepts
//! clients; each gets one upstream connection and two pumps that forward bytes unchanged (write
//! first, then hand a copy to the pair's [`DialectAnalyzer`]: EWP or ETH), plus a ticker for timeouts. Events go
//! to the [`RelayHandle`]'s bounded channel (never blocking the traffic) and into its
//! [`RelaySummary`]. One tracing span per connection pair.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use tracing::{debug, info, warn, Instrument};

use super::analysis::PairAnalyzer;
use super::config::{RelayConfig, RelayDialect, RelayError};
use super::eth::{DialectAnalyzer, EthPairAnalyzer};
use super::record::{ConnectionId, RelayDirection, RelayEvent};
use super::summary::RelaySummary;

/// Milliseconds since the Unix epoch, now.
fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere cannot leave these counters half-updated in a harmful way.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the accept loop, the pairs and the handle share.
#[derive(Debug)]
struct Shared {
    summary: Mutex<RelaySummary>,
    events: mpsc::Sender<RelayEvent>,
    next_conn: AtomicU64,
}

impl Shared {
    /// Counts the event, then offers it to the consumer without waiting.
    fn emit(&self, event: RelayEvent) {
        let mut summary = lock(&self.summary);
        summary.record(&event);
        match self.events.try_send(event) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(_)) => summary.events_dropped += 1,
        }
    }

    fn emit_all(&self, events: Vec<RelayEvent>) {
        for e in events {
            self.emit(e);
        }
    }
}

/// Starts relays.
#[derive(Debug)]
pub struct Relay;

impl Relay {
    /// Validates `config`, binds the listen address and starts accepting on the current tokio
    /// runtime (an actix system's runtime works too).
    pub async fn start(config: RelayConfig) -> Result<RelayHandle, RelayError> {
        config.validate()?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| RelayError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let listen_addr = listener.local_addr().map_err(|source| RelayError::Bind {
            addr: config.listen,
            source,
        })?;
        let (tx, rx) = mpsc::channel(config.event_capacity);
        let shared = Arc::new(Shared {
            summary: Mutex::new(RelaySummary::default()),
            events: tx,
            next_conn: AtomicU64::new(1),
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        info!(%listen_addr, upstream = %config.upstream, "relay listening");
        let task = tokio::spawn(accept_loop(listener, config, shared.clone(), stop_rx));
        Ok(RelayHandle {
            listen_addr,
            events: rx,
            shared,
            stop: stop_tx,
            task: Some(task),
        })
    }
}

/// A running relay.
#[derive(Debug)]
pub struct RelayHandle {
    listen_addr: SocketAddr,
    events: mpsc::Receiver<RelayEvent>,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RelayHandle {
    /// The address clients connect to (the real port when port 0 was asked).
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    /// The next event, waiting for it; `None` once the relay stopped and every event was taken.
    pub async fn next_event(&mut self) -> Option<RelayEvent> {
        self.events.recv().await
    }

    /// The next event if one is already queued.
    pub fn try_next_event(&mut self) -> Option<RelayEvent> {
        self.events.try_recv().ok()
    }

    /// The counts so far.
    pub fn summary(&self) -> RelaySummary {
        lock(&self.shared.summary).clone()
    }

    /// Stops accepting, closes every pair (each reports `ConnectionClosed` with what is still
    /// unanswered) and returns the final summary. Queued events stay readable.
    pub async fn shutdown(&mut self) -> RelaySummary {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.summary()
    }
}

impl Drop for RelayHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    config: RelayConfig,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let mut pairs = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            Some(_) = pairs.join_next(), if !pairs.is_empty() => {}
            accepted = listener.accept() => {
                let (client, client_addr) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Usually out of file descriptors: back off instead of spinning.
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let conn = ConnectionId(shared.next_conn.fetch_add(1, Ordering::Relaxed));
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    shared.emit(RelayEvent::ConnectionFailed {
                        conn,
                        client: client_addr,
                        reason: format!("over the limit of {} connections", config.max_connections),
                    });
                    continue;
                };
                let span = tracing::info_span!("relay", conn = conn.0, client = %client_addr);
                let pair = relay_pair(conn, client, client_addr, config.clone(), shared.clone(), stop.clone());
                pairs.spawn(async move {
                    pair.await;
                    drop(permit);
                }.instrument(span));
            }
        }
    }
    // Each pair sees the stop signal too and reports its close.
    while pairs.join_next().await.is_some() {}
}

async fn connect_upstream(config: &RelayConfig) -> Result<(TcpStream, SocketAddr), String> {
    let target = config.upstream.host_port();
    let attempt = async {
        let stream = TcpStream::connect(&target).await?;
        let addr = stream.peer_addr()?;
        Ok::<_, std::io::Error>((stream, addr))
    };
    match tokio::time::timeout(config.connect_timeout, attempt).await {
        Ok(Ok(ok)) => Ok(ok),
        Ok(Err(e)) => Err(format!("cannot connect to {}: {e}", config.upstream)),
        Err(_) => Err(format!(
            "connecting to {} timed out after {:?}",
            config.upstream, config.connect_timeout
        )),
    }
}

async fn relay_pair(
    conn: ConnectionId,
    client: TcpStream,
    client_addr: SocketAddr,
    config: RelayConfig,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let (upstream, upstream_addr) = match connect_upstream(&config).await {
        Ok(ok) => ok,
        Err(reason) => {
            warn!(%reason, "upstream unreachable; closing the client");
            shared.emit(RelayEvent::ConnectionFailed {
                conn,
                client: client_addr,
                reason,
            });
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    shared.emit(RelayEvent::ConnectionOpened {
        conn,
        client: client_addr,
        upstream: upstream_addr,
    });
    let settings = config.analyzer_settings();
    let analyzer = Arc::new(Mutex::new(match config.dialect {
        RelayDialect::Ewp => DialectAnalyzer::Ewp(PairAnalyzer::new(conn, settings)),
        RelayDialect::Eth => {
            DialectAnalyzer::Eth(EthPairAnalyzer::new(conn, settings, config.eth_limits))
        }
    }));
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    let c2s = pump(
        client_read,
        upstream_write,
        RelayDirection::ClientToServer,
        config.read_buffer,
        analyzer.clone(),
        shared.clone(),
    );
    let s2c = pump(
        upstream_read,
        client_write,
        RelayDirection::ServerToClient,
        config.read_buffer,
        analyzer.clone(),
        shared.clone(),
    );
    let tick = config
        .request_timeout
        .min(config.ping_timeout)
        .div_f32(4.0)
        .clamp(Duration::from_millis(10), Duration::from_secs(1));
    let ticker = async {
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let events = lock(&analyzer).check_timeouts(Instant::now(), unix_ms());
            shared.emit_all(events);
        }
    };
    tokio::select! {
        _ = async { tokio::join!(c2s, s2c) } => debug!("both directions ended"),
        _ = ticker => {}
        _ = stop.changed() => debug!("relay stopping"),
    }
    // Answers that arrived by now are matched; what is left is reported once, here.
    let mut analyzer = lock(&analyzer);
    let events = analyzer.check_timeouts(Instant::now(), unix_ms());
    let closed = analyzer.finish(Instant::now());
    drop(analyzer);
    shared.emit_all(events);
    info!(event = %closed, "connection pair closed");
    shared.emit(closed);
}

/// Forwards `from` → `to` unchanged until EOF or an error, then half-closes `to`.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    direction: RelayDirection,
    read_buffer: usize,
    analyzer: Arc<Mutex<DialectAnalyzer>>,
    shared: Arc<Shared>,
) {
    let mut buf = vec![0u8; read_buffer];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                debug!(%direction, error = %e, "read ended");
                break;
            }
        };
        // Forward first: analysis never delays or alters the bytes.
        if let Err(e) = to.write_all(&buf[..n]).await {
            debug!(%direction, error = %e, "write ended");
            break;
        }
        let events = lock(&analyzer).on_bytes(direction, &buf[..n], Instant::now(), unix_ms());
        shared.emit_all(events);
    }
    let _ = to.shutdown().await;
}
