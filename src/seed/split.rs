//! The JSON array splitter: hands on each element of a file's array as bytes, checking
//! only the array's own structure, for the parser threads to parse (`pipeline`).

use std::io::Read;

/// How `split_array` ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Split {
    /// The input was one JSON array, every element of which was handed on.
    Whole,
    /// The input is not a well-formed JSON array; some elements may have been handed on.
    Malformed,
}

/// Hands on each element of the JSON array `input` holds, as bytes, reading it in large
/// blocks; reads `input` to its end whatever it finds (the seed hash covers it all).
///
/// Only the array's own structure is checked here (brackets, commas, strings, so that
/// the elements' extents are right); each element is parsed by the caller, and on
/// `Malformed` the caller asks serde_json for the error. This is the import's hot path:
/// serde_json over an `io::Read` goes byte by byte, parsing a slice is several times
/// faster.
pub(super) fn split_array(
    input: &mut dyn Read,
    element: impl FnMut(&[u8]),
) -> std::io::Result<Split> {
    split_array_in_blocks(input, 4 << 20, element)
}

pub(super) fn split_array_in_blocks(
    input: &mut dyn Read,
    block: usize,
    mut element: impl FnMut(&[u8]),
) -> std::io::Result<Split> {
    let mut buffer: Vec<u8> = Vec::with_capacity(block * 2);
    let mut at = 0;
    let mut eof = false;
    // Where we are: before '[', before an element (or ']' when `first`), after one.
    #[derive(PartialEq)]
    enum State {
        Start,
        Element { first: bool },
        After,
        End,
    }
    let mut state = State::Start;
    // Drops what was consumed and appends the next block.
    let fill = |input: &mut dyn Read, buffer: &mut Vec<u8>, at: &mut usize, eof: &mut bool| {
        buffer.drain(..*at);
        *at = 0;
        let start = buffer.len();
        buffer.resize(start + block, 0);
        let read = read_full(input, &mut buffer[start..])?;
        buffer.truncate(start + read);
        *eof = read == 0;
        std::io::Result::Ok(())
    };
    loop {
        while at < buffer.len() && matches!(buffer[at], b' ' | b'\t' | b'\n' | b'\r') {
            at += 1;
        }
        if at == buffer.len() {
            if eof {
                return Ok(if state == State::End {
                    Split::Whole
                } else {
                    Split::Malformed
                });
            }
            fill(input, &mut buffer, &mut at, &mut eof)?;
            continue;
        }
        let byte = buffer[at];
        match state {
            State::Start if byte == b'[' => {
                at += 1;
                state = State::Element { first: true };
            }
            State::Element { first: true } if byte == b']' => {
                at += 1;
                state = State::End;
            }
            State::Element { .. } => match value_end(&buffer[at..]) {
                Some(Ok(len)) => {
                    element(&buffer[at..at + len]);
                    at += len;
                    state = State::After;
                }
                Some(Err(())) => break,
                None if eof => break,
                None => fill(input, &mut buffer, &mut at, &mut eof)?,
            },
            State::After if byte == b',' => {
                at += 1;
                state = State::Element { first: false };
            }
            State::After if byte == b']' => {
                at += 1;
                state = State::End;
            }
            _ => break,
        }
    }
    std::io::copy(input, &mut std::io::sink())?;
    Ok(Split::Malformed)
}

/// Reads until `buffer` is full or the input ends.
pub(super) fn read_full(input: &mut dyn Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut read = 0;
    while read < buffer.len() {
        match input.read(&mut buffer[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(read)
}

/// The length of the JSON value `bytes` starts with: `None` when `bytes` ends first,
/// `Err` when it cannot be a value. Tracks only strings and bracket depth; the value's
/// own syntax is checked when it is parsed.
pub(super) fn value_end(bytes: &[u8]) -> Option<Result<usize, ()>> {
    let mut depth = 0usize;
    let mut index = 0;
    loop {
        let byte = *bytes.get(index)?;
        match byte {
            b'"' => {
                index += 1;
                // Strings are most of a seed's bytes: find their ends a word at a time.
                loop {
                    index += memchr::memchr2(b'"', b'\\', bytes.get(index..)?)?;
                    match bytes[index] {
                        b'\\' => index += 2,
                        _ => break,
                    }
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return Some(if index == 0 { Err(()) } else { Ok(index) }),
            b'}' | b']' => depth -= 1,
            b',' | b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => {
                return Some(if index == 0 { Err(()) } else { Ok(index) })
            }
            _ => {}
        }
        index += 1;
        if depth == 0 && matches!(byte, b'"' | b'}' | b']') {
            return Some(Ok(index));
        }
    }
}
