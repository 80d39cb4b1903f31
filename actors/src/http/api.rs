//! The Beacon Node API handlers (paths and shapes as in `ethereum/beacon-APIs`; docs/API.md):
//! `/eth/v1/node/{identity, peers, peers/{peer_id}, peer_count, version, syncing, health}`,
//! `/eth/v1/beacon/{genesis, headers, headers/{block_id}, blocks/{block_id}/root,
//! states/{state_id}/finality_checkpoints}`, `/eth/v2/beacon/blocks/{block_id}` (JSON, or SSZ with
//! `Accept: application/octet-stream`), `/eth/v1/events`, and 501 for the families the node does
//! not keep (states, validators, pools, debug, config). Every answer is a `{"data": ..}` envelope
//! or the spec's `{"code", "message"}` error. Sends `GetPeers` (manager), `GetSyncState` (sync)
//! and the store's queries, each bounded by `HttpConfig::request_timeout`.

use std::collections::HashMap;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::stream;
use hobbits_chain::{Root, Slot};
use hobbits_codec::uri::PeerUri;
use serde_json::{json, Value};
use ssz::Encode;
use tokio::sync::broadcast::error::RecvError;

use super::events::Topic;
use super::json::{checkpoint, header_entry, int, root, signed_block};
use super::{admit, take_permit, ApiError, Data};
use crate::peer_manager::{GetPeers, PeerInfo};
use crate::peer_table::{Dialect, Direction};
use crate::store::{BlockAt, FoundBlock};
use crate::sync::{GetSyncState, SyncState};

type Query = web::Query<HashMap<String, String>>;
type Answer = Result<HttpResponse, ApiError>;

/// The fork name in `version` and `Eth-Consensus-Version` (the v0.8.1 draft of phase 0).
const FORK: &str = "phase0";

/// A `GET` resource; any other method is 405 with the error body.
pub(super) fn get<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler))
        .default_service(web::to(method_not_allowed))
}

async fn method_not_allowed(req: HttpRequest) -> Answer {
    Err(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} {}: only GET is served", req.method(), req.path()),
    ))
}

/// Registers every route of the API.
pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(get("/eth/v1/node/identity", identity))
        .service(get("/eth/v1/node/peers", peers))
        .service(get("/eth/v1/node/peers/{peer_id}", peer))
        .service(get("/eth/v1/node/peer_count", peer_count))
        .service(get("/eth/v1/node/version", version))
        .service(get("/eth/v1/node/syncing", syncing))
        .service(get("/eth/v1/node/health", health))
        .service(get("/eth/v1/beacon/genesis", genesis))
        .service(get("/eth/v1/beacon/headers", headers))
        .service(get("/eth/v1/beacon/headers/{block_id}", header))
        .service(get("/eth/v2/beacon/blocks/{block_id}", block))
        .service(get("/eth/v1/beacon/blocks/{block_id}/root", block_root))
        .service(get(
            "/eth/v1/beacon/states/{state_id}/finality_checkpoints",
            finality,
        ))
        .service(get("/eth/v1/events", events));
    for family in [
        "/eth/v1/beacon/states/{tail:.*}",
        "/eth/v2/debug/{tail:.*}",
        "/eth/v1/debug/{tail:.*}",
        "/eth/v1/validator/{tail:.*}",
        "/eth/v2/validator/{tail:.*}",
        "/eth/v3/validator/{tail:.*}",
        "/eth/v1/beacon/pool/{tail:.*}",
        "/eth/v1/config/{tail:.*}",
    ] {
        cfg.route(family, web::route().to(not_kept));
    }
}

fn ok(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body.to_string())
}

async fn not_kept(req: HttpRequest) -> Answer {
    Err(ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        format!(
            "{} is not served: a Hobbits node keeps blocks, not states or validators",
            req.path()
        ),
    ))
}

/// A peer's id in the API: its node id (16 hex digits) once it sent one, else `conn-N`.
fn peer_id(p: &PeerInfo) -> String {
    p.node_id
        .map_or_else(|| format!("conn-{}", p.peer.0), |n| n.to_string())
}

fn peer_json(p: &PeerInfo) -> Value {
    let address = match p.dialect {
        Dialect::Hobbits => PeerUri::from_socket_addr(p.addr).to_string(),
        Dialect::Eth => format!("eth+tcp://{}", p.addr),
    };
    json!({
        "peer_id": peer_id(p),
        "enr": null,
        "last_seen_p2p_address": address,
        "dialect": p.dialect.to_string(),
        "state": if p.handshaked { "connected" } else { "connecting" },
        "direction": match p.direction {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        },
    })
}

async fn identity(shared: Data) -> Answer {
    let _permit = admit(&shared)?;
    let l = &shared.links;
    // The Hobbits address first, then the eth2 RPC raw-TCP one when the node listens on it.
    let addresses: Vec<String> =
        std::iter::once(PeerUri::from_socket_addr(l.listen_addr).to_string())
            .chain(l.eth_listen_addr.map(|a| format!("eth+tcp://{a}")))
            .collect();
    Ok(ok(json!({ "data": {
        "peer_id": l.node_id.to_string(),
        "enr": "",
        "p2p_addresses": addresses,
        "discovery_addresses": [],
        "metadata": { "seq_number": "0", "attnets": "0x0000000000000000" },
    }})))
}

async fn all_peers(shared: &Data) -> Result<Vec<PeerInfo>, ApiError> {
    shared
        .ask("peer manager", shared.links.manager.send(GetPeers))
        .await
}

/// The values of a repeatable, comma-separable query parameter.
fn values<'a>(q: &'a HashMap<String, String>, key: &str) -> Vec<&'a str> {
    q.get(key)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

async fn peers(shared: Data, q: Query) -> Answer {
    let _permit = admit(&shared)?;
    let states = values(&q, "state");
    let directions = values(&q, "direction");
    for s in &states {
        if !["disconnected", "connecting", "connected", "disconnecting"].contains(s) {
            return Err(ApiError::bad_request(format!("Invalid state: {s}")));
        }
    }
    for d in &directions {
        if !["inbound", "outbound"].contains(d) {
            return Err(ApiError::bad_request(format!("Invalid direction: {d}")));
        }
    }
    let list: Vec<Value> = all_peers(&shared)
        .await?
        .iter()
        .map(peer_json)
        .filter(|p| {
            let has = |key: &str, wanted: &[&str]| {
                wanted.is_empty() || wanted.iter().any(|w| p[key] == *w)
            };
            has("state", &states) && has("direction", &directions)
        })
        .collect();
    let count = list.len() as u64;
    Ok(ok(json!({ "data": list, "meta": { "count": int(count) } })))
}

async fn peer(shared: Data, path: web::Path<String>) -> Answer {
    let _permit = admit(&shared)?;
    let id = path.into_inner();
    let valid = (id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        || id
            .strip_prefix("conn-")
            .is_some_and(|n| n.parse::<u64>().is_ok());
    if !valid {
        return Err(ApiError::bad_request(format!("Invalid peer ID: {id}")));
    }
    let id = id.to_ascii_lowercase();
    let peers = all_peers(&shared).await?;
    let p = peers
        .iter()
        .find(|p| peer_id(p) == id)
        .ok_or_else(|| ApiError::not_found("Peer not found"))?;
    Ok(ok(json!({ "data": peer_json(p) })))
}

async fn peer_count(shared: Data) -> Answer {
    let _permit = admit(&shared)?;
    let peers = all_peers(&shared).await?;
    let connected = peers.iter().filter(|p| p.handshaked).count() as u64;
    let connecting = peers.len() as u64 - connected;
    Ok(ok(json!({ "data": {
        "disconnected": "0",
        "connecting": int(connecting),
        "connected": int(connected),
        "disconnecting": "0",
    }})))
}

async fn version(shared: Data) -> Answer {
    let _permit = admit(&shared)?;
    Ok(ok(
        json!({ "data": { "version": shared.links.user_agent } }),
    ))
}

/// (head slot, sync target when a range sync runs).
async fn sync_view(shared: &Data) -> Result<(Slot, Option<Slot>), ApiError> {
    let head = shared.ask("chain store", shared.links.store.head()).await?;
    let target = match &shared.links.sync {
        Some(s) => match shared.ask("sync", s.send(GetSyncState)).await?.state {
            SyncState::Syncing { target_slot, .. } => Some(target_slot),
            SyncState::Idle => None,
        },
        None => None,
    };
    Ok((head.slot, target))
}

async fn syncing(shared: Data) -> Answer {
    let _permit = admit(&shared)?;
    let (head, target) = sync_view(&shared).await?;
    let distance = target.map_or(0, |t| t.0.saturating_sub(head.0));
    Ok(ok(json!({ "data": {
        "head_slot": int(head.0),
        "sync_distance": int(distance),
        "is_syncing": target.is_some(),
        "is_optimistic": false,
        "el_offline": false,
    }})))
}

/// 200 ready, 206 syncing (or `syncing_status`), 503 when the node cannot answer.
async fn health(shared: Data, q: Query) -> Answer {
    let _permit = admit(&shared)?;
    let syncing_status = match q.get("syncing_status") {
        Some(v) => Some(
            v.parse::<u16>()
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok())
                .filter(|c| (100..600).contains(&c.as_u16()))
                .ok_or_else(|| ApiError::bad_request(format!("Invalid syncing_status: {v}")))?,
        ),
        None => None,
    };
    let status = match sync_view(&shared).await {
        Ok((_, None)) => StatusCode::OK,
        Ok((_, Some(_))) => syncing_status.unwrap_or(StatusCode::PARTIAL_CONTENT),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    Ok(HttpResponse::build(status).finish())
}

async fn genesis(shared: Data) -> Answer {
    let _permit = admit(&shared)?;
    let l = &shared.links;
    Ok(ok(json!({ "data": {
        "genesis_time": int(l.genesis_time),
        "genesis_validators_root": root(&Root::default()),
        "genesis_fork_version": "0x00000000",
        "genesis_block_root": root(&l.genesis_root),
    }})))
}

/// The Beacon API's `block_id`: `head`, `genesis`, `finalized`, a slot or a `0x` root.
pub(crate) fn parse_block_id(id: &str) -> Result<BlockAt, ApiError> {
    let invalid = || ApiError::bad_request(format!("Invalid block ID: {id}"));
    match id {
        "head" => Ok(BlockAt::Head),
        "genesis" => Ok(BlockAt::Genesis),
        "finalized" => Ok(BlockAt::Finalized),
        "justified" => Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "the justified block is not tracked; use finalized",
        )),
        _ if id.starts_with("0x") => {
            if id.len() != 66 {
                return Err(invalid());
            }
            id.parse::<Root>().map(BlockAt::Root).map_err(|_| invalid())
        }
        _ if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => id
            .parse::<u64>()
            .map(|s| BlockAt::Slot(Slot(s)))
            .map_err(|_| invalid()),
        _ => Err(invalid()),
    }
}

async fn find(shared: &Data, at: BlockAt) -> Result<Option<FoundBlock>, ApiError> {
    shared
        .ask("chain store", shared.links.store.block_at(at))
        .await
}

async fn find_by_id(shared: &Data, id: &str) -> Result<FoundBlock, ApiError> {
    let at = parse_block_id(id)?;
    find(shared, at)
        .await?
        .ok_or_else(|| ApiError::not_found("Block not found"))
}

async fn headers(shared: Data, q: Query) -> Answer {
    let _permit = admit(&shared)?;
    let at = match q.get("slot") {
        Some(s) => BlockAt::Slot(Slot(
            s.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("Invalid slot: {s}")))?,
        )),
        None => BlockAt::Head,
    };
    let parent = match q.get("parent_root") {
        Some(p) => Some(
            p.parse::<Root>()
                .map_err(|_| ApiError::bad_request(format!("Invalid parent_root: {p}")))?,
        ),
        None => None,
    };
    let found: Vec<FoundBlock> = find(&shared, at)
        .await?
        .into_iter()
        .filter(|f| parent.is_none_or(|p| f.block.parent_root == p))
        .collect();
    let finalized = !found.is_empty() && found.iter().all(|f| f.finalized);
    let data: Vec<Value> = found
        .iter()
        .map(|f| header_entry(&f.root, &f.block, f.canonical))
        .collect();
    Ok(ok(json!({
        "execution_optimistic": false,
        "finalized": finalized,
        "data": data,
    })))
}

async fn header(shared: Data, path: web::Path<String>) -> Answer {
    let _permit = admit(&shared)?;
    let f = find_by_id(&shared, &path).await?;
    Ok(ok(json!({
        "execution_optimistic": false,
        "finalized": f.finalized,
        "data": header_entry(&f.root, &f.block, f.canonical),
    })))
}

fn wants_ssz(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            a.split(',').any(|r| {
                r.split(';').next().map(str::trim) == Some("application/octet-stream")
                    && !r.replace(' ', "").contains("q=0")
            })
        })
}

async fn block(req: HttpRequest, shared: Data, path: web::Path<String>) -> Answer {
    let _permit = admit(&shared)?;
    let f = find_by_id(&shared, &path).await?;
    if wants_ssz(&req) {
        return Ok(HttpResponse::Ok()
            .content_type("application/octet-stream")
            .insert_header(("Eth-Consensus-Version", HeaderValue::from_static(FORK)))
            .body(f.block.as_ssz_bytes()));
    }
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Eth-Consensus-Version", HeaderValue::from_static(FORK)))
        .body(
            json!({
                "version": FORK,
                "execution_optimistic": false,
                "finalized": f.finalized,
                "data": signed_block(&f.block),
            })
            .to_string(),
        ))
}

async fn block_root(shared: Data, path: web::Path<String>) -> Answer {
    let _permit = admit(&shared)?;
    let f = find_by_id(&shared, &path).await?;
    Ok(ok(json!({
        "execution_optimistic": false,
        "finalized": f.finalized,
        "data": { "root": root(&f.root) },
    })))
}

async fn finality(shared: Data, path: web::Path<String>) -> Answer {
    let _permit = admit(&shared)?;
    let id = path.into_inner();
    let c = match id.as_str() {
        "head" | "finalized" | "justified" => {
            shared
                .ask("chain store", shared.links.store.checkpoints())
                .await?
        }
        "genesis" => crate::store::Checkpoints {
            previous_justified: Default::default(),
            current_justified: Default::default(),
            finalized: Default::default(),
        },
        _ if id.starts_with("0x") || id.bytes().all(|b| b.is_ascii_digit()) && !id.is_empty() => {
            return Err(ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "states are not kept: only head, finalized, justified and genesis are served",
            ))
        }
        _ => return Err(ApiError::bad_request(format!("Invalid state ID: {id}"))),
    };
    Ok(ok(json!({
        "execution_optimistic": false,
        "finalized": id != "head",
        "data": {
            "previous_justified": checkpoint(&c.previous_justified),
            "current_justified": checkpoint(&c.current_justified),
            "finalized": checkpoint(&c.finalized),
        },
    })))
}

/// `GET /eth/v1/events?topics=a,b`: server-sent events until the client leaves or falls behind.
async fn events(shared: Data, q: Query) -> Answer {
    let names = values(&q, "topics");
    if names.is_empty() {
        return Err(ApiError::bad_request("topics is required"));
    }
    let mut topics = Vec::new();
    for n in names {
        topics.push(
            Topic::parse(n).ok_or_else(|| ApiError::bad_request(format!("Invalid topic: {n}")))?,
        );
    }
    let permit = take_permit(
        &shared.streams,
        shared.config.max_event_streams,
        "event streams",
    )?;
    let rx = shared.links.events.subscribe();
    let heartbeat = shared.config.event_heartbeat;
    let body = stream::unfold((rx, permit), move |(mut rx, permit)| {
        let topics = topics.clone();
        async move {
            loop {
                // A comment line when no event came for a while: a client that left is noticed
                // at that write, and its stream and permit are dropped.
                let next = match tokio::time::timeout(heartbeat, rx.recv()).await {
                    Err(_) => return Some((Ok(Bytes::from_static(b":\n\n")), (rx, permit))),
                    Ok(next) => next,
                };
                match next {
                    Ok(e) if topics.contains(&e.topic) => {
                        return Some((Ok::<Bytes, ApiError>(e.to_sse()), (rx, permit)))
                    }
                    Ok(_) => continue,
                    // Fell behind, or the node is stopping: end the stream.
                    Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .streaming(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_ids() {
        assert_eq!(parse_block_id("head"), Ok(BlockAt::Head));
        assert_eq!(parse_block_id("genesis"), Ok(BlockAt::Genesis));
        assert_eq!(parse_block_id("finalized"), Ok(BlockAt::Finalized));
        assert_eq!(parse_block_id("12"), Ok(BlockAt::Slot(Slot(12))));
        let r = format!("0x{}", "ab".repeat(32));
        assert_eq!(parse_block_id(&r), Ok(BlockAt::Root(Root([0xab; 32]))));
        for bad in ["", "-1", "0x12", "head1", "99999999999999999999999", "0xzz"] {
            let e = parse_block_id(bad).expect_err(bad);
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
        }
        assert_eq!(
            parse_block_id("justified").map_err(|e| e.status),
            Err(StatusCode::NOT_IMPLEMENTED)
        );
    }
}
