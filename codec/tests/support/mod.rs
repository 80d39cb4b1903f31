//! Support for the codec's test binaries (vectors, eth_vectors): [`Vectors`], a vector table of
//! `codec/testdata` (tab-separated, a header line, the vector's name in the first column and its
//! bytes as hex in the third); [`rejected`], a decoder's refusal of bytes checked for memory; and
//! [`decode_in_pieces`], a stream fed to a decoder in arbitrary pieces.
#![allow(
    dead_code,
    reason = "each test binary of this directory uses its own subset of the support module"
)]

use bytes::BytesMut;
use tokio_util::codec::Decoder;

/// Feeds `wire` to `codec` in pieces cut at `cuts` (positions in `0..=wire.len()`, any order,
/// repeats allowed), decoding after each piece as a connection would, and returns every item.
/// Panics on a decode error or on bytes left over.
pub fn decode_in_pieces<D>(
    codec: &mut D,
    wire: &[u8],
    cuts: impl IntoIterator<Item = usize>,
) -> Vec<D::Item>
where
    D: Decoder,
    D::Error: std::fmt::Debug,
{
    let mut points: Vec<usize> = cuts.into_iter().collect();
    points.push(wire.len());
    points.sort_unstable();
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    let mut start = 0;
    for p in points {
        buf.extend_from_slice(&wire[start..p]);
        start = p;
        while let Some(item) = codec.decode(&mut buf).expect("decode") {
            items.push(item);
        }
    }
    assert!(buf.is_empty(), "{} bytes left over", buf.len());
    items
}

/// Feeds `bytes` to `codec`, which must refuse them, and returns its error, after checking that
/// nothing beyond the bytes themselves was reserved for what a length announced.
pub fn rejected<D>(mut codec: D, bytes: &[u8]) -> D::Error
where
    D: Decoder,
    D::Item: std::fmt::Debug,
{
    let mut buf = BytesMut::from(bytes);
    let err = codec.decode(&mut buf).expect_err("vector must be rejected");
    assert!(
        buf.capacity() <= bytes.len().max(64),
        "reserved {} for {} bytes",
        buf.capacity(),
        bytes.len()
    );
    err
}

/// A vector table, e.g. `Vectors(include_str!("../testdata/frames.tsv"))`.
#[derive(Debug, Clone, Copy)]
pub struct Vectors(pub &'static str);

impl Vectors {
    /// The rows after the header line.
    fn rows(self) -> impl Iterator<Item = &'static str> {
        self.0.lines().skip(1)
    }

    /// Every vector's name, in table order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        self.rows()
            .map(|l| l.split('\t').next().expect("name column"))
    }

    /// Column `index` (0-based) of the vector `name`; panics when either is missing.
    pub fn column(self, name: &str, index: usize) -> &'static str {
        let line = self
            .rows()
            .find(|l| l.split('\t').next() == Some(name))
            .unwrap_or_else(|| panic!("vector {name} missing"));
        line.split('\t')
            .nth(index)
            .unwrap_or_else(|| panic!("vector {name} has no column {index}"))
    }

    /// The bytes of the vector `name` (its third column, hex).
    pub fn bytes(self, name: &str) -> Vec<u8> {
        hex::decode(self.column(name, 2)).expect("vector hex")
    }

    /// Asserts that `source` (the test file, by `include_str!`) has a `fn <name>()` per vector.
    pub fn assert_each_has_a_test(self, source: &str) {
        for name in self.names() {
            assert!(
                source.contains(&format!("fn {name}()")),
                "vector {name} has no test"
            );
        }
    }
}
