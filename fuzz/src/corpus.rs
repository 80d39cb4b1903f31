//! Packed corpora: a fuzz target's minimized corpus kept as one committed file,
//! `fuzz/corpora/<target>.pack`, rather than a thousand small ones. Each input is its length (u32,
//! big endian) followed by its bytes. `cargo test` replays every input of every pack through its
//! target's check (`committed_corpora_pass_their_checks` in lib.rs); the `corpus` example writes a
//! pack from a libFuzzer corpus directory and restores one into a directory (`fuzz/run.sh` does,
//! so a run resumes from the committed corpus). Handles and sends no messages.

/// Longest input a pack may hold (the targets' `-max_len` is at most 16 KiB).
pub const MAX_INPUT: usize = 1 << 20;

/// Why a pack could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorpusError {
    /// The file ends inside an input's length or bytes.
    #[error("pack truncated at byte {offset}: {what}")]
    Truncated {
        /// Where the cut input starts.
        offset: usize,
        /// Which part is missing.
        what: &'static str,
    },
    /// An input claims more than [`MAX_INPUT`] bytes.
    #[error("input at byte {offset} claims {len} bytes (at most {MAX_INPUT})")]
    TooLong {
        /// Where the input starts.
        offset: usize,
        /// Its claimed length.
        len: usize,
    },
}

/// The pack of `inputs`, in the order given.
pub fn pack<'a>(inputs: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>, CorpusError> {
    let mut out = Vec::new();
    for input in inputs {
        if input.len() > MAX_INPUT {
            return Err(CorpusError::TooLong {
                offset: out.len(),
                len: input.len(),
            });
        }
        out.extend_from_slice(&(input.len() as u32).to_be_bytes());
        out.extend_from_slice(input);
    }
    Ok(out)
}

/// The inputs of a pack, borrowed from it.
pub fn unpack(bytes: &[u8]) -> Result<Vec<&[u8]>, CorpusError> {
    let mut inputs = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        let (len, body) = rest
            .split_first_chunk::<4>()
            .ok_or(CorpusError::Truncated {
                offset,
                what: "length",
            })?;
        let len = u32::from_be_bytes(*len) as usize;
        if len > MAX_INPUT {
            return Err(CorpusError::TooLong { offset, len });
        }
        if body.len() < len {
            return Err(CorpusError::Truncated {
                offset,
                what: "input bytes",
            });
        }
        let (input, next) = body.split_at(len);
        inputs.push(input);
        rest = next;
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_round_trip_in_order_empty_ones_included() {
        let inputs: [&[u8]; 4] = [b"abc", b"", &[0xff; 300], b"z"];
        let packed = pack(inputs).expect("pack");
        assert_eq!(packed.len(), 4 * 4 + 3 + 300 + 1);
        assert_eq!(unpack(&packed).expect("unpack"), inputs);
        assert_eq!(unpack(&[]).expect("empty pack"), Vec::<&[u8]>::new());
    }

    #[test]
    fn a_cut_or_oversized_pack_is_refused_naming_where() {
        let packed = pack([b"abc".as_slice(), b"defg"]).expect("pack");
        assert_eq!(
            unpack(&packed[..packed.len() - 1]),
            Err(CorpusError::Truncated {
                offset: 7,
                what: "input bytes"
            })
        );
        assert_eq!(
            unpack(&packed[..9]),
            Err(CorpusError::Truncated {
                offset: 7,
                what: "length"
            })
        );
        let huge = ((MAX_INPUT + 1) as u32).to_be_bytes();
        assert_eq!(
            unpack(&huge),
            Err(CorpusError::TooLong {
                offset: 0,
                len: MAX_INPUT + 1
            })
        );
    }
}
