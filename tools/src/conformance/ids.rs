//! [`CheckId`]: the name, description and run order of every conformance check.

/// The checks, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckId {
    /// A PING is answered by a `pong` with the same body.
    PingEcho,
    /// Two PINGs in one write are both answered, in order.
    PingPipelined,
    /// A PING split over several writes is answered.
    PingSplit,
    /// A `pong` is not answered.
    PongIgnored,
    /// HELLO is answered with a decodable HELLO carrying the same id.
    Hello,
    /// GET_STATUS is answered with a user agent and a plausible timestamp.
    GetStatus,
    /// Ascending headers from slot 0 (skip 0) link up to the peer's best block.
    HeadersAscending,
    /// Descending headers from the best block (by root and by slot) start at best_root and link.
    HeadersDescending,
    /// Skip 1 and 2, both directions, select the blocks the skip_slots rule selects.
    HeadersSkip,
    /// Small `max` values are respected.
    HeadersMax,
    /// GET_BLOCK_BODIES answers the blocks of the headers served for the same query.
    BlockBodies,
    /// GET_BEACON_STATES answers the states asked for (skipped when not offered).
    BeaconStates,
    /// Pipelined requests are each answered once with their id, in any order.
    RequestIds,
    /// A block published on one connection reaches a second one exactly once, correctly hashed.
    GossipRelayed,
    /// A block with a lying message_hash is not relayed.
    GossipLyingHash,
    /// GET_ATTESTATION serves an attestation gossiped to the peer by its hash.
    GetAttestation,
    /// An unknown RPC method id leaves the connection open and answering PING and GET_STATUS.
    UnknownMethod,
    /// A HELLO on another network earns GOODBYE 2.
    GoodbyeWrongNetwork,
    /// A HELLO with a finalized root not in the peer's chain earns GOODBYE 2.
    GoodbyeUnknownFinalized,
    /// A malformed frame makes the peer close that connection.
    MalformedFrameCloses,
    /// After a malformed frame the peer still answers a PING on a fresh connection.
    AcceptsAfterMalformed,
    /// Fixture mode: the peer's HELLO comes to name the fixture's head.
    FixtureSynced,
    /// Fixture mode: the peer fetched every block, and how it asked (ranges, skips).
    FixtureRequests,
    /// ETH: the acceptor waits for our hello, then answers with its own.
    EthHello,
    /// ETH: get_status answered with a user agent and a plausible timestamp.
    EthGetStatus,
    /// ETH: beacon_block_roots ascending, inside the range asked, naming the hello's head.
    EthRoots,
    /// ETH: a count above 32768 earns 20; 32768 is served.
    EthRootsCap,
    /// ETH: headers by root match the roots and link; skip_slots follows the collapse rule.
    EthHeaders,
    /// ETH: bodies in request order, matching body_root, a zero body for an unknown root.
    EthBodies,
    /// ETH: beacon_chain_state earns an error code, not silence.
    EthChainState,
    /// ETH: four requests in one write, each answered once with its id.
    EthPipelined,
    /// ETH: an unknown method id earns 30 and the connection stays.
    EthUnknownMethod,
    /// ETH: a malformed SSZ body earns 10 and the connection stays.
    EthMalformedSsz,
    /// ETH: a hello on another network earns goodbye 2.
    EthGoodbyeWrongNetwork,
    /// ETH: a hello with a finalized root not in the peer's chain earns goodbye 2.
    EthGoodbyeUnknownFinalized,
    /// ETH: a wrong prefix closes that connection.
    EthBadPrefixCloses,
    /// ETH: after a wrong prefix a fresh connection is served.
    EthAcceptsAfterBadPrefix,
}

impl CheckId {
    /// Every check in run order (the malformed-frame checks last: a peer may ban the offender).
    pub const ALL: [CheckId; 21] = [
        CheckId::PingEcho,
        CheckId::PingPipelined,
        CheckId::PingSplit,
        CheckId::PongIgnored,
        CheckId::Hello,
        CheckId::GetStatus,
        CheckId::HeadersAscending,
        CheckId::HeadersDescending,
        CheckId::HeadersSkip,
        CheckId::HeadersMax,
        CheckId::BlockBodies,
        CheckId::BeaconStates,
        CheckId::RequestIds,
        CheckId::GossipRelayed,
        CheckId::GetAttestation,
        CheckId::UnknownMethod,
        CheckId::GoodbyeWrongNetwork,
        CheckId::GoodbyeUnknownFinalized,
        CheckId::GossipLyingHash,
        CheckId::MalformedFrameCloses,
        CheckId::AcceptsAfterMalformed,
    ];

    /// The checks of the ETH raw-TCP dialect (`conformance eth+tcp://`), in run order (the
    /// wrong-prefix checks last).
    pub const ETH: [CheckId; 14] = [
        CheckId::EthHello,
        CheckId::EthGetStatus,
        CheckId::EthRoots,
        CheckId::EthRootsCap,
        CheckId::EthHeaders,
        CheckId::EthBodies,
        CheckId::EthChainState,
        CheckId::EthPipelined,
        CheckId::EthUnknownMethod,
        CheckId::EthMalformedSsz,
        CheckId::EthGoodbyeWrongNetwork,
        CheckId::EthGoodbyeUnknownFinalized,
        CheckId::EthBadPrefixCloses,
        CheckId::EthAcceptsAfterBadPrefix,
    ];

    /// The checks of fixture mode (`--serve-chain`), in report order.
    pub const FIXTURE: [CheckId; 2] = [CheckId::FixtureSynced, CheckId::FixtureRequests];

    /// A stable snake_case name (used in JSON and the table).
    pub fn name(self) -> &'static str {
        match self {
            CheckId::PingEcho => "ping_echo",
            CheckId::PingPipelined => "ping_pipelined",
            CheckId::PingSplit => "ping_split",
            CheckId::PongIgnored => "pong_ignored",
            CheckId::Hello => "hello",
            CheckId::GetStatus => "get_status",
            CheckId::HeadersAscending => "headers_ascending",
            CheckId::HeadersDescending => "headers_descending",
            CheckId::HeadersSkip => "headers_skip",
            CheckId::HeadersMax => "headers_max",
            CheckId::BlockBodies => "block_bodies",
            CheckId::BeaconStates => "beacon_states",
            CheckId::RequestIds => "request_ids",
            CheckId::GossipRelayed => "gossip_relayed",
            CheckId::GossipLyingHash => "gossip_lying_hash",
            CheckId::GetAttestation => "get_attestation",
            CheckId::UnknownMethod => "unknown_method",
            CheckId::GoodbyeWrongNetwork => "goodbye_wrong_network",
            CheckId::GoodbyeUnknownFinalized => "goodbye_unknown_finalized",
            CheckId::MalformedFrameCloses => "malformed_frame_closes",
            CheckId::AcceptsAfterMalformed => "accepts_after_malformed",
            CheckId::FixtureSynced => "fixture_synced",
            CheckId::FixtureRequests => "fixture_requests",
            CheckId::EthHello => "eth_hello",
            CheckId::EthGetStatus => "eth_get_status",
            CheckId::EthRoots => "eth_roots",
            CheckId::EthRootsCap => "eth_roots_cap",
            CheckId::EthHeaders => "eth_headers",
            CheckId::EthBodies => "eth_bodies",
            CheckId::EthChainState => "eth_chain_state",
            CheckId::EthPipelined => "eth_pipelined",
            CheckId::EthUnknownMethod => "eth_unknown_method",
            CheckId::EthMalformedSsz => "eth_malformed_ssz",
            CheckId::EthGoodbyeWrongNetwork => "eth_goodbye_wrong_network",
            CheckId::EthGoodbyeUnknownFinalized => "eth_goodbye_unknown_finalized",
            CheckId::EthBadPrefixCloses => "eth_bad_prefix_closes",
            CheckId::EthAcceptsAfterBadPrefix => "eth_accepts_after_bad_prefix",
        }
    }

    /// What the check expects, in one line.
    pub fn description(self) -> &'static str {
        match self {
            CheckId::PingEcho => "PING answered by `pong` with the same body",
            CheckId::PingPipelined => "two PINGs in one write both answered, in order",
            CheckId::PingSplit => "a PING split over several writes is answered",
            CheckId::PongIgnored => "a `pong` is not answered",
            CheckId::Hello => "HELLO answered with a decodable HELLO, same request id",
            CheckId::GetStatus => "GET_STATUS answered: user agent, plausible ms timestamp",
            CheckId::HeadersAscending => {
                "ascending headers from slot 0 link by parent_root up to best_root"
            }
            CheckId::HeadersDescending => "descending headers from best_root / best_slot link back",
            CheckId::HeadersSkip => "skip 1 and 2, both directions, follow the skip_slots rule",
            CheckId::HeadersMax => "`max` respected",
            CheckId::BlockBodies => {
                "bodies are the served headers' blocks: body roots, order, max, by slot and root"
            }
            CheckId::BeaconStates => "states answered have the roots asked, in request order",
            CheckId::RequestIds => "pipelined requests each answered once with their id",
            CheckId::GossipRelayed => "a block gossiped on A reaches B once, message_hash right",
            CheckId::GossipLyingHash => "a block with a lying message_hash is not relayed",
            CheckId::GetAttestation => "GET_ATTESTATION serves a gossiped attestation by hash",
            CheckId::UnknownMethod => {
                "unknown method id after a fresh HELLO tolerated: PING and GET_STATUS answered"
            }
            CheckId::GoodbyeWrongNetwork => "HELLO on another network_id earns GOODBYE 2",
            CheckId::GoodbyeUnknownFinalized => {
                "HELLO with a finalized root not ours earns GOODBYE 2"
            }
            CheckId::MalformedFrameCloses => "a malformed frame closes that connection",
            CheckId::AcceptsAfterMalformed => {
                "after a malformed frame, a fresh connection is served"
            }
            CheckId::FixtureSynced => "the peer synced to the fixture's head (its HELLO best_root)",
            CheckId::FixtureRequests => {
                "every fixture block fetched as a body; ranges and skips asked"
            }
            CheckId::EthHello => {
                "ETH hello: nothing before ours (initiator first), then the peer's own hello"
            }
            CheckId::EthGetStatus => "ETH get_status: user agent, sha, plausible ms timestamp",
            CheckId::EthRoots => {
                "ETH beacon_block_roots ascending, in range, naming the head; count respected"
            }
            CheckId::EthRootsCap => "ETH beacon_block_roots count 32769 answered 20, 32768 served",
            CheckId::EthHeaders => {
                "ETH beacon_block_headers are the listed roots, linked; skip 1 and 2 collapse"
            }
            CheckId::EthBodies => {
                "ETH beacon_block_bodies in request order, body roots match, zero body for unknown"
            }
            CheckId::EthChainState => {
                "ETH beacon_chain_state answered with an error code (its response is TBD)"
            }
            CheckId::EthPipelined => "ETH pipelined requests each answered once with their id",
            CheckId::EthUnknownMethod => "ETH unknown method id answered 30, connection kept",
            CheckId::EthMalformedSsz => {
                "ETH body that is not its container's SSZ answered 10, connection kept"
            }
            CheckId::EthGoodbyeWrongNetwork => "ETH hello on another network_id earns goodbye 2",
            CheckId::EthGoodbyeUnknownFinalized => {
                "ETH hello with a finalized root not the peer's earns goodbye 2"
            }
            CheckId::EthBadPrefixCloses => {
                "ETH a message without the `ETH` prefix closes that connection"
            }
            CheckId::EthAcceptsAfterBadPrefix => {
                "ETH after a wrong prefix, a fresh connection is served"
            }
        }
    }
}

impl std::fmt::Display for CheckId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
