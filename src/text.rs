//! The one reader of the user's text files (mappings, energy tables, architectures, sweep files,
//! accuracy tables, validation folders): bounded in size before anything is parsed, and, for
//! the nested formats (YAML, TOML, JSON), in nesting depth, checked in one linear pass, so a
//! hostile file is refused at once instead of parsing in quadratic time or overflowing the stack.

use std::io::{Error, ErrorKind, Read};
use std::path::Path;

/// The largest text file read: far above any real configuration file.
pub const MAX_BYTES: u64 = 16 << 20;
/// The deepest nesting of `[` and `{` accepted (real files nest a handful of levels).
pub const MAX_DEPTH: usize = 64;

/// The file's bytes, refused past [`MAX_BYTES`] without reading further (a device or a pipe
/// that never ends included).
pub fn read_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("more than {} MiB; accepted: text files of at most that size", MAX_BYTES >> 20),
        ));
    }
    Ok(bytes)
}

/// A UTF-8 text file, bounded in size.
pub fn read(path: &Path) -> std::io::Result<String> {
    String::from_utf8(read_bytes(path)?)
        .map_err(|e| Error::new(ErrorKind::InvalidData, format!("not UTF-8 text ({e})")))
}

/// A YAML, TOML or JSON file, bounded in size and in nesting depth.
pub fn read_nested(path: &Path) -> std::io::Result<String> {
    let text = read(path)?;
    check_depth(&text).map_err(|message| Error::new(ErrorKind::InvalidData, message))?;
    Ok(text)
}

/// Refuses nesting of `[` and `{` deeper than [`MAX_DEPTH`], outside quoted strings and `#`
/// comments, in one pass over the text. A quote opens a string only where a value starts (after
/// a separator or a space), as in YAML, TOML and JSON, so `don't` hides no brackets.
pub fn check_depth(text: &str) -> Result<(), String> {
    let (mut depth, mut line) = (0usize, 1usize);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut comment = false;
    let mut previous = '\n';
    for c in text.chars() {
        let before = std::mem::replace(&mut previous, c);
        if c == '\n' {
            // A quote left open by a stray apostrophe (`the '90s`) ends with its line, so it
            // cannot hide the brackets that follow.
            line += 1;
            comment = false;
            quote = None;
            escaped = false;
            continue;
        }
        if comment {
            continue;
        }
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' if before.is_whitespace() || ":,[{-=".contains(before) => quote = Some(c),
                '#' => comment = true,
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(format!(
                            "brackets nested more than {MAX_DEPTH} deep at line {line}; accepted: at most {MAX_DEPTH} levels"
                        ));
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_brackets_outside_strings_and_comments() {
        assert!(check_depth(&"[".repeat(MAX_DEPTH)).is_ok());
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert!(check_depth(&deep).unwrap_err().contains("nested more than 64 deep at line 1"));
        let quoted = format!("a = \"{deep}\"\nb = '{deep}' # {deep}\n");
        assert!(check_depth(&quoted).is_ok());
        assert!(check_depth(&format!("name: don't\n{deep}")).is_err());
        assert!(check_depth(&format!("description: the '90s look\nx: {deep}")).is_err());
        assert!(check_depth(&format!("a: \"\\\"\"\n{deep}")).unwrap_err().contains("at line 2"));
    }
}
