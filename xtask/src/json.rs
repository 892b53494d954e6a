//! Just enough JSON reading to take one field out of `cargo metadata`, keeping xtask on std + anyhow.

use std::str::Chars;

/// The string value of `key` in the outermost object of `json`; keys of nested objects, such as
/// a package's `[package.metadata]`, are not mistaken for it.
pub fn top_level_string(json: &str, key: &str) -> Option<String> {
    let mut chars = json.chars();
    let mut depth = 0usize;
    // The last string read at depth 1, while it may still turn out to be a key.
    let mut last_string: Option<String> = None;
    let mut value_is_wanted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let string = read_string(&mut chars)?;
                if depth == 1 {
                    if value_is_wanted {
                        return Some(string);
                    }
                    last_string = Some(string);
                }
            }
            ':' if depth == 1 => value_is_wanted = last_string.take().as_deref() == Some(key),
            '{' | '[' => {
                depth += 1;
                value_is_wanted = false;
            }
            '}' | ']' => depth = depth.checked_sub(1)?,
            ',' if depth == 1 => {
                last_string = None;
                value_is_wanted = false;
            }
            _ => {}
        }
    }
    None
}

/// Reads a string whose opening quote was just consumed, through its closing quote.
fn read_string(chars: &mut Chars) -> Option<String> {
    let mut string = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(string),
            '\\' => string.push(match chars.next()? {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                'b' => '\u{8}',
                'f' => '\u{c}',
                'u' => read_escaped_char(chars)?,
                other => other,
            }),
            c => string.push(c),
        }
    }
}

/// A `\u` escape whose `\u` was just consumed, including a surrogate pair's second half.
fn read_escaped_char(chars: &mut Chars) -> Option<char> {
    let first = read_hex4(chars)?;
    if !(0xD800..0xDC00).contains(&first) {
        return char::from_u32(u32::from(first));
    }
    if chars.next()? != '\\' || chars.next()? != 'u' {
        return None;
    }
    let second = read_hex4(chars)?;
    char::decode_utf16([first, second]).next()?.ok()
}

fn read_hex4(chars: &mut Chars) -> Option<u16> {
    let hex: String = chars.by_ref().take(4).collect();
    if hex.len() != 4 {
        return None;
    }
    u16::from_str_radix(&hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_top_level_field_after_nested_ones_of_the_same_name() {
        let json = r#"{"packages":[{"name":"x","metadata":{"target_directory":"/wrong"}}],
            "target_directory" : "/var/tmp/veld\"werk\\t\u00e9\ud83d\ude00","version":1}"#;
        assert_eq!(
            top_level_string(json, "target_directory").as_deref(),
            Some("/var/tmp/veld\"werk\\té😀")
        );
    }

    #[test]
    fn a_value_equal_to_the_key_is_not_a_key() {
        let json = r#"{"a":"target_directory","b":2,"target_directory":"/t"}"#;
        assert_eq!(
            top_level_string(json, "target_directory").as_deref(),
            Some("/t")
        );
        assert_eq!(
            top_level_string(r#"{"a":"target_directory"}"#, "target_directory"),
            None
        );
    }
}
