//! Typed RPC requests and responses exchanged between actors ([`RpcRequest`], [`RpcResponse`]),
//! with their mapping to the codec's [`RpcPayload`]. No messages are handled here.

use hobbits_chain::rpc::{
    AttestationResponse, BeaconStates, BlockBodies, BlockHeaders, GetAttestation, GetBeaconStates,
    GetBlockBodies, GetBlockHeaders, GetStatus,
};
use hobbits_codec::rpc::{RpcMethod, RpcPayload};

/// A request this node sends to a peer (HELLO and GOODBYE are the session's own business).
#[derive(Debug, Clone, PartialEq)]
pub enum RpcRequest {
    /// 2 GET_STATUS.
    Status(GetStatus),
    /// 10 GET_BLOCK_HEADERS.
    BlockHeaders(GetBlockHeaders),
    /// 12 GET_BLOCK_BODIES.
    BlockBodies(GetBlockBodies),
    /// 14 GET_ATTESTATION.
    Attestation(GetAttestation),
    /// 16 GET_BEACON_STATES.
    BeaconStates(GetBeaconStates),
}

/// A peer's response to an [`RpcRequest`].
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "built once per response and moved, not stored in bulk"
)]
pub enum RpcResponse {
    /// 2 GET_STATUS (same container as the request).
    Status(GetStatus),
    /// 11 BLOCK_HEADERS.
    BlockHeaders(BlockHeaders),
    /// 13 BLOCK_BODIES.
    BlockBodies(BlockBodies),
    /// 15 ATTESTATION.
    Attestation(AttestationResponse),
    /// 17 BEACON_STATES.
    BeaconStates(BeaconStates),
}

impl RpcRequest {
    /// The request's method.
    pub fn method(&self) -> RpcMethod {
        match self {
            RpcRequest::Status(_) => RpcMethod::GetStatus,
            RpcRequest::BlockHeaders(_) => RpcMethod::GetBlockHeaders,
            RpcRequest::BlockBodies(_) => RpcMethod::GetBlockBodies,
            RpcRequest::Attestation(_) => RpcMethod::GetAttestation,
            RpcRequest::BeaconStates(_) => RpcMethod::GetBeaconStates,
        }
    }

    /// The method of the expected response.
    pub fn response_method(&self) -> RpcMethod {
        self.method().response().unwrap_or(RpcMethod::Unknown(0))
    }

    /// The payload to put on the wire.
    pub fn into_payload(self) -> RpcPayload {
        match self {
            RpcRequest::Status(p) => RpcPayload::GetStatus(p),
            RpcRequest::BlockHeaders(p) => RpcPayload::GetBlockHeaders(p),
            RpcRequest::BlockBodies(p) => RpcPayload::GetBlockBodies(p),
            RpcRequest::Attestation(p) => RpcPayload::GetAttestation(p),
            RpcRequest::BeaconStates(p) => RpcPayload::GetBeaconStates(p),
        }
    }

    /// A request payload received from a peer (None for HELLO, GOODBYE and responses).
    pub fn from_payload(payload: RpcPayload) -> Option<Self> {
        Some(match payload {
            RpcPayload::GetStatus(p) => RpcRequest::Status(p),
            RpcPayload::GetBlockHeaders(p) => RpcRequest::BlockHeaders(p),
            RpcPayload::GetBlockBodies(p) => RpcRequest::BlockBodies(p),
            RpcPayload::GetAttestation(p) => RpcRequest::Attestation(p),
            RpcPayload::GetBeaconStates(p) => RpcRequest::BeaconStates(p),
            _ => return None,
        })
    }
}

impl RpcResponse {
    /// The response's method.
    pub fn method(&self) -> RpcMethod {
        match self {
            RpcResponse::Status(_) => RpcMethod::GetStatus,
            RpcResponse::BlockHeaders(_) => RpcMethod::BlockHeaders,
            RpcResponse::BlockBodies(_) => RpcMethod::BlockBodies,
            RpcResponse::Attestation(_) => RpcMethod::Attestation,
            RpcResponse::BeaconStates(_) => RpcMethod::BeaconStates,
        }
    }

    /// The payload to put on the wire.
    pub fn into_payload(self) -> RpcPayload {
        match self {
            RpcResponse::Status(p) => RpcPayload::GetStatus(p),
            RpcResponse::BlockHeaders(p) => RpcPayload::BlockHeaders(p),
            RpcResponse::BlockBodies(p) => RpcPayload::BlockBodies(p),
            RpcResponse::Attestation(p) => RpcPayload::Attestation(p),
            RpcResponse::BeaconStates(p) => RpcPayload::BeaconStates(p),
        }
    }

    /// A response payload received from a peer (None for anything else).
    pub fn from_payload(payload: RpcPayload) -> Option<Self> {
        Some(match payload {
            RpcPayload::GetStatus(p) => RpcResponse::Status(p),
            RpcPayload::BlockHeaders(p) => RpcResponse::BlockHeaders(p),
            RpcPayload::BlockBodies(p) => RpcResponse::BlockBodies(p),
            RpcPayload::Attestation(p) => RpcResponse::Attestation(p),
            RpcPayload::BeaconStates(p) => RpcResponse::BeaconStates(p),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hobbits_chain::{Root, Slot};

    #[test]
    fn requests_round_trip_through_payloads_and_name_their_response() {
        let req = RpcRequest::BlockHeaders(GetBlockHeaders {
            start_root: Root::ZERO,
            start_slot: Slot(3),
            max: 5,
            skip: 0,
            direction: 1,
        });
        assert_eq!(req.response_method(), RpcMethod::BlockHeaders);
        let back = RpcRequest::from_payload(req.clone().into_payload()).expect("request");
        assert_eq!(back, req);
        let status = RpcResponse::Status(GetStatus::new("x", 1));
        assert_eq!(
            RpcResponse::from_payload(status.clone().into_payload()),
            Some(status)
        );
        assert_eq!(
            RpcRequest::from_payload(RpcPayload::BlockHeaders(Default::default())),
            None
        );
    }
}
