//! `hobbits-node decode`: reads one EWP frame, or one message of the ETH raw-TCP dialect (input
//! starting with `ETH`, 0x455448), as hex and prints it as JSON (header, body, typed message). The
//! mappings live in `hobbits_codec::json` and `hobbits_codec::eth::json`; this file only does I/O
//! and exit codes.

use std::io::Read;
use std::process::ExitCode;

use clap::Args;
use hobbits_codec::eth::{json::eth_frame_to_json, ETH_PREFIX};
use hobbits_codec::{json, EthFrame, EthLimits, EthMethod, Frame, FrameLimits};

use super::{bad_input, failure};

/// Decode one EWP frame or ETH message given as hex and print it as JSON
///
/// Prints version, protocol, the header and body (BSON shown as JSON, bytes as 0x-hex) and the typed
/// message: for RPC the method, id, body shape and the payload's fields (roots as 0x-hex); for GOSSIP
/// the topic, hashes and whether message_hash is SHA-256 of the body; for PING the kind and body.
/// A frame whose header or body is not a valid message still prints, with message_error (or
/// payload_error when the body does not decode as its method's message), and exits 2.
/// Exit status 0 for a well-formed frame, 2 for a malformed frame (the error is printed).
///
/// Input starting with ETH (0x455448) is one message of the eth2 RPC raw-TCP dialect: printed with
/// its kind, id, method or response code and typed body. A response does not name its method:
/// give --method to decode a success result (the result stays hex otherwise). Exit status 2 when
/// the message does not frame, or its envelope or typed body does not decode (the JSON still
/// prints, with message_error, and answer_code when a request earns an error response).
///
/// `encode` gives back the same bytes for spec-shaped frames and for RPC frames with an empty body
/// (printed as "body": null under "rpc"). Other frames come back in the spec's shape: extra header
/// keys with binary values become strings, 2019 document-shaped RPC bodies become {body: binary
/// SSZ}, method_id/id become int32/int64. To keep such a frame exactly, encode its header_hex and
/// body_hex only.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct DecodeArgs {
    /// The frame as hex (whitespace and a leading 0x are ignored); read from stdin when absent.
    pub hex: Option<String>,
    /// Accept EWP versions other than 3.
    #[arg(long)]
    pub any_version: bool,
    /// Accept Lodestar's 2019 text framing line (`EWP 3 2 4 32\n`).
    #[arg(long)]
    pub text_framing: bool,
    /// Print compact JSON on one line instead of pretty-printed.
    #[arg(long)]
    pub compact: bool,
    /// ETH responses: the method of the request answered (name, e.g. beacon_block_roots, or id),
    /// to decode a success result.
    #[arg(long, value_parser = parse_eth_method)]
    pub method: Option<EthMethod>,
}

fn parse_eth_method(text: &str) -> Result<EthMethod, String> {
    EthMethod::from_name(text).ok_or_else(|| {
        let names: Vec<&str> = EthMethod::ALL.iter().map(|m| m.name()).collect();
        format!("not an ETH method name or id (one of {})", names.join(", "))
    })
}

/// Parses hex with optional whitespace and `0x` prefix.
pub fn read_hex(arg: Option<String>) -> Result<Vec<u8>, String> {
    let text = match arg {
        Some(t) => t,
        None => {
            let mut t = String::new();
            std::io::stdin()
                .read_to_string(&mut t)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            t
        }
    };
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
        .unwrap_or(&digits);
    hex::decode(digits).map_err(|e| format!("input is not hex: {e}"))
}

/// Runs the subcommand.
pub fn run(args: DecodeArgs) -> ExitCode {
    let bytes = match read_hex(args.hex) {
        Ok(b) => b,
        Err(e) => return bad_input(e),
    };
    if bytes.starts_with(ETH_PREFIX) {
        return decode_eth(&bytes, args.method, args.compact);
    }
    let limits = FrameLimits {
        accept_any_version: args.any_version,
        accept_text_framing: args.text_framing,
        ..FrameLimits::default()
    };
    let frame = match Frame::parse(&bytes, limits) {
        Ok(f) => f,
        Err(e) => {
            println!("{}", serde_json::json!({ "error": e.to_string() }));
            return bad_input(format_args!("malformed frame: {e}"));
        }
    };
    let value = json::frame_to_json(&frame);
    let printed = print_json(&value, args.compact);
    match message_error(&value) {
        Some(e) => bad_input(format_args!("malformed frame: {e}")),
        None => printed,
    }
}

/// Why a frame that frames is still malformed, from its JSON: `message_error` (the envelope's BSON
/// header or body does not parse), or `payload_error` of a method we know (its body does not
/// decode as that method's message; an unknown method's payload is not an error).
pub fn message_error(value: &serde_json::Value) -> Option<String> {
    if let Some(e) = value["message_error"].as_str() {
        return Some(e.to_string());
    }
    let rpc = &value["rpc"];
    let unknown = rpc["method"]
        .as_str()
        .is_some_and(|m| m.starts_with("UNKNOWN"));
    match rpc["payload_error"].as_str() {
        Some(e) if !unknown => Some(format!("{} payload: {e}", rpc["method"])),
        _ => None,
    }
}

/// Prints `value` (compact or pretty) and returns success, or a failure if it cannot be written.
fn print_json(value: &serde_json::Value, compact: bool) -> ExitCode {
    let text = if compact {
        serde_json::to_string(value)
    } else {
        serde_json::to_string_pretty(value)
    };
    match text {
        Ok(t) => {
            println!("{t}");
            ExitCode::SUCCESS
        }
        Err(e) => failure(e),
    }
}

/// One ETH message: JSON on stdout; exit 2 (with the error on stderr) unless it decodes whole.
fn decode_eth(bytes: &[u8], method: Option<EthMethod>, compact: bool) -> ExitCode {
    let limits = EthLimits::default();
    let frame = match EthFrame::parse(bytes, limits) {
        Ok(f) => f,
        Err(e) => {
            println!(
                "{}",
                serde_json::json!({ "dialect": "ETH", "error": e.to_string() })
            );
            return bad_input(format_args!("malformed ETH message: {e}"));
        }
    };
    let (value, error) = eth_frame_to_json(&frame, method, &limits);
    let printed = print_json(&value, compact);
    match error {
        Some(e) => bad_input(format_args!("malformed ETH message: {e}")),
        None => printed,
    }
}
