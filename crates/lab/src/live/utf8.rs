//! Turns a byte stream into text chunk by chunk, holding back a character split between chunks.

/// A decoder for one stream.
#[derive(Debug, Default)]
pub struct Utf8Chunks {
    /// The start of a character whose remaining bytes have not arrived yet.
    held: Vec<u8>,
}

impl Utf8Chunks {
    /// The text of `bytes` (after what was held back); invalid bytes become U+FFFD.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.held.extend_from_slice(bytes);
        let keep = incomplete_tail(&self.held);
        let complete: Vec<u8> = self.held.drain(..self.held.len() - keep).collect();
        String::from_utf8_lossy(&complete).into_owned()
    }

    /// Whatever is still held back at the end of the stream.
    pub fn finish(&mut self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut self.held)).into_owned()
    }
}

/// How many bytes at the end form the unfinished start of a multi-byte character.
fn incomplete_tail(bytes: &[u8]) -> usize {
    // A UTF-8 character is at most 4 bytes: look at most 3 back for its lead byte.
    for back in 1..=bytes.len().min(3) {
        let byte = bytes[bytes.len() - back];
        if byte & 0b1100_0000 == 0b1000_0000 {
            continue; // a continuation byte: the lead is further back
        }
        let needed = match byte {
            b if b & 0b1110_0000 == 0b1100_0000 => 2,
            b if b & 0b1111_0000 == 0b1110_0000 => 3,
            b if b & 0b1111_1000 == 0b1111_0000 => 4,
            _ => return 0, // ASCII or an invalid byte: nothing to wait for
        };
        return if back < needed { back } else { 0 };
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_split_between_chunks_comes_out_whole() {
        let text = "日志 ✓ ok";
        let bytes = text.as_bytes();
        for split in 0..=bytes.len() {
            let mut decoder = Utf8Chunks::default();
            let mut out = decoder.push(&bytes[..split]);
            out.push_str(&decoder.push(&bytes[split..]));
            out.push_str(&decoder.finish());
            assert_eq!(out, text, "split at {split}");
        }
    }

    #[test]
    fn one_byte_at_a_time_still_decodes() {
        let mut decoder = Utf8Chunks::default();
        let out: String = "héllo 世界".as_bytes().iter().map(|b| decoder.push(&[*b])).collect();
        assert_eq!(out, "héllo 世界");
    }

    #[test]
    fn invalid_bytes_are_replaced_rather_than_held_forever() {
        let mut decoder = Utf8Chunks::default();
        assert_eq!(decoder.push(b"a\xffb"), "a\u{fffd}b");
        assert_eq!(decoder.push(b"\xe4\xb8"), "");
        assert_eq!(decoder.finish(), "\u{fffd}");
    }
}
