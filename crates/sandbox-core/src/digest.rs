//! FNV-1a, the small stable hash the sandbox derives names and IDs from (Event names, OpenAPI
//! cache keys, suffixes of Jobs run by hand, container and image IDs, the pod-template hash).
//! Stable across runs and machines; never used where an attacker's choice of input matters.

/// The 64-bit offset basis.
pub const OFFSET_64: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME_64: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a of `bytes`.
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    fnv1a_64_from(OFFSET_64, bytes)
}

/// 64-bit FNV-1a of `bytes` starting from another basis, for several independent digests of one text.
pub fn fnv1a_64_from(basis: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(basis, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME_64))
}

/// 32-bit FNV-1a of `bytes` (what upstream's pod-template hash uses).
pub fn fnv1a_32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_vectors_hash_as_published() {
        assert_eq!(fnv1a_64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a_32(b""), 0x811c9dc5);
        assert_eq!(fnv1a_32(b"a"), 0xe40c292c);
    }
}
