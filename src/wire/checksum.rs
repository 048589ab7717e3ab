//! The Internet checksum (RFC 1071), used by VRRP adverts (RFC 5798 §5.2.8), ICMPv6
//! neighbour discovery (RFC 4443 §2.3) and the ICMP echo of `PING_CHECK` (RFC 792).

/// One's-complement sum of `data` read as big-endian 16-bit words, added to `init` (a
/// previous partial sum, e.g. of a pseudo-header); an odd trailing byte is padded with zero.
/// The result is kept below 2^17 but not folded: chain calls, then [`fold`].
pub fn sum_words(data: &[u8], init: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    let mut sum = init;
    for c in &mut chunks {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
        sum = (sum & 0xffff) + (sum >> 16);
    }
    if let [last] = chunks.remainder() {
        sum = sum.wrapping_add(u32::from(*last) << 8);
    }
    sum
}

/// Folds the carries of a [`sum_words`] partial sum into 16 bits. A message whose checksum
/// field holds the right value folds to `0xffff`; the value to write is `!fold(sum)` computed
/// with the field zeroed.
pub fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The checksum of `data` alone (no pseudo-header): `!fold(sum_words(data, 0))`.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum_words(data, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 §3's example: the words 0001 f203 f4f5 f6f7 sum to ddf2 (folded).
    #[test]
    fn rfc_1071_example_and_odd_lengths() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum_words(&data, 0)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
        // An odd last byte counts as the high byte of a zero-padded word.
        assert_eq!(fold(sum_words(&[0x12, 0x34, 0x56], 0)), 0x1234 + 0x5600);
        // Chaining over a split at an even offset equals one pass.
        let whole = fold(sum_words(&data, 0));
        assert_eq!(fold(sum_words(&data[4..], sum_words(&data[..4], 0))), whole);
        // A message with its checksum filled in verifies (folds to 0xffff).
        let mut msg = data.to_vec();
        msg.extend_from_slice(&checksum(&data).to_be_bytes());
        assert_eq!(fold(sum_words(&msg, 0)), 0xffff);
    }
}
