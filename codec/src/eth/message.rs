//! ETH envelopes: [`EthMessage`] (a request or a response, told apart by the kind byte),
//! [`EthRequest`] `(id: uint64, method_id: uint16, body: bytes)` and [`EthResponse`] `(id:
//! uint64, response_code: uint16, result: bytes)`, read from and written to an [`EthFrame`].
//!
//! A message is `kind | envelope`: kind 1 is a request, 0 a response (an SSZ boolean "is
//! request"); the envelope is an SSZ container of two fixed fields and one variable `bytes` field,
//! so its fixed part is 14 bytes: id (8, LE), method id or response code (2, LE), and the offset of
//! the variable part (4, LE), which SSZ requires to be exactly 14. Body and result are zero-copy
//! slices of the message; their typed decoding is in `methods.rs`.

use bytes::{BufMut, Bytes, BytesMut};

use super::{
    EthError, EthFrame, EthLimits, EthMethod, EthRequestBody, EthResponseBody, ResponseCode,
};
use crate::rpc::RequestId;

/// Length of an envelope's fixed part: id 8 + method id / response code 2 + offset 4.
pub const ENVELOPE_FIXED_LEN: usize = 14;
/// Shortest well-formed message: the kind byte and an envelope with an empty body.
pub const MIN_MESSAGE_LEN: usize = 1 + ENVELOPE_FIXED_LEN;

/// Whether a message is a request or a response (its first byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// Byte 1: a request `(id, method_id, body)`.
    Request,
    /// Byte 0: a response `(id, response_code, result)`.
    Response,
}

impl MessageKind {
    /// The kind of a first byte; `None` for anything but 0 and 1.
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Self::Request),
            0 => Some(Self::Response),
            _ => None,
        }
    }

    /// The byte written.
    pub fn as_byte(self) -> u8 {
        match self {
            Self::Request => 1,
            Self::Response => 0,
        }
    }

    /// `request` or `response`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Response => "response",
        }
    }
}

/// A request as received or to be sent; the body is decoded on demand ([`EthRequest::decode_body`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthRequest {
    /// `id`, echoed by the response.
    pub id: RequestId,
    /// `method_id` (an unknown id is kept as [`EthMethod::Unknown`]).
    pub method: EthMethod,
    /// `body`: the SSZ of the method's request container.
    pub body: Bytes,
}

impl EthRequest {
    /// A request carrying `body` (the method is the body's).
    pub fn new(id: RequestId, body: &EthRequestBody) -> Self {
        Self {
            id,
            method: body.method(),
            body: Bytes::from(body.to_ssz()),
        }
    }

    /// Decodes the body as the method's request container and checks it against the spec's rules
    /// and `limits`. The error says which response code the request earns
    /// ([`EthError::response_code`]): 30 for an unknown method, 10 for bad SSZ, 20 for a broken
    /// rule.
    pub fn decode_body(&self, limits: &EthLimits) -> Result<EthRequestBody, EthError> {
        EthRequestBody::decode(self.id, self.method, &self.body, limits)
    }
}

/// A response as received or to be sent; the result is decoded on demand, given the method of the
/// request it answers ([`EthResponse::decode_result`]): the envelope does not name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthResponse {
    /// `id` of the request answered.
    pub id: RequestId,
    /// `response_code`.
    pub code: ResponseCode,
    /// `result`: the SSZ of the method's response container on success; on an error, empty or
    /// UTF-8 text saying why (what this node writes; any bytes are read).
    pub result: Bytes,
}

impl EthResponse {
    /// A success (code 0) carrying `body`.
    pub fn success(id: RequestId, body: &EthResponseBody) -> Self {
        Self {
            id,
            code: ResponseCode::Success,
            result: Bytes::from(body.to_ssz()),
        }
    }

    /// An error response: `code` with `message` as UTF-8 in `result` (may be empty).
    pub fn error(id: RequestId, code: ResponseCode, message: &str) -> Self {
        Self {
            id,
            code,
            result: Bytes::copy_from_slice(message.as_bytes()),
        }
    }

    /// The result read as text (lossy UTF-8): the message of an error response.
    pub fn message(&self) -> String {
        String::from_utf8_lossy(&self.result).into_owned()
    }

    /// Decodes a success result as the response container of `method` (the method of the request
    /// with this id) and checks it (`limits`, ascending roots). An error code gives
    /// [`EthError::ErrorResponse`].
    pub fn decode_result(
        &self,
        method: EthMethod,
        limits: &EthLimits,
    ) -> Result<EthResponseBody, EthError> {
        if !self.code.is_success() {
            return Err(EthError::ErrorResponse {
                id: self.id,
                code: self.code,
                message: self.message(),
            });
        }
        EthResponseBody::decode(self.id, method, &self.result, limits)
    }
}

/// One ETH message: a request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EthMessage {
    /// Kind byte 1.
    Request(EthRequest),
    /// Kind byte 0.
    Response(EthResponse),
}

impl EthMessage {
    /// Reads a framed message: the kind byte and the envelope (body / result left undecoded).
    /// Errors here never break the stream: the message can be dropped (or answered, see
    /// [`EthError::reply`]) and the connection kept.
    pub fn from_frame(frame: &EthFrame) -> Result<Self, EthError> {
        let message = &frame.message;
        let kind = match message.first() {
            Some(&byte) => {
                MessageKind::from_byte(byte).ok_or(EthError::UnknownKind { found: Some(byte) })?
            }
            None => return Err(EthError::UnknownKind { found: None }),
        };
        let malformed = |id: Option<RequestId>, reason: String| match kind {
            MessageKind::Request => EthError::MalformedRequest { id, reason },
            MessageKind::Response => EthError::MalformedResponse { id, reason },
        };
        let envelope = &message[1..];
        let Some(id) = envelope.get(..8) else {
            return Err(malformed(
                None,
                format!(
                    "{} bytes after the kind byte; the envelope's fixed part is {ENVELOPE_FIXED_LEN}",
                    envelope.len()
                ),
            ));
        };
        let id = RequestId(u64::from_le_bytes(id.try_into().unwrap_or_default()));
        let Some(fixed) = envelope.get(8..ENVELOPE_FIXED_LEN) else {
            return Err(malformed(
                Some(id),
                format!(
                    "{} bytes after the kind byte; the envelope's fixed part is {ENVELOPE_FIXED_LEN}",
                    envelope.len()
                ),
            ));
        };
        let selector = u16::from_le_bytes([fixed[0], fixed[1]]);
        let offset = u32::from_le_bytes([fixed[2], fixed[3], fixed[4], fixed[5]]);
        if offset as usize != ENVELOPE_FIXED_LEN {
            return Err(malformed(
                Some(id),
                format!(
                    "offset of the variable part is {offset}; SSZ requires {ENVELOPE_FIXED_LEN}"
                ),
            ));
        }
        let variable = message.slice(MIN_MESSAGE_LEN..);
        Ok(match kind {
            MessageKind::Request => Self::Request(EthRequest {
                id,
                method: EthMethod::from_id(selector),
                body: variable,
            }),
            MessageKind::Response => Self::Response(EthResponse {
                id,
                code: ResponseCode::from_u16(selector),
                result: variable,
            }),
        })
    }

    /// The framed message (no limit check; [`super::EthCodec`] checks when it writes).
    pub fn to_frame(&self) -> EthFrame {
        let (id, selector, variable) = match self {
            Self::Request(r) => (r.id, r.method.id(), &r.body),
            Self::Response(r) => (r.id, r.code.as_u16(), &r.result),
        };
        let mut out = BytesMut::with_capacity(MIN_MESSAGE_LEN + variable.len());
        out.put_u8(self.kind().as_byte());
        out.put_u64_le(id.0);
        out.put_u16_le(selector);
        out.put_u32_le(ENVELOPE_FIXED_LEN as u32);
        out.put_slice(variable);
        EthFrame::new(out.freeze())
    }

    /// Request or response.
    pub fn kind(&self) -> MessageKind {
        match self {
            Self::Request(_) => MessageKind::Request,
            Self::Response(_) => MessageKind::Response,
        }
    }

    /// The id (of the request, or of the request a response answers).
    pub fn id(&self) -> RequestId {
        match self {
            Self::Request(r) => r.id,
            Self::Response(r) => r.id,
        }
    }
}

impl From<EthRequest> for EthMessage {
    fn from(r: EthRequest) -> Self {
        Self::Request(r)
    }
}

impl From<EthResponse> for EthMessage {
    fn from(r: EthResponse) -> Self {
        Self::Response(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(bytes: &[u8]) -> Result<EthMessage, EthError> {
        EthMessage::from_frame(&EthFrame::new(bytes.to_vec()))
    }

    #[test]
    fn request_and_response_round_trip_with_zero_copy_bodies() {
        let req = EthMessage::Request(EthRequest {
            id: RequestId(7),
            method: EthMethod::Unknown(99),
            body: Bytes::from_static(b"abc"),
        });
        let frame = req.to_frame();
        assert_eq!(
            &frame.message[..],
            &hex::decode(concat!(
                "01",
                "0700000000000000",
                "6300",
                "0e000000",
                "616263"
            ))
            .expect("hex")[..]
        );
        let back = EthMessage::from_frame(&frame).expect("decode");
        assert_eq!(back, req);
        let EthMessage::Request(r) = back else {
            panic!("a request")
        };
        let range = frame.message.as_ptr() as usize..frame.message.as_ptr() as usize + 18;
        assert!(
            range.contains(&(r.body.as_ptr() as usize)),
            "body is a slice of the message"
        );

        let resp = EthMessage::Response(EthResponse::error(
            RequestId(u64::MAX),
            ResponseCode::Application(4242),
            "",
        ));
        assert_eq!(
            EthMessage::from_frame(&resp.to_frame()).expect("decode"),
            resp
        );
    }

    #[test]
    fn malformed_envelopes_are_typed_and_answerable_only_with_an_id() {
        let err = message(&[]).expect_err("empty");
        assert!(matches!(err, EthError::UnknownKind { found: None }));
        assert!(err.reply().is_none() && !err.breaks_stream());
        let err = message(&[2]).expect_err("kind 2");
        assert!(matches!(err, EthError::UnknownKind { found: Some(2) }));
        let err = message(&[1, 5, 0, 0]).expect_err("short id");
        assert!(matches!(err, EthError::MalformedRequest { id: None, .. }));
        assert!(err.reply().is_none());
        let err = message(&[1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0]).expect_err("short");
        let reply = err.reply().expect("answered");
        assert_eq!(
            (reply.id, reply.code),
            (RequestId(5), ResponseCode::ParseError)
        );
        let mut bad_offset = vec![1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 0, 0, 0];
        let err = message(&bad_offset).expect_err("offset 15");
        assert!(matches!(
            err,
            EthError::MalformedRequest {
                id: Some(RequestId(9)),
                ..
            }
        ));
        // The same fault in a response is never answered.
        bad_offset[0] = 0;
        let err = message(&bad_offset).expect_err("offset 15");
        assert!(matches!(
            err,
            EthError::MalformedResponse {
                id: Some(RequestId(9)),
                ..
            }
        ));
        assert!(err.reply().is_none());
    }
}
