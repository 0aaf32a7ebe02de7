//! A tiny protobuf writer for tests: builds messages field by field.

/// A message under construction.
#[derive(Default, Clone)]
pub struct Msg(Vec<u8>);

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

impl Msg {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a varint field.
    pub fn varint(mut self, number: u32, value: u64) -> Self {
        put_varint(&mut self.0, u64::from(number) << 3);
        put_varint(&mut self.0, value);
        self
    }

    /// Appends a length-delimited field holding raw bytes.
    pub fn bytes(mut self, number: u32, value: &[u8]) -> Self {
        put_varint(&mut self.0, (u64::from(number) << 3) | 2);
        put_varint(&mut self.0, value.len() as u64);
        self.0.extend_from_slice(value);
        self
    }

    /// Appends a string field.
    pub fn string(self, number: u32, value: &str) -> Self {
        self.bytes(number, value.as_bytes())
    }

    /// Appends a nested message field.
    pub fn msg(self, number: u32, value: Msg) -> Self {
        self.bytes(number, &value.0)
    }

    /// The encoded bytes.
    pub fn encoded(&self) -> Vec<u8> {
        self.0.clone()
    }
}
