//! The protobuf wire format: varints, field keys and length-delimited slices, read without panicking.

/// How a field's value is laid out on the wire (the low three bits of its key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireType {
    /// A base-128 varint.
    Varint,
    /// Eight little-endian bytes.
    Fixed64,
    /// A varint length, then that many bytes (strings, bytes, messages, packed repeats).
    Len,
    /// Four little-endian bytes.
    Fixed32,
}

impl WireType {
    /// The name used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Varint => "varint",
            Self::Fixed64 => "fixed64",
            Self::Len => "length-delimited",
            Self::Fixed32 => "fixed32",
        }
    }
}

/// One field as read from the wire: its number and its still-undecoded value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Raw<'a> {
    /// A varint's value.
    Varint(u64),
    /// A fixed64's value.
    Fixed64(u64),
    /// A length-delimited slice.
    Len(&'a [u8]),
    /// A fixed32's value.
    Fixed32(u32),
}

impl Raw<'_> {
    /// The wire type this value was read with.
    pub fn wire_type(&self) -> WireType {
        match self {
            Self::Varint(_) => WireType::Varint,
            Self::Fixed64(_) => WireType::Fixed64,
            Self::Len(_) => WireType::Len,
            Self::Fixed32(_) => WireType::Fixed32,
        }
    }
}

/// A cursor over one message's bytes that yields its fields in order.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the first byte of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Reads the next field, or `None` at the end of the message.
    pub fn next_field(&mut self) -> Option<Result<(u32, Raw<'a>), String>> {
        if self.pos >= self.buf.len() {
            return None;
        }
        Some(self.field())
    }

    fn field(&mut self) -> Result<(u32, Raw<'a>), String> {
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).map_err(|_| format!("field number {} is too large", key >> 3))?;
        if number == 0 {
            return Err("field number 0 is not valid".into());
        }
        let raw = match key & 7 {
            0 => Raw::Varint(self.varint()?),
            1 => Raw::Fixed64(u64::from_le_bytes(self.array::<8>()?)),
            2 => {
                let len = self.varint()?;
                Raw::Len(self.take(len)?)
            }
            5 => Raw::Fixed32(u32::from_le_bytes(self.array::<4>()?)),
            3 | 4 => {
                return Err(format!("field {number} uses the deprecated group encoding, which is not supported"));
            }
            other => return Err(format!("field {number} has the unknown wire type {other}")),
        };
        Ok((number, raw))
    }

    /// Reads a base-128 varint (at most ten bytes).
    pub fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = *self.buf.get(self.pos).ok_or_else(|| format!("truncated varint at byte {}", self.pos))?;
            self.pos += 1;
            if shift == 63 && byte > 1 {
                return Err(format!("varint longer than 64 bits ending at byte {}", self.pos));
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(format!("varint longer than ten bytes ending at byte {}", self.pos))
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], String> {
        let left = self.buf.len() - self.pos;
        let len = usize::try_from(len).ok().filter(|len| *len <= left).ok_or_else(|| {
            format!("length {len} at byte {} runs past the end of the message ({left} bytes left)", self.pos)
        })?;
        let slice = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let slice = self.take(N as u64)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    /// True once every byte has been read.
    pub fn is_done(&self) -> bool {
        self.pos >= self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(buf: &[u8]) -> Result<Vec<(u32, Raw<'_>)>, String> {
        let mut reader = Reader::new(buf);
        std::iter::from_fn(|| reader.next_field()).collect()
    }

    #[test]
    fn a_varint_a_string_and_fixed_fields_are_read_in_order() {
        let buf = [0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x1d, 1, 0, 0, 0, 0x21, 2, 0, 0, 0, 0, 0, 0, 0];
        let got = fields(&buf).unwrap();
        assert_eq!(got, vec![(1, Raw::Varint(150)), (2, Raw::Len(b"hi")), (3, Raw::Fixed32(1)), (4, Raw::Fixed64(2))]);
    }

    #[test]
    fn the_largest_varint_is_accepted_and_an_eleventh_byte_is_refused() {
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(Reader::new(&max).varint(), Ok(u64::MAX));
        let too_long = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert!(Reader::new(&too_long).varint().unwrap_err().contains("longer than 64 bits"));
    }

    #[test]
    fn a_truncated_varint_is_an_error() {
        let err = fields(&[0x08, 0x96]).unwrap_err();
        assert!(err.contains("truncated varint"), "{err}");
    }

    #[test]
    fn a_length_past_the_end_is_an_error() {
        let err = fields(&[0x12, 0x05, b'a']).unwrap_err();
        assert!(err.contains("runs past the end"), "{err}");
    }

    #[test]
    fn groups_and_unknown_wire_types_are_errors() {
        assert!(fields(&[0x0b]).unwrap_err().contains("group"));
        assert!(fields(&[0x0e]).unwrap_err().contains("unknown wire type 6"));
        assert!(fields(&[0x00]).unwrap_err().contains("field number 0"));
    }
}
