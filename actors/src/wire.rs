//! The byte encodings of messages that cross nodes, and their validation.
//!
//! ractor_cluster hands a payload to `BytesConvertable::from_bytes`, which cannot fail: a payload
//! that does not decode would have to panic, and ractor then drops the message without a word (the
//! caller only ever sees its deadline). So every payload travels as [`Checked<T>`]: decoding never
//! panics, a bad payload becomes `Checked(Err(..))`, is counted in
//! `sightline_cluster_bad_messages_total{message}` and logged, and the handler answers it with an
//! error instead of silence.
//!
//! Layout: magic `SL`, format version, the type's tag, then the type's fields big-endian. Lengths
//! are bounded before anything is allocated, and the whole payload must be consumed.

use std::fmt;

use ractor::BytesConvertable;

const MAGIC: [u8; 2] = *b"SL";
/// Bumped whenever any encoding changes; peers with another version are refused per message.
pub const VERSION: u8 = 1;

/// A payload that could not be decoded, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WireError(pub String);

impl WireError {
    pub fn new(message: impl Into<String>) -> Self {
        WireError(message.into())
    }
}

/// A type with an encoding of its own.
pub trait Wire: Sized {
    /// Distinguishes the types, so a payload sent to the wrong place is refused.
    const TAG: u8;
    /// The name used in logs and in the bad-message metric.
    const NAME: &'static str;
    fn encode(&self, out: &mut Writer);
    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError>;
}

/// A cross-node payload: the value, or why the bytes received were not one.
pub struct Checked<T>(pub Result<T, WireError>);

impl<T> Checked<T> {
    pub fn new(value: T) -> Self {
        Checked(Ok(value))
    }
}

impl<T: fmt::Debug> fmt::Debug for Checked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<T: Wire> Checked<T> {
    /// The payload as it goes on the wire (its length is what crosses nodes).
    pub fn encoded(value: &T) -> Vec<u8> {
        let mut out = Writer(Vec::with_capacity(64));
        out.0.extend_from_slice(&MAGIC);
        out.0.push(VERSION);
        out.0.push(T::TAG);
        value.encode(&mut out);
        out.0
    }

    pub fn decode_bytes(bytes: &[u8]) -> Result<T, WireError> {
        let mut input = Reader { bytes, at: 0 };
        if input.take(2)? != MAGIC {
            return Err(WireError::new("not a Sightline payload"));
        }
        let version = input.u8()?;
        if version != VERSION {
            return Err(WireError(format!(
                "encoding version {version}; this node speaks {VERSION} (run the same Sightline release on every node)"
            )));
        }
        let tag = input.u8()?;
        if tag != T::TAG {
            return Err(WireError(format!("payload tag {tag} is not a {}", T::NAME)));
        }
        let value = T::decode(&mut input)?;
        if input.at != bytes.len() {
            return Err(WireError(format!("{} trailing bytes", bytes.len() - input.at)));
        }
        Ok(value)
    }
}

impl<T: Wire> BytesConvertable for Checked<T> {
    fn into_bytes(self) -> Vec<u8> {
        match self.0 {
            Ok(value) => Self::encoded(&value),
            // Never sent in practice; an empty payload is refused by the receiver.
            Err(_) => Vec::new(),
        }
    }

    fn from_bytes(bytes: Vec<u8>) -> Self {
        let decoded = Self::decode_bytes(&bytes);
        if let Err(e) = &decoded {
            metrics::counter!(crate::telemetry::CLUSTER_BAD_MESSAGES_TOTAL, "message" => T::NAME).increment(1);
            tracing::warn!(
                message = T::NAME,
                bytes = bytes.len(),
                "dropped a malformed cluster payload: {e}"
            );
        }
        Checked(decoded)
    }
}

/// Appends big-endian fields.
pub struct Writer(Vec<u8>);

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    pub fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    /// A length-prefixed byte string.
    pub fn bytes(&mut self, v: &[u8]) {
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(v);
    }
    pub fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
    pub fn strs(&mut self, v: &[String]) {
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        for s in v {
            self.str(s);
        }
    }
}

/// Reads fields back, refusing anything short, oversized or malformed.
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        let end = end.ok_or_else(|| WireError(format!("payload ends early (needs {n} bytes at {})", self.at)))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }
    pub fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    /// A finite float.
    pub fn f32(&mut self) -> Result<f32, WireError> {
        let v = f32::from_be_bytes(self.array()?);
        if v.is_finite() {
            Ok(v)
        } else {
            Err(WireError::new("a number is not finite"))
        }
    }
    /// A length-prefixed byte string of at most `max` bytes.
    pub fn bytes(&mut self, max: usize) -> Result<&'a [u8], WireError> {
        let len = self.count(max, "byte string")?;
        self.take(len)
    }
    pub fn string(&mut self, max: usize) -> Result<String, WireError> {
        let raw = self.bytes(max)?;
        String::from_utf8(raw.to_vec()).map_err(|_| WireError::new("a string is not UTF-8"))
    }
    pub fn strings(&mut self, max_count: usize, max_len: usize) -> Result<Vec<String>, WireError> {
        let n = self.count(max_count, "list")?;
        (0..n).map(|_| self.string(max_len)).collect()
    }
    /// A u32 count, refused above `max` before anything is allocated for it.
    pub fn count(&mut self, max: usize, what: &str) -> Result<usize, WireError> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(WireError(format!("{what} of {n} exceeds the limit of {max}")));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Sample {
        n: u32,
        s: String,
        f: f32,
    }

    impl Wire for Sample {
        const TAG: u8 = 200;
        const NAME: &'static str = "sample";
        fn encode(&self, out: &mut Writer) {
            out.u32(self.n);
            out.str(&self.s);
            out.f32(self.f);
        }
        fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
            Ok(Sample {
                n: input.u32()?,
                s: input.string(16)?,
                f: input.f32()?,
            })
        }
    }

    fn sample() -> Sample {
        Sample {
            n: 7,
            s: "person".into(),
            f: 0.5,
        }
    }

    #[test]
    fn round_trip() {
        let bytes = Checked::new(sample()).into_bytes();
        assert_eq!(Checked::<Sample>::from_bytes(bytes).0, Ok(sample()));
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error_not_a_panic() {
        let bytes = Checked::new(sample()).into_bytes();
        for cut in 0..bytes.len() {
            assert!(
                Checked::<Sample>::from_bytes(bytes[..cut].to_vec()).0.is_err(),
                "cut at {cut}"
            );
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(Checked::<Sample>::decode_bytes(&extra)
            .unwrap_err()
            .0
            .contains("trailing"));
        let mut version = bytes.clone();
        version[2] = VERSION + 1;
        assert!(Checked::<Sample>::decode_bytes(&version)
            .unwrap_err()
            .0
            .contains("version"));
        let mut tag = bytes.clone();
        tag[3] = 1;
        assert!(Checked::<Sample>::decode_bytes(&tag).is_err());
        // Flip every byte: whatever comes out, nothing panics.
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0xFF;
            let _ = Checked::<Sample>::decode_bytes(&b);
        }
    }

    #[test]
    fn lengths_are_bounded_before_allocation() {
        let mut w = Writer(Vec::new());
        w.u32(7);
        w.u32(u32::MAX); // a string "length" of 4 GiB
        let mut payload = vec![b'S', b'L', VERSION, Sample::TAG];
        payload.extend(w.0);
        assert!(Checked::<Sample>::decode_bytes(&payload)
            .unwrap_err()
            .0
            .contains("limit"));
    }

    #[test]
    fn non_finite_numbers_are_refused() {
        let bad = Sample {
            f: f32::NAN,
            ..sample()
        };
        let bytes = Checked::new(bad).into_bytes();
        assert!(Checked::<Sample>::decode_bytes(&bytes).is_err());
    }
}
