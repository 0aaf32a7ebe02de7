//! SPDY/3.1 as kubectl's port-forward speaks it: the frame codec and the zlib-compressed header blocks.
//!
//! Frames stay close to the wire: header blocks are kept compressed in [`Frame`] and go through a
//! [`HeaderDecoder`] / [`HeaderEncoder`], because each direction of a session shares one zlib stream
//! and blocks must be (de)compressed in the order they travel.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::sync::OnceLock;

/// The protocol version in every control frame.
pub const VERSION: u16 = 3;
/// The FIN flag of data, SYN_STREAM, SYN_REPLY and HEADERS frames: the sender's half of the stream ends.
pub const FLAG_FIN: u8 = 0x01;
/// The size of every frame header.
pub const HEADER_LEN: usize = 8;
/// The largest payload a frame can declare (24-bit length).
pub const MAX_PAYLOAD: usize = 0x00FF_FFFF;
/// RST_STREAM status: a frame made no sense for the stream.
pub const RST_PROTOCOL_ERROR: u32 = 1;

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const SETTINGS: u16 = 4;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const HEADERS: u16 = 8;
const WINDOW_UPDATE: u16 = 9;

/// Why a byte stream is not valid SPDY/3.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpdyError {
    /// A control frame of another protocol version.
    #[error("SPDY version {0} is not supported (only 3)")]
    Version(u16),
    /// A frame shorter than its type requires.
    #[error("a SPDY frame of type {kind} is too short ({len} bytes)")]
    Short {
        /// The control frame type.
        kind: u16,
        /// Its payload length.
        len: usize,
    },
    /// A header block that does not decompress or parse.
    #[error("a SPDY header block cannot be read: {0}")]
    Headers(String),
}

/// One SPDY/3 frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Opens a stream; `headers` is the compressed header block.
    SynStream {
        /// The new stream's id.
        stream: u32,
        /// The stream it is associated with (0: none).
        associated: u32,
        /// Priority, 0 (highest) to 7.
        priority: u8,
        /// Flags (FIN, UNIDIRECTIONAL).
        flags: u8,
        /// The compressed header block.
        headers: Bytes,
    },
    /// Accepts a stream.
    SynReply {
        /// The stream.
        stream: u32,
        /// Flags (FIN).
        flags: u8,
        /// The compressed header block.
        headers: Bytes,
    },
    /// Aborts a stream.
    RstStream {
        /// The stream.
        stream: u32,
        /// Why (e.g. [`RST_CANCEL`]).
        status: u32,
    },
    /// Session settings: (flags, id, value) triples.
    Settings {
        /// Frame flags.
        flags: u8,
        /// The settings.
        entries: Vec<(u8, u32, u32)>,
    },
    /// A liveness check, answered by echoing it.
    Ping {
        /// The ping's id.
        id: u32,
    },
    /// The sender stops accepting streams.
    GoAway {
        /// The last stream the sender handled.
        last_good: u32,
        /// Why.
        status: u32,
    },
    /// More headers for a stream.
    Headers {
        /// The stream.
        stream: u32,
        /// Flags (FIN).
        flags: u8,
        /// The compressed header block.
        headers: Bytes,
    },
    /// More room in a stream's (or, for stream 0, the session's) receive window.
    WindowUpdate {
        /// The stream.
        stream: u32,
        /// Bytes added to the window.
        delta: u32,
    },
    /// Stream data.
    Data {
        /// The stream.
        stream: u32,
        /// Flags (FIN).
        flags: u8,
        /// The bytes.
        data: Bytes,
    },
    /// A control frame this server has no use for (NOOP, CREDENTIAL, …); skipped.
    Other {
        /// Its type.
        kind: u16,
    },
}

impl Frame {
    /// Takes one whole frame off the front of `buf`; `None` until enough bytes have arrived.
    pub fn parse(buf: &mut BytesMut) -> Result<Option<Frame>, SpdyError> {
        if buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let len = (u32::from_be_bytes([0, buf[5], buf[6], buf[7]])) as usize;
        if buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let mut frame = buf.split_to(HEADER_LEN + len).freeze();
        let first = frame.get_u32();
        let flags = frame.get_u8();
        frame.advance(3);
        if first & 0x8000_0000 == 0 {
            return Ok(Some(Frame::Data { stream: first & 0x7FFF_FFFF, flags, data: frame }));
        }
        let version = ((first >> 16) & 0x7FFF) as u16;
        if version != VERSION {
            return Err(SpdyError::Version(version));
        }
        Self::control(first as u16, flags, frame).map(Some)
    }

    fn control(kind: u16, flags: u8, mut p: Bytes) -> Result<Frame, SpdyError> {
        Ok(match kind {
            SYN_STREAM => {
                need(kind, &p, 10)?;
                let stream = p.get_u32() & 0x7FFF_FFFF;
                let associated = p.get_u32() & 0x7FFF_FFFF;
                let priority = p.get_u8() >> 5;
                p.advance(1);
                Frame::SynStream { stream, associated, priority, flags, headers: p }
            }
            SYN_REPLY | HEADERS => {
                need(kind, &p, 4)?;
                let stream = p.get_u32() & 0x7FFF_FFFF;
                if kind == SYN_REPLY {
                    Frame::SynReply { stream, flags, headers: p }
                } else {
                    Frame::Headers { stream, flags, headers: p }
                }
            }
            RST_STREAM => {
                need(kind, &p, 8)?;
                Frame::RstStream { stream: p.get_u32() & 0x7FFF_FFFF, status: p.get_u32() }
            }
            SETTINGS => {
                need(kind, &p, 4)?;
                let count = p.get_u32() as usize;
                need(kind, &p, count.saturating_mul(8))?;
                let entries = (0..count)
                    .map(|_| {
                        let head = p.get_u32();
                        ((head >> 24) as u8, head & 0x00FF_FFFF, p.get_u32())
                    })
                    .collect();
                Frame::Settings { flags, entries }
            }
            PING => {
                need(kind, &p, 4)?;
                Frame::Ping { id: p.get_u32() }
            }
            GOAWAY => {
                need(kind, &p, 4)?;
                let last_good = p.get_u32() & 0x7FFF_FFFF;
                let status = if p.len() >= 4 { p.get_u32() } else { 0 };
                Frame::GoAway { last_good, status }
            }
            WINDOW_UPDATE => {
                need(kind, &p, 8)?;
                Frame::WindowUpdate { stream: p.get_u32() & 0x7FFF_FFFF, delta: p.get_u32() & 0x7FFF_FFFF }
            }
            other => Frame::Other { kind: other },
        })
    }

    /// Appends the frame's wire form to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Frame::Data { stream, flags, data } => {
                out.put_slice(&data_header(*stream, *flags, data.len()));
                out.put_slice(data);
            }
            Frame::SynStream { stream, associated, priority, flags, headers } => {
                control_header(out, SYN_STREAM, *flags, 10 + headers.len());
                out.put_u32(*stream);
                out.put_u32(*associated);
                out.put_u8(priority << 5);
                out.put_u8(0);
                out.put_slice(headers);
            }
            Frame::SynReply { stream, flags, headers } | Frame::Headers { stream, flags, headers } => {
                let kind = if matches!(self, Frame::SynReply { .. }) { SYN_REPLY } else { HEADERS };
                control_header(out, kind, *flags, 4 + headers.len());
                out.put_u32(*stream);
                out.put_slice(headers);
            }
            Frame::RstStream { stream, status } => {
                control_header(out, RST_STREAM, 0, 8);
                out.put_u32(*stream);
                out.put_u32(*status);
            }
            Frame::Settings { flags, entries } => {
                control_header(out, SETTINGS, *flags, 4 + 8 * entries.len());
                out.put_u32(entries.len() as u32);
                for (flags, id, value) in entries {
                    out.put_u32((u32::from(*flags) << 24) | (id & 0x00FF_FFFF));
                    out.put_u32(*value);
                }
            }
            Frame::Ping { id } => {
                control_header(out, PING, 0, 4);
                out.put_u32(*id);
            }
            Frame::GoAway { last_good, status } => {
                control_header(out, GOAWAY, 0, 8);
                out.put_u32(*last_good);
                out.put_u32(*status);
            }
            Frame::WindowUpdate { stream, delta } => {
                control_header(out, WINDOW_UPDATE, 0, 8);
                out.put_u32(*stream);
                out.put_u32(*delta);
            }
            Frame::Other { kind } => control_header(out, *kind, 0, 0),
        }
    }

    /// The frame's wire form.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }
}

fn need(kind: u16, payload: &Bytes, n: usize) -> Result<(), SpdyError> {
    if payload.len() < n { Err(SpdyError::Short { kind, len: payload.len() }) } else { Ok(()) }
}

/// The 8-byte header of a data frame carrying `len` bytes (callers write the payload after it
/// themselves, which saves a copy on the hot path).
pub fn data_header(stream: u32, flags: u8, len: usize) -> [u8; HEADER_LEN] {
    let id = (stream & 0x7FFF_FFFF).to_be_bytes();
    let len = (len.min(MAX_PAYLOAD) as u32).to_be_bytes();
    [id[0], id[1], id[2], id[3], flags, len[1], len[2], len[3]]
}

fn control_header(out: &mut BytesMut, kind: u16, flags: u8, len: usize) {
    out.put_u16(0x8000 | VERSION);
    out.put_u16(kind);
    out.put_u32((u32::from(flags) << 24) | (len.min(MAX_PAYLOAD) as u32));
}

/// The SPDY/3 compression dictionary, read once from its hex data file.
pub fn dictionary() -> &'static [u8] {
    static DICTIONARY: OnceLock<Vec<u8>> = OnceLock::new();
    DICTIONARY.get_or_init(|| {
        include_str!("data/spdy3-dictionary.hex")
            .lines()
            .filter(|line| !line.starts_with('#'))
            .flat_map(str::split_whitespace)
            .filter_map(|hex| u8::from_str_radix(hex, 16).ok())
            .collect()
    })
}

/// Decompresses the header blocks one direction of a session carries (one zlib stream for all).
pub struct HeaderDecoder {
    zlib: Decompress,
}

impl HeaderDecoder {
    /// A decoder at the start of a session.
    pub fn new() -> Self {
        Self { zlib: Decompress::new(true) }
    }

    /// The name/value pairs of the next header block (names lower-case, as SPDY/3 requires).
    pub fn decode(&mut self, block: &[u8]) -> Result<Vec<(String, String)>, SpdyError> {
        let raw = self.inflate(block)?;
        parse_pairs(&raw)
    }

    fn inflate(&mut self, mut input: &[u8]) -> Result<Vec<u8>, SpdyError> {
        let mut out = Vec::with_capacity(input.len() * 4 + 256);
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(256));
            }
            let (in_before, out_before) = (self.zlib.total_in(), out.len());
            let result = self.zlib.decompress_vec(input, &mut out, FlushDecompress::Sync);
            input = &input[(self.zlib.total_in() - in_before) as usize..];
            let progressed = self.zlib.total_in() != in_before || out.len() != out_before;
            match result {
                Ok(Status::StreamEnd) => return Ok(out),
                Ok(_) if input.is_empty() && out.len() < out.capacity() => return Ok(out),
                Ok(_) if !progressed && out.len() < out.capacity() => {
                    return Err(SpdyError::Headers("the compressed block stops short".into()));
                }
                Ok(_) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.zlib.set_dictionary(dictionary()).map_err(|e| SpdyError::Headers(e.to_string()))?;
                }
                Err(e) => return Err(SpdyError::Headers(e.to_string())),
            }
        }
    }
}

impl Default for HeaderDecoder {
    fn default() -> Self {
        Self::new()
    }
}

/// Compresses the header blocks this side sends (one zlib stream for the whole session).
pub struct HeaderEncoder {
    zlib: Compress,
}

impl HeaderEncoder {
    /// An encoder at the start of a session, seeded with the SPDY/3 dictionary.
    pub fn new() -> Self {
        let mut zlib = Compress::new(Compression::fast(), true);
        // Seeding cannot fail on a fresh stream; a failure would only cost compression ratio.
        let _ = zlib.set_dictionary(dictionary());
        Self { zlib }
    }

    /// The compressed block for these name/value pairs.
    pub fn encode(&mut self, pairs: &[(&str, &str)]) -> Bytes {
        let mut raw = Vec::new();
        raw.put_u32(pairs.len() as u32);
        for (name, value) in pairs {
            raw.put_u32(name.len() as u32);
            raw.put_slice(name.as_bytes());
            raw.put_u32(value.len() as u32);
            raw.put_slice(value.as_bytes());
        }
        let mut input = raw.as_slice();
        let mut out = Vec::with_capacity(raw.len() + 64);
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(256));
            }
            let before = self.zlib.total_in();
            let _ = self.zlib.compress_vec(input, &mut out, FlushCompress::Sync);
            input = &input[(self.zlib.total_in() - before) as usize..];
            // A sync flush is complete once all input is taken and the output did not fill up.
            if input.is_empty() && out.len() < out.capacity() {
                return Bytes::from(out);
            }
        }
    }
}

impl Default for HeaderEncoder {
    fn default() -> Self {
        Self::new()
    }
}

fn parse_pairs(mut raw: &[u8]) -> Result<Vec<(String, String)>, SpdyError> {
    let short = || SpdyError::Headers("the header block ends in the middle of a field".into());
    let take = |raw: &mut &[u8]| -> Result<String, SpdyError> {
        if raw.len() < 4 {
            return Err(short());
        }
        let len = raw.get_u32() as usize;
        if raw.len() < len {
            return Err(short());
        }
        let text = String::from_utf8_lossy(&raw[..len]).into_owned();
        raw.advance(len);
        Ok(text)
    };
    if raw.len() < 4 {
        return Err(short());
    }
    let count = raw.get_u32() as usize;
    let mut pairs = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let name = take(&mut raw)?;
        let value = take(&mut raw)?;
        pairs.push((name.to_ascii_lowercase(), value));
    }
    Ok(pairs)
}

/// The value of a header in a decoded block.
pub fn header<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RST_STREAM status: the stream was cancelled (kubectl ends streams this way).
    const RST_CANCEL: u32 = 5;

    fn round_trip(frame: Frame) {
        let mut buf = BytesMut::from(&frame.to_bytes()[..]);
        assert_eq!(Frame::parse(&mut buf).unwrap(), Some(frame));
        assert!(buf.is_empty());
    }

    #[test]
    fn every_frame_kind_survives_an_encode_decode_round_trip() {
        let block = Bytes::from_static(b"\x78\xbb compressed");
        round_trip(Frame::SynStream { stream: 1, associated: 0, priority: 3, flags: FLAG_FIN, headers: block.clone() });
        round_trip(Frame::SynReply { stream: 3, flags: 0, headers: block.clone() });
        round_trip(Frame::Headers { stream: 5, flags: FLAG_FIN, headers: block });
        round_trip(Frame::RstStream { stream: 7, status: RST_CANCEL });
        round_trip(Frame::Settings { flags: 0, entries: vec![(0, 7, 65536), (1, 4, 100)] });
        round_trip(Frame::Ping { id: 9 });
        round_trip(Frame::GoAway { last_good: 11, status: 0 });
        round_trip(Frame::WindowUpdate { stream: 13, delta: 1 << 20 });
        round_trip(Frame::Data { stream: 15, flags: FLAG_FIN, data: Bytes::from_static(b"hello") });
    }

    #[test]
    fn a_frame_split_across_reads_waits_for_its_last_byte() {
        let wire = Frame::Data { stream: 1, flags: 0, data: Bytes::from_static(b"abcdef") }.to_bytes();
        let mut buf = BytesMut::from(&wire[..wire.len() - 1]);
        assert_eq!(Frame::parse(&mut buf).unwrap(), None);
        buf.extend_from_slice(&wire[wire.len() - 1..]);
        assert!(matches!(Frame::parse(&mut buf).unwrap(), Some(Frame::Data { stream: 1, .. })));
    }

    #[test]
    fn two_frames_in_one_read_come_out_in_order() {
        let mut buf = BytesMut::new();
        Frame::Ping { id: 1 }.encode(&mut buf);
        Frame::RstStream { stream: 3, status: RST_CANCEL }.encode(&mut buf);
        assert_eq!(Frame::parse(&mut buf).unwrap(), Some(Frame::Ping { id: 1 }));
        assert_eq!(Frame::parse(&mut buf).unwrap(), Some(Frame::RstStream { stream: 3, status: RST_CANCEL }));
        assert_eq!(Frame::parse(&mut buf).unwrap(), None);
    }

    #[test]
    fn control_frames_of_another_version_are_refused() {
        let mut buf = BytesMut::from(&[0x80, 0x02, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 1][..]);
        assert_eq!(Frame::parse(&mut buf).unwrap_err(), SpdyError::Version(2));
    }

    #[test]
    fn a_truncated_control_payload_is_an_error_not_a_panic() {
        let mut buf = BytesMut::from(&[0x80, 0x03, 0x00, 0x03, 0, 0, 0, 2, 0, 1][..]);
        assert!(matches!(Frame::parse(&mut buf).unwrap_err(), SpdyError::Short { kind: 3, .. }));
    }

    #[test]
    fn the_dictionary_has_the_published_length_start_and_end() {
        assert_eq!(dictionary().len(), 1423);
        assert!(dictionary().starts_with(b"\0\0\0\x07options\0\0\0\x04head"));
        assert!(dictionary().ends_with(b",enq=0."));
    }

    #[test]
    fn header_blocks_from_an_independent_zlib_stream_decode_in_sequence() {
        // A client-side stream made with flate2 directly, as kubectl's Go zlib writer would make it.
        let mut client = Compress::new(Compression::best(), true);
        client.set_dictionary(dictionary()).unwrap();
        let mut decoder = HeaderDecoder::new();
        for (kind, request) in [("error", "0"), ("data", "0"), ("error", "1")] {
            let mut raw = Vec::new();
            for (i, (n, v)) in [("streamtype", kind), ("port", "80"), ("requestid", request)].iter().enumerate() {
                if i == 0 {
                    raw.put_u32(3);
                }
                raw.put_u32(n.len() as u32);
                raw.put_slice(n.as_bytes());
                raw.put_u32(v.len() as u32);
                raw.put_slice(v.as_bytes());
            }
            let mut block = Vec::with_capacity(512);
            client.compress_vec(&raw, &mut block, FlushCompress::Sync).unwrap();
            let pairs = decoder.decode(&block).unwrap();
            assert_eq!(header(&pairs, "streamtype"), Some(kind));
            assert_eq!(header(&pairs, "requestid"), Some(request));
        }
    }

    #[test]
    fn our_header_blocks_decode_with_a_fresh_dictionary_seeded_stream() {
        let mut encoder = HeaderEncoder::new();
        let mut decoder = HeaderDecoder::new();
        assert_eq!(decoder.decode(&encoder.encode(&[])).unwrap(), vec![]);
        let pairs = decoder.decode(&encoder.encode(&[("Status", "200"), ("version", "HTTP/1.1")])).unwrap();
        assert_eq!(
            pairs,
            vec![("status".to_string(), "200".to_string()), ("version".to_string(), "HTTP/1.1".to_string())]
        );
    }

    #[test]
    fn a_block_that_is_not_zlib_is_an_error() {
        assert!(HeaderDecoder::new().decode(b"not zlib at all").is_err());
    }

    #[test]
    fn data_headers_carry_the_stream_flags_and_length() {
        assert_eq!(data_header(5, FLAG_FIN, 0x010203), [0, 0, 0, 5, 1, 1, 2, 3]);
    }
}
