//! Byte classes of one event, one bit per byte: which bytes are ASCII
//! digits and which end a plain run of string characters (`"`, `\` or a
//! control character).
//!
//! Owns: the classification and the "next byte of a class" lookups. May not
//! touch: JSON grammar (that is [`super::skip`]).
//!
//! Why: the router's time goes into walking values no rule references, and
//! most of their bytes are digits and string characters. Classifying the
//! whole event sixteen bytes at a time (`wide`: SSE2 on x86-64, NEON on
//! aarch64, plain code elsewhere; no `unsafe` here) turns "where does this
//! number or string end" into a shift and a trailing-zero count.

use wide::u8x16;

/// The classes of one event's bytes, reused from event to event. Bit `k` of
/// word `w` describes byte `64 w + k`. Past the end of the text every byte
/// counts as a non-digit and a stop, so every search ends by the text's end.
#[derive(Clone, Debug, Default)]
pub struct Classes {
    digits: Vec<u64>,
    stops: Vec<u64>,
}

/// Digit and stop bits of 64 bytes.
#[inline(always)]
fn classify(chunk: &[u8; 64]) -> (u64, u64) {
    let zero = u8x16::splat(b'0');
    let nine = u8x16::splat(9);
    let quote = u8x16::splat(b'"');
    let backslash = u8x16::splat(b'\\');
    let last_control = u8x16::splat(0x1f);
    let mut digits = 0u64;
    let mut stops = 0u64;
    for (k, part) in chunk.chunks_exact(16).enumerate() {
        let Some(part) = part.first_chunk::<16>() else { continue };
        let bytes = u8x16::new(*part);
        // Digits: `byte - '0'` (wrapping) is at most 9.
        let offset = bytes - zero;
        let digit = offset.min(nine).simd_eq(offset);
        // Controls: the byte is at most 0x1f (unsigned).
        let stop = bytes.simd_eq(quote) | bytes.simd_eq(backslash) | bytes.min(last_control).simd_eq(bytes);
        digits |= u64::from(digit.to_bitmask()) << (16 * k);
        stops |= u64::from(stop.to_bitmask()) << (16 * k);
    }
    (digits, stops)
}

impl Classes {
    /// Classifies `bytes`, replacing what was there.
    pub fn compute(&mut self, bytes: &[u8]) {
        // One word per 64 bytes plus the padded last (possibly empty) one.
        let words = bytes.len() / 64 + 1;
        self.digits.resize(words, 0);
        self.stops.resize(words, 0);
        let mut chunks = bytes.chunks_exact(64);
        for ((digits, stops), chunk) in self.digits.iter_mut().zip(self.stops.iter_mut()).zip(&mut chunks) {
            if let Some(chunk) = chunk.first_chunk::<64>() {
                (*digits, *stops) = classify(chunk);
            }
        }
        // Padding with NUL: a control character, so a stop and not a digit.
        let rest = chunks.remainder();
        let mut last = [0u8; 64];
        last[..rest.len()].copy_from_slice(rest);
        let (digits, stops) = classify(&last);
        self.digits[words - 1] = digits;
        self.stops[words - 1] = stops;
    }

    /// The digit bits and the stop bits.
    pub fn words(&self) -> (&[u64], &[u64]) {
        (&self.digits, &self.stops)
    }
}

/// The first bit at or after `i` that is set in the stop words. The padding
/// guarantees one.
#[inline(always)]
pub fn next_stop(words: &[u64], i: usize) -> usize {
    let mut word = i / 64;
    let found = words.get(word).map_or(1, |w| w >> (i % 64));
    if found != 0 {
        return i + found.trailing_zeros() as usize;
    }
    loop {
        word += 1;
        match words.get(word) {
            Some(&0) => {}
            Some(w) => return word * 64 + w.trailing_zeros() as usize,
            None => return word * 64,
        }
    }
}

/// The first bit at or after `i` that is clear in the digit words. The
/// padding guarantees one.
#[inline(always)]
pub fn digits_end(words: &[u64], i: usize) -> usize {
    let mut word = i / 64;
    let found = words.get(word).map_or(1, |w| !w >> (i % 64));
    if found != 0 {
        return i + found.trailing_zeros() as usize;
    }
    loop {
        word += 1;
        match words.get(word) {
            Some(&u64::MAX) => {}
            Some(w) => return word * 64 + (!w).trailing_zeros() as usize,
            None => return word * 64,
        }
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
                let mut classes = Classes::default();
                classes.compute(&text);
                let is_digit = byte.is_ascii_digit();
                let is_stop = byte == b'"' || byte == b'\\' || byte < 0x20;
                assert_eq!(digits_end(&classes.digits, position) == position, !is_digit, "{byte:#x} at {position}");
                assert_eq!(next_stop(&classes.stops, position) == position, is_stop, "{byte:#x} at {position}");
                assert_eq!(next_stop(&classes.stops, 0), if is_stop { position } else { text.len() });
            }
        }
    }

    #[test]
    fn searches_cross_words_and_end_at_the_text_end() {
        for len in [0, 1, 63, 64, 65, 127, 128, 200] {
            let digits = vec![b'7'; len];
            let mut classes = Classes::default();
            classes.compute(&digits);
            for start in [0, len / 2, len] {
                assert_eq!(digits_end(&classes.digits, start), len, "len {len} from {start}");
                assert!(next_stop(&classes.stops, start) >= len);
            }
        }
        let mut text = vec![b'x'; 300];
        text[250] = b'"';
        let mut classes = Classes::default();
        classes.compute(&text);
        assert_eq!(next_stop(&classes.stops, 3), 250);
        assert_eq!(next_stop(&classes.stops, 251), 300);
        assert_eq!(digits_end(&classes.digits, 70), 70);
    }
}
