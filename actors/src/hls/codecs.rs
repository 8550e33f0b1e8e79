//! The RFC 6381 `CODECS` value of an H.264 stream, read from its sequence parameter set.

/// Finds the first SPS NAL unit in an Annex B byte stream and returns e.g. `avc1.64001f`
/// (profile_idc, constraint flags, level_idc in hex).
pub fn avc1_from_annexb(stream: &[u8]) -> Option<String> {
    let mut i = 0;
    while i + 3 < stream.len() {
        if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1 {
            let nal = &stream[i + 3..];
            if nal.len() >= 4 && nal[0] & 0x1f == 7 {
                return Some(format!("avc1.{:02x}{:02x}{:02x}", nal[1], nal[2], nal[3]));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_profile_level_31() {
        // AUD, then SPS (0x67) with profile 100, constraints 0, level 31.
        let stream = [0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9];
        assert_eq!(avc1_from_annexb(&stream).as_deref(), Some("avc1.64001f"));
    }

    #[test]
    fn constrained_baseline() {
        let stream = [0, 0, 1, 0x27, 0x42, 0xc0, 0x1e, 0x00];
        assert_eq!(avc1_from_annexb(&stream).as_deref(), Some("avc1.42c01e"));
    }

    #[test]
    fn no_sps_or_truncated() {
        assert_eq!(avc1_from_annexb(&[0, 0, 1, 0x65, 1, 2, 3]), None);
        assert_eq!(avc1_from_annexb(&[0, 0, 1, 0x67, 0x64]), None);
        assert_eq!(avc1_from_annexb(&[]), None);
    }
}
