#!/usr/bin/env python3
"""Writes eth_messages.tsv: ETH raw-TCP dialect vectors, byte by byte from the layouts in
docs/PROTOCOL.md ("The ETH raw-TCP dialect") with Python's struct module only, independently of
the Rust code they test (codec/tests/eth_vectors.rs).

Layout: "ETH" | u32 LE length of the rest | kind (01 request, 00 response) | id u64 LE |
method_id / response_code u16 LE | offset u32 LE = 14 | body / result (SSZ of the method's
container). SSZ: integers little endian; a container's fixed part holds fixed fields in order and
a u32 offset for each variable field; a list of fixed-size items is the items back to back; a list
of variable-size items is one u32 offset per item, then the items.

Run: python3 codec/testdata/eth_messages.py > codec/testdata/eth_messages.tsv
Columns: name, layout (the fields as hex, separated by ' | '), hex (the layout joined), expected.
"""

import struct


def u8(v): return struct.pack("<B", v)
def u16(v): return struct.pack("<H", v)
def u32(v): return struct.pack("<I", v)
def u64(v): return struct.pack("<Q", v)
def b32(byte): return bytes([byte]) * 32


ROWS = []


def row(name, fields, expected):
    layout = " | ".join(f.hex() for f in fields)
    ROWS.append((name, layout, b"".join(fields).hex(), expected))


def message(kind, ident, selector, variable, offset=14):
    """The fields of one framed message: prefix, length, kind, envelope, body."""
    inner = [u8(kind), u64(ident), u16(selector), u32(offset)] + variable
    return [b"ETH", u32(sum(len(f) for f in inner))] + inner


def request(ident, method, body, **kw): return message(1, ident, method, body, **kw)
def response(ident, code, result): return message(0, ident, code, result)


# ---- containers (fields in the spec's order) ----
def hello(network_id, chain_id, fin_root, fin_epoch, best_root, best_slot):
    return [u8(network_id), u64(chain_id), fin_root, u64(fin_epoch), best_root, u64(best_slot)]


def status(sha, user_agent, timestamp, offset=None):
    # fixed part: sha 32 + offset 4 + timestamp 8 = 44
    return [sha, u32(44 if offset is None else offset), u64(timestamp), user_agent]


def root_list(roots, offset=4):
    # a container of one list of 32-byte items: offset 4, then the items
    return [u32(offset)] + roots


def header(slot, parent, state, body):
    return [u64(slot), parent, state, body, bytes(96)]


ZERO_BODY = [bytes(96), bytes(72), bytes(32)] + [u32(224)] * 6  # randao, eth1_data, graffiti, 6 empty lists


HELLO = hello(1, 1, b32(0), 0, b32(0xAA), 5)
STATUS = status(b32(0x11), b"hobbits-node/0.1.0", 1565000000000)

# ---- requests, one per method ----
row("hello_request", request(1, 0, HELLO),
    "request id 1 hello: network_id 1, chain_id 1, finalized_root 0x00.., finalized_epoch 0, best_root 0xaa.., best_slot 5")
row("goodbye_request", request(2, 1, [u64(1)]), "request id 2 goodbye: reason 1 (client shut down)")
row("goodbye_custom_reason", request(3, 1, [u64(1001)]), "request id 3 goodbye: reason 1001 (custom, > 1000)")
row("get_status_request", request(4, 2, STATUS),
    "request id 4 get_status: sha 0x11.., user_agent 'hobbits-node/0.1.0', timestamp 1565000000000")
row("beacon_block_roots_request", request(5, 10, [u64(1), u64(64)]),
    "request id 5 beacon_block_roots: start_slot 1, count 64")
row("beacon_block_roots_count_at_cap", request(6, 10, [u64(0), u64(32768)]),
    "request id 6 beacon_block_roots: start_slot 0, count 32768 (the spec's maximum: valid)")
row("beacon_block_headers_request", request(7, 11, [b32(0), u64(2), u64(5), u64(1)]),
    "request id 7 beacon_block_headers: start_root zero, start_slot 2, max_headers 5, skip_slots 1")
row("beacon_block_bodies_request", request(8, 12, root_list([b32(1), b32(2)])),
    "request id 8 beacon_block_bodies: block_roots [0x01.., 0x02..]")
row("beacon_chain_state_request", request(9, 13, root_list([b32(3)])),
    "request id 9 beacon_chain_state: hashes [0x03..]")

# ---- success responses, one per method that has a response ----
row("hello_response", response(1, 0, HELLO), "response id 1 success, result hello (as hello_request)")
row("get_status_response", response(4, 0, STATUS), "response id 4 success, result get_status (as get_status_request)")
row("beacon_block_roots_response",
    response(5, 0, [u32(4), b32(0xA1), u64(1), b32(0xA2), u64(2)]),
    "response id 5 success, result roots [(0xa1.., slot 1), (0xa2.., slot 2)]")
row("beacon_block_roots_empty_response", response(5, 0, [u32(4)]),
    "response id 5 success, result roots [] (no blocks in the range)")
row("beacon_block_headers_response",
    response(7, 0, [u32(4)] + header(2, b32(0xB1), b32(0xB2), b32(0xB3))),
    "response id 7 success, result headers [slot 2, parent 0xb1.., state 0xb2.., body 0xb3.., zero signature]")
row("beacon_block_bodies_response",
    response(8, 0, [u32(4), u32(8), u32(8 + 224)] + ZERO_BODY + ZERO_BODY),
    "response id 8 success, result block_bodies [zero body, zero body] (unknown roots answered with zero-value bodies)")

# ---- every response code ----
row("code_parse_error", response(20, 10, [b"bad ssz"]), "response id 20 code 10 parse error, message 'bad ssz'")
row("code_invalid_request", response(21, 20, []), "response id 21 code 20 invalid request, empty result")
row("code_method_not_found", response(22, 30, [b"unknown method 99"]),
    "response id 22 code 30 method not found, message 'unknown method 99'")
row("code_server_error", response(23, 40, []), "response id 23 code 40 server error, empty result")
row("code_reserved", response(24, 999, []), "response id 24 code 999: reserved (< 1000), kept as Reserved(999)")
row("code_application", response(25, 1000, [b"app"]), "response id 25 code 1000: application code, kept as Application(1000)")
row("chain_state_answer", response(9, 30, [b"beacon_chain_state: the response is TBD in the spec; not served"]),
    "response id 9 code 30: what this node answers beacon_chain_state_request")

# ---- malformed ----
hello_wire = b"".join(request(1, 0, HELLO))
row("truncated", [hello_wire[:-1]], "incomplete: hello_request without its last byte (Ok(None) from the decoder)")
row("truncated_prefix", [b"ETH", bytes([0x67])], "incomplete: the prefix and one byte of the length")
row("bad_prefix", [b"EWP", u32(15), u8(1), u64(1), u16(1), u32(14)], "error (stream): prefix EWP, not ETH")
row("over_long_length", [b"ETH", u32(0xFFFFFFFF), u8(1)], "error (stream): length 4294967295 above the 16 MiB limit, nothing reserved")
row("length_over_limit_by_one", [b"ETH", u32(16 * 1024 * 1024 + 1)], "error (stream): length 16 MiB + 1")
row("empty_message", [b"ETH", u32(0)], "message error: no kind byte; not answered")
row("unknown_kind", [b"ETH", u32(15), u8(2), u64(1), u16(0), u32(14)], "message error: kind 2; not answered")
row("short_envelope", [b"ETH", u32(11), u8(1), u64(30), u16(0)], "message error: request id 30 without its offset; answered 10")
row("envelope_offset_out_of_range", request(31, 0, HELLO, offset=0x100),
    "message error: request id 31 body offset 256 (SSZ requires 14); answered 10")
row("hello_body_truncated", request(32, 0, [b"".join(HELLO)[:-1]]), "request id 32 hello with 88 body bytes; answered 10")
row("bodies_offset_out_of_range", request(33, 12, root_list([b32(1)], offset=0x40)),
    "request id 33 beacon_block_bodies whose list offset is 64 (past the end); answered 10")
row("status_offset_out_of_range", request(34, 2, status(b32(0), b"x", 0, offset=200)),
    "request id 34 get_status whose user_agent offset is 200 (past the end); answered 10")
row("unknown_method", request(35, 99, [u64(0)]), "request id 35 method 99; answered 30")
row("roots_count_over_cap", request(36, 10, [u64(0), u64(32769)]), "request id 36 beacon_block_roots count 32769; answered 20")
row("roots_response_descending", response(37, 0, [u32(4), b32(0xA2), u64(2), b32(0xA1), u64(1)]),
    "response id 37 to beacon_block_roots: slots 2 then 1 (not ascending): invalid, never answered")

print("name\tlayout\thex\texpected")
for r in ROWS:
    print("\t".join(r))
