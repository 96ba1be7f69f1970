//! Echoing what a caller sent back into a message, safely: input can be huge or hold
//! control characters, and an error that repeats 130 kB of it (or a newline that breaks a
//! table or a log line) helps nobody.

use std::fmt::Write as _;

/// How much of a caller's value an error message repeats.
pub const ECHO_CHARS: usize = 64;

/// `value` as an error message may quote it: at most `max_chars` characters, control
/// characters escaped (`\n`, `\t`, `\u{7}`), and a note of how much was left out.
pub fn excerpt(value: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (shown, ch) in value.chars().enumerate() {
        if shown == max_chars {
            let rest = value.chars().count() - shown;
            let _ = write!(out, "... ({rest} more characters)");
            return out;
        }
        if ch.is_control() {
            out.extend(ch.escape_default());
        } else {
            out.push(ch);
        }
    }
    out
}

/// [`excerpt`] with the default length, [`ECHO_CHARS`].
pub fn echo(value: &str) -> String {
    excerpt(value, ECHO_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_kept_and_control_characters_escaped() {
        assert_eq!(echo("shop"), "shop");
        assert_eq!(echo("a\tb\nc"), "a\\tb\\nc");
    }

    #[test]
    fn long_values_are_cut_and_say_how_much_is_missing() {
        let long = "x".repeat(130_000);
        let shown = echo(&long);
        assert_eq!(
            shown,
            format!("{}... (129936 more characters)", "x".repeat(64))
        );
    }
}
