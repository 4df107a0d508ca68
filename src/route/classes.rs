//! Byte classes, searched sixteen bytes at a time: where a run of ASCII
//! digits ends, and where the next string stop is (`"`, `\` or a control
//! character).
//!
//! Owns: the two searches. May not touch: JSON grammar (that is
//! [`super::skip`]).
//!
//! Why: the router's time goes into walking values no rule references, and
//! most of their bytes are digits and string characters. Each search loads
//! sixteen bytes into one vector (`wide`: SSE2 on x86-64, NEON on aarch64,
//! plain code elsewhere; no `unsafe` here), classifies them in three or four
//! vector operations and takes the first hit from a bit mask. Only the
//! bytes a search visits are classified: an earlier version classified the
//! whole event up front into bitmaps, which cost more than the searches.

use wide::u8x16;

/// The sixteen bytes from `i`. Past the end of the text every byte is NUL:
/// not a digit, and a stop (a control character), so every search ends by
/// the text's end.
#[inline(always)]
fn chunk(bytes: &[u8], i: usize) -> u8x16 {
    match sixteen(bytes, i) {
        Some(window) => u8x16::new(*window),
        None => tail(bytes, i),
    }
}

/// The sixteen bytes from `i`, if the text has them.
#[inline(always)]
pub fn sixteen(bytes: &[u8], i: usize) -> Option<&[u8; 16]> {
    // One comparison: `i + 16 <= len` without overflow.
    if i < bytes.len().saturating_sub(15) {
        bytes[i..i + 16].first_chunk::<16>()
    } else {
        None
    }
}

/// [`chunk`] within sixteen bytes of the end.
#[cold]
fn tail(bytes: &[u8], i: usize) -> u8x16 {
    let mut padded = [0u8; 16];
    let rest = bytes.get(i..).unwrap_or_default();
    let len = rest.len().min(16);
    padded[..len].copy_from_slice(&rest[..len]);
    u8x16::new(padded)
}

/// The first index at or after `i` whose byte is not an ASCII digit (the
/// text's length at the latest).
#[inline(always)]
pub fn digits_end(bytes: &[u8], mut i: usize) -> usize {
    let zero = u8x16::splat(b'0');
    let nine = u8x16::splat(9);
    loop {
        // Digits: `byte - '0'` (wrapping) is at most 9.
        let offset = chunk(bytes, i) - zero;
        let digits = offset.min(nine).simd_eq(offset).to_bitmask();
        let others = !digits & 0xffff;
        if others != 0 {
            return i + others.trailing_zeros() as usize;
        }
        i += 16;
    }
}

/// The first index at or after `i` whose byte is `"`, `\` or a control
/// character, or the text's length.
#[inline(always)]
pub fn next_stop(bytes: &[u8], mut i: usize) -> usize {
    let quote = u8x16::splat(b'"');
    let backslash = u8x16::splat(b'\\');
    let last_control = u8x16::splat(0x1f);
    loop {
        let bytes16 = chunk(bytes, i);
        // Controls: the byte is at most 0x1f (unsigned).
        let stops = bytes16.simd_eq(quote) | bytes16.simd_eq(backslash) | bytes16.min(last_control).simd_eq(bytes16);
        let stops = stops.to_bitmask() & 0xffff;
        if stops != 0 {
            return i + stops.trailing_zeros() as usize;
        }
        i += 16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_value_at_every_position_of_a_chunk_is_classified_like_the_scalar_rule() {
        for position in [0, 1, 15, 16, 31, 47, 63, 64, 100] {
            for byte in 0..=255u8 {
                let mut text = vec![b'a'; 130];
                text[position] = byte;
                let is_digit = byte.is_ascii_digit();
                let is_stop = byte == b'"' || byte == b'\\' || byte < 0x20;
                assert_eq!(digits_end(&text, position) == position, !is_digit, "{byte:#x} at {position}");
                assert_eq!(next_stop(&text, position) == position, is_stop, "{byte:#x} at {position}");
                assert_eq!(next_stop(&text, 0), if is_stop { position } else { text.len() });
            }
        }
    }

    #[test]
    fn searches_cross_chunks_and_end_at_the_text_end() {
        for len in [0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 200] {
            let digits = vec![b'7'; len];
            for start in [0, len / 2, len] {
                assert_eq!(digits_end(&digits, start), len, "len {len} from {start}");
                assert_eq!(next_stop(&digits, start), len, "len {len} from {start}");
            }
        }
        let mut text = vec![b'x'; 300];
        text[250] = b'"';
        assert_eq!(next_stop(&text, 3), 250);
        assert_eq!(next_stop(&text, 251), 300);
        assert_eq!(digits_end(&text, 70), 70);
        // Past the end, a search answers where it started.
        assert_eq!(next_stop(&text, 305), 305);
        assert_eq!(digits_end(&text, 305), 305);
    }
}
