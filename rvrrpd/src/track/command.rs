//! Command lines of scripts, split into arguments without a shell (as keepalived does):
//! whitespace separates arguments, `"..."` and `'...'` quote (no expansion inside), `\`
//! escapes the next character outside single quotes.

/// Why a command line cannot be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Nothing to run.
    #[error("is empty")]
    Empty,
    /// A quote was opened and never closed.
    #[error("has an unterminated {0} quote")]
    Unterminated(char),
    /// The line ends with a lone backslash.
    #[error("ends with a lone backslash")]
    TrailingBackslash,
}

/// Splits `line` into the program and its arguments.
pub fn split(line: &str) -> Result<Vec<String>, CommandError> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return Err(CommandError::Unterminated(c)),
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => match chars.next() {
                            Some(e) => current.push(e),
                            None => return Err(CommandError::Unterminated(c)),
                        },
                        Some(other) => current.push(other),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(e) => current.push(e),
                    None => return Err(CommandError::TrailingBackslash),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    args.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    if in_word {
        args.push(current);
    }
    if args.is_empty() {
        return Err(CommandError::Empty);
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Vec<String> {
        split(line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
    }

    #[test]
    fn words_quotes_and_escapes() {
        assert_eq!(ok("/bin/check"), ["/bin/check"]);
        assert_eq!(ok("  /bin/check  -q  eth0 "), ["/bin/check", "-q", "eth0"]);
        assert_eq!(
            ok(r#"/bin/x "a b" 'c "d"' e\ f"#),
            ["/bin/x", "a b", "c \"d\"", "e f"]
        );
        assert_eq!(
            ok(r#"/bin/x "say \"hi\"" ''"#),
            ["/bin/x", "say \"hi\"", ""]
        );
        assert_eq!(ok(r"/bin/x 'no \escape'"), ["/bin/x", r"no \escape"]);
        assert_eq!(ok("/bin/x a\"b c\"d"), ["/bin/x", "ab cd"]);
    }

    #[test]
    fn bad_lines_are_named() {
        assert_eq!(split(""), Err(CommandError::Empty));
        assert_eq!(split("   \t"), Err(CommandError::Empty));
        assert_eq!(split("/bin/x 'open"), Err(CommandError::Unterminated('\'')));
        assert_eq!(split("/bin/x \"open"), Err(CommandError::Unterminated('"')));
        assert_eq!(split("/bin/x \\"), Err(CommandError::TrailingBackslash));
    }
}
