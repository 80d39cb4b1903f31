//! `hobbits-node encode`: builds one EWP frame from JSON (the shape `decode` prints) and prints it
//! as hex. The mapping lives in `hobbits_codec::json`; this file only does I/O and exit codes.

use std::io::Read;
use std::process::ExitCode;

use clap::Args;
use hobbits_codec::json;

use super::bad_input;

/// Build one EWP frame from JSON and print it as hex
///
/// Takes the JSON that `decode` prints or a hand-written subset:
///
///   {"protocol":"RPC","rpc":{"method":"HELLO","id":1,"payload":{"network_id":1,"chain_id":1,
///    "latest_finalized_root":"0x00…","latest_finalized_epoch":0,"best_root":"0x00…","best_slot":0}}}
///   {"protocol":"GOSSIP","gossip":{"topic":"BLOCK","timestamp":1563500000000,"hash":"0x…","body":"0x…"}}
///   {"protocol":"PING","ping":{"kind":"ping","body":"0x0001…"}}
///   {"protocol":"RPC","header_hex":"0x…","body_hex":"0x…"}        (raw header and body)
///
/// RPC bodies are written as the spec says ({body: binary SSZ}); `rpc.ssz` (hex) is used as is when
/// present, else "body": null gives an empty body, else the payload is built from `rpc.payload`.
/// GOSSIP message_hash defaults to SHA-256 of the body. Exit status 2 when the JSON does not
/// describe a frame.
///
/// Round trip: decode → encode gives back the same bytes for spec-shaped frames and for RPC frames
/// with an empty body. Other frames are rewritten in the spec's shape: extra header keys with
/// binary values come back as strings, 2019 document-shaped RPC bodies (Artemis, Prysm) come back
/// as {body: binary SSZ}, method_id/id as int32/int64. Give header_hex and body_hex alone (no
/// rpc/gossip/ping key) to reproduce a frame byte for byte.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct EncodeArgs {
    /// The JSON; read from stdin when absent.
    pub json: Option<String>,
}

/// Runs the subcommand.
pub fn run(args: EncodeArgs) -> ExitCode {
    let text = match args.json {
        Some(t) => t,
        None => {
            let mut t = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut t) {
                return bad_input(format_args!("cannot read stdin: {e}"));
            }
            t
        }
    };
    let built = serde_json::from_str(&text)
        .map_err(|e| format!("input is not JSON: {e}"))
        .and_then(|v| json::frame_from_json(&v).map_err(|e| e.to_string()))
        .and_then(|f| f.to_bytes().map_err(|e| e.to_string()));
    match built {
        Ok(bytes) => {
            println!("{}", hex::encode(bytes));
            ExitCode::SUCCESS
        }
        Err(e) => bad_input(e),
    }
}
