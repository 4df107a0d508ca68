//! Byte classes, searched sixteen bytes at a time: where a run of ASCII
//! digits ends, where the next string stop is (`"`, `\` or a control
//! character), and where the bracket that closes a container is.
//!
//! Owns: the three searches. May not touch: JSON grammar (that is
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
    match window::<16>(bytes, i) {
        Some(window) => u8x16::new(*window),
        None => tail(bytes, i),
    }
}

/// The `N` bytes from `i`, if the text has them.
#[inline(always)]
pub fn window<const N: usize>(bytes: &[u8], i: usize) -> Option<&[u8; N]> {
    // One comparison: `i + N <= len` without overflow.
    if i < bytes.len().saturating_sub(N - 1) {
        bytes[i..i + N].first_chunk::<N>()
    } else {
        None
    }
}

/// Bit n set: `window[n]` is an ASCII digit.
#[inline(always)]
pub fn digit_mask(window: &[u8; 32]) -> u32 {
    let zero = u8x16::splat(b'0');
    let nine = u8x16::splat(9);
    let [low, high] = [&window[..16], &window[16..]].map(|half| {
        let mut part = [0u8; 16];
        part.copy_from_slice(half);
        // Digits: `byte - '0'` (wrapping) is at most 9.
        let offset = u8x16::new(part) - zero;
        offset.min(nine).simd_eq(offset).to_bitmask() & 0xffff
    });
    low | high << 16
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

/// The index after the `}` or `]` that closes the container whose opening
/// bracket is at `open`, counting brackets outside strings only; `None` if
/// the text ends first. Nothing else is checked: this is the skip of
/// [`super::Validation::Referenced`], for text known to be valid JSON
/// (which brackets close which, and the grammar of what is between them,
/// are not looked at).
///
/// Sixty-four bytes at a time: quotes, backslashes and brackets are
/// classified in four vectors, the bytes inside strings are found with a
/// prefix XOR of the quote mask (a string that spans blocks carries over),
/// and the depth changes by the count of openers minus closers. Only a
/// block that could close the container is walked bracket by bracket, and
/// only one with a backslash (where a quote may be escaped) byte by byte.
pub fn bracket_end(bytes: &[u8], open: usize) -> Option<usize> {
    let mut depth = 1u32;
    // All ones when the block starts inside a string.
    let mut in_string = 0u64;
    let mut i = open + 1;
    while i < bytes.len() {
        let block = Block::at(bytes, i);
        if block.backslashes != 0 {
            (i, depth, in_string) = walk_bytes(bytes, i, depth, in_string)?;
            if depth == 0 {
                return Some(i);
            }
            continue;
        }
        // Bytes of strings: from an opening quote up to its closing quote
        // (which is not marked, nor is any bracket ever a quote).
        let mut strings = block.quotes;
        strings ^= strings << 1;
        strings ^= strings << 2;
        strings ^= strings << 4;
        strings ^= strings << 8;
        strings ^= strings << 16;
        strings ^= strings << 32;
        strings ^= in_string;
        let openers = block.openers & !strings;
        let closers = block.closers & !strings;
        let closed = ones(closers);
        if closed >= depth {
            // This block may close the container: follow its brackets.
            let mut brackets = openers | closers;
            while brackets != 0 {
                let at = brackets.trailing_zeros();
                if openers >> at & 1 != 0 {
                    depth += 1;
                } else {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i + at as usize + 1);
                    }
                }
                brackets &= brackets - 1;
            }
        } else {
            depth = depth + ones(openers) - closed;
        }
        // Shifting the sign bit across: all ones when the last byte is in
        // a string.
        in_string = ((strings as i64) >> 63) as u64;
        i += 64;
    }
    None
}

/// The number of set bits (SWAR: x86-64's baseline has no `popcnt`, and
/// `count_ones` would call a slower generic routine).
#[inline(always)]
fn ones(mut x: u64) -> u32 {
    x -= (x >> 1) & 0x5555_5555_5555_5555;
    x = (x & 0x3333_3333_3333_3333) + ((x >> 2) & 0x3333_3333_3333_3333);
    x = (x + (x >> 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    (x.wrapping_mul(0x0101_0101_0101_0101) >> 56) as u32
}

/// Bit masks of one 64-byte block (bit n: byte `i + n`; NUL past the end).
struct Block {
    quotes: u64,
    backslashes: u64,
    openers: u64,
    closers: u64,
}

impl Block {
    #[inline(always)]
    fn at(bytes: &[u8], i: usize) -> Self {
        let quote = u8x16::splat(b'"');
        let backslash = u8x16::splat(b'\\');
        // `[` and `]` differ from `{` and `}` only in bit 0x20.
        let lower = u8x16::splat(0x20);
        let opener = u8x16::splat(b'{');
        let closer = u8x16::splat(b'}');
        let mut block = Self { quotes: 0, backslashes: 0, openers: 0, closers: 0 };
        for part in 0..4 {
            let chunk = chunk(bytes, i + 16 * part);
            let folded = chunk | lower;
            let shift = 16 * part;
            block.quotes |= u64::from(chunk.simd_eq(quote).to_bitmask() & 0xffff) << shift;
            block.backslashes |= u64::from(chunk.simd_eq(backslash).to_bitmask() & 0xffff) << shift;
            block.openers |= u64::from(folded.simd_eq(opener).to_bitmask() & 0xffff) << shift;
            block.closers |= u64::from(folded.simd_eq(closer).to_bitmask() & 0xffff) << shift;
        }
        block
    }
}

/// [`bracket_end`] byte by byte over the 64 bytes from `i` (and the byte
/// after an escape at the block's end), stopping early when `depth`
/// reaches zero: the next index, depth and string state. `None` when the
/// text ends.
#[inline(never)]
fn walk_bytes(bytes: &[u8], mut i: usize, mut depth: u32, in_string: u64) -> Option<(usize, u32, u64)> {
    let end = i + 64;
    let mut inside = in_string != 0;
    while i < end {
        let byte = *bytes.get(i)?;
        i += 1;
        if inside {
            match byte {
                b'"' => inside = false,
                b'\\' => i += 1,
                _ => {}
            }
        } else if byte == b'"' {
            inside = true;
        } else if byte | 0x20 == b'{' {
            depth += 1;
        } else if byte | 0x20 == b'}' {
            depth -= 1;
            if depth == 0 {
                return Some((i, 0, 0));
            }
        }
    }
    Some((i, depth, if inside { u64::MAX } else { 0 }))
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

    /// `{"k":"<pad>…"}` wrapped in `[` `]`: the end the bracket walk must find.
    fn wrapped(inner: &str) -> (String, usize) {
        let text = format!("[{inner}] tail");
        let end = text.len() - " tail".len();
        (text, end)
    }

    #[test]
    fn brackets_inside_strings_and_escaped_quotes_never_count_at_any_block_offset() {
        for pad in 0..140 {
            let filler = "x".repeat(pad);
            for inner in [
                format!(r#"{{"{filler}":"]}}[{{"}}"#),
                format!(r#"{{"k":"{filler}\"]\\"}},[]"#),
                format!(r#""{filler}\\\\",{{"a":[1,{{"b":"\\\"}}"}}]}}"#),
                "1,".repeat(pad) + "[[[]]]",
                format!(r#""{filler}é\"]\u005d""#),
            ] {
                let (text, end) = wrapped(&inner);
                assert_eq!(bracket_end(text.as_bytes(), 0), Some(end), "{text}");
            }
        }
    }

    #[test]
    fn deep_nesting_and_unclosed_containers() {
        for depth in [1, 2, 63, 64, 65, 200] {
            let text = format!("{}{} ", "[{\"a\":".repeat(depth), "}]".repeat(depth));
            assert_eq!(bracket_end(text.as_bytes(), 0), Some(text.len() - 1), "depth {depth}");
            let unclosed = &text[..text.len() - 2];
            assert_eq!(bracket_end(unclosed.as_bytes(), 0), None, "depth {depth}");
        }
        // A string that never ends hides the closer.
        assert_eq!(bracket_end(br#"{"a":"}"#, 0), None);
        assert_eq!(bracket_end(br#"{"a":"\"}"#, 0), None);
        assert_eq!(bracket_end(b"[", 0), None);
    }

    #[test]
    fn set_bits_are_counted_like_count_ones() {
        for x in [0u64, 1, u64::MAX, 0x8000_0000_0000_0001, 0x5555, 0xf0f0_f0f0_0f0f_0f0f, 0x1234_5678_9abc_def0] {
            assert_eq!(ones(x), x.count_ones(), "{x:#x}");
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
