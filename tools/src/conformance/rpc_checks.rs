//! Checks on the handshake and status methods: `hello` (HELLO answered by a decodable HELLO with
//! the same request id, any tolerated body shape, the shape reported) and `get_status`
//! (GET_STATUS answered with a user agent and a plausible millisecond timestamp).
//!
//! Sends: HELLO, GET_STATUS. Expects: HELLO, GET_STATUS with our request ids.

use std::time::{SystemTime, UNIX_EPOCH};

use hobbits_chain::rpc::GetStatus;
use hobbits_codec::rpc::{RpcMethod, RpcPayload};

use super::conn::{decode_hello, not_our_hello, ECHO};
use super::{CheckContext, CheckOutcome};

/// User agent the checker sends in GET_STATUS.
pub fn checker_user_agent() -> String {
    format!("hobbits-node-conformance/{}", env!("CARGO_PKG_VERSION"))
}

/// 2019-01-01T00:00:00Z in milliseconds: no Hobbits node ran earlier.
pub const EARLIEST_PLAUSIBLE_MS: u64 = 1_546_300_800_000;
/// Clock skew tolerated into the future.
pub const MAX_FUTURE_SKEW_MS: u64 = 24 * 3600 * 1000;

/// Milliseconds since the Unix epoch by our clock (0 before it).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Judges a GET_STATUS timestamp (milliseconds since the Unix epoch) against our clock.
pub fn judge_timestamp(timestamp: u64, now: u64) -> Result<String, String> {
    if (EARLIEST_PLAUSIBLE_MS / 1000..=(now + MAX_FUTURE_SKEW_MS) / 1000).contains(&timestamp) {
        return Err(format!(
            "timestamp {timestamp} looks like seconds, the spec asks for milliseconds"
        ));
    }
    if timestamp < EARLIEST_PLAUSIBLE_MS {
        return Err(format!("timestamp {timestamp} ms is before 2019"));
    }
    if timestamp > now + MAX_FUTURE_SKEW_MS {
        return Err(format!(
            "timestamp {timestamp} ms is more than a day ahead of ours ({now})"
        ));
    }
    let skew = timestamp as i128 - now as i128;
    Ok(format!("timestamp {timestamp} ms (skew {skew} ms)"))
}

/// HELLO with the configured ids: answered with a decodable HELLO carrying our request id.
pub async fn hello(ctx: &mut CheckContext) -> CheckOutcome {
    let mut probe = try_or_fail!(ctx.connect().await);
    let ours = ctx.config.initial_hello();
    let id = try_or_fail!(probe.send_request(&RpcPayload::Hello(ours.clone())).await);
    let env = try_or_fail!(probe.expect_rpc(RpcMethod::Hello, id, Some(&ours)).await);
    let theirs = try_or_fail!(decode_hello(&env));
    try_or_fail!(not_our_hello(&ours, &theirs.hello));
    let evidence = format!("reply with our id {}; {}", id.0, theirs.describe());
    ctx.peer_hello = Some(theirs);
    CheckOutcome::pass(evidence)
}

/// GET_STATUS after HELLO: answered with a non-empty user agent and a millisecond timestamp close
/// to our clock.
pub async fn get_status(ctx: &mut CheckContext) -> CheckOutcome {
    let (mut probe, _) = try_or_fail!(ctx.connect_handshaked().await);
    let request = GetStatus::new(&checker_user_agent(), now_ms());
    let (our_agent, our_time) = (request.user_agent.clone(), request.timestamp);
    let id = try_or_fail!(probe.send_request(&RpcPayload::GetStatus(request)).await);
    let env = try_or_fail!(
        probe
            .expect_rpc(RpcMethod::GetStatus, id, Some(&ctx.our_hello()))
            .await
    );
    let decoded = try_or_fail!(env
        .decode_payload()
        .map_err(|e| format!("GET_STATUS reply does not decode: {e}")));
    let RpcPayload::GetStatus(status) = decoded.payload else {
        return CheckOutcome::fail("GET_STATUS reply is not a status");
    };
    if status.user_agent == our_agent {
        return CheckOutcome::fail(format!(
            "{ECHO} the status carries our own user agent {:?} (timestamp {}, ours {our_time})",
            status.user_agent_lossy(),
            status.timestamp
        ));
    }
    if status.user_agent.is_empty() {
        return CheckOutcome::fail("user agent is empty");
    }
    let when = try_or_fail!(judge_timestamp(status.timestamp, now_ms()));
    CheckOutcome::pass(format!(
        "user agent {:?}, {when}, shape {}",
        status.user_agent_lossy(),
        decoded.shape.name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_seconds_or_far_off_are_refused() {
        let now = 1_700_000_000_000;
        assert!(judge_timestamp(now - 5, now).is_ok());
        assert!(judge_timestamp(now + 1000, now).is_ok());
        assert!(judge_timestamp(now / 1000, now)
            .expect_err("must fail")
            .contains("seconds"));
        assert!(judge_timestamp(0, now).is_err());
        assert!(judge_timestamp(now + 2 * MAX_FUTURE_SKEW_MS, now).is_err());
    }
}
