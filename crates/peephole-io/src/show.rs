//! Input echoed to a terminal, made safe to print: control characters (ANSI escapes, NUL,
//! newlines, carriage returns) and bidirectional overrides are written as `\u{..}` escapes,
//! so a hostile name or source line cannot forge output lines, recolour the terminal or show
//! text in another order than it is read; and long inputs are cut with a count of what was
//! left out, so a 10 MB line is not copied to a CI log.

/// How many characters of one input are shown at most before it is cut.
pub const MAX_SHOWN_CHARS: usize = 240;

/// Whether `c` must not reach a terminal as itself. Tabs stay: they are harmless and source
/// lines use them.
fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// How `c` is shown: itself, or its escape.
fn push_shown(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\0' => out.push_str("\\0"),
        c if is_unsafe(c) => out.extend(c.escape_unicode()),
        c => out.push(c),
    }
}

/// `text` with every control and bidirectional-override character escaped, whole.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_shown(&mut out, c);
    }
    out
}

/// `text` escaped and cut after [`MAX_SHOWN_CHARS`] characters, with a count of the
/// characters left out.
pub fn shown(text: &str) -> String {
    let (excerpt, _) = excerpt(text, 0, MAX_SHOWN_CHARS);
    excerpt
}

/// A window of at most about `width` characters of the line `text` around the character at
/// `column` (0-based), escaped, with `...(N characters)` marks for what was cut on either
/// side; and the 0-based column at which the character at `column` is shown in it, so a
/// caret can point at it.
pub fn excerpt(text: &str, column: usize, width: usize) -> (String, usize) {
    let total = text.chars().count();
    let width = width.max(1);
    let start = if total <= width {
        0
    } else {
        column.saturating_sub(width / 4).min(total - width)
    };
    let end = (start + width).min(total);
    let mut out = String::new();
    if start > 0 {
        out.push_str(&format!("...({start} characters) "));
    }
    let mut caret = None;
    for (index, c) in text.chars().enumerate().skip(start).take(end - start) {
        if index == column {
            caret = Some(out.chars().count());
        }
        push_shown(&mut out, c);
    }
    let caret = caret.unwrap_or_else(|| out.chars().count());
    if end < total {
        out.push_str(&format!(" ...({} more characters)", total - end));
    }
    (out, caret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_escapes_newlines_and_nul_cannot_forge_a_line() {
        let name = "ok\u{1b}[2K\rwarning: all good, ship it\n\0";
        let shown = escape(name);
        assert_eq!(shown, "ok\\u{1b}[2K\\rwarning: all good, ship it\\n\\0");
        assert!(!shown.chars().any(|c| c.is_control()));
    }

    #[test]
    fn bidi_overrides_are_escaped_and_ordinary_unicode_is_not() {
        assert_eq!(escape("a\u{202E}b\u{2066}c"), "a\\u{202e}b\\u{2066}c");
        assert_eq!(
            escape("conv 3×3 → ±5% Ünïcode\t"),
            "conv 3×3 → ±5% Ünïcode\t"
        );
    }

    #[test]
    fn a_long_input_is_cut_with_a_count_of_what_was_left_out() {
        let long = "x".repeat(10_000_000);
        let shown = shown(&long);
        assert!(shown.len() < 300, "{}", shown.len());
        assert!(
            shown.ends_with(&format!(
                " ...({} more characters)",
                10_000_000 - MAX_SHOWN_CHARS
            )),
            "{shown}"
        );
    }

    #[test]
    fn an_excerpt_keeps_the_pointed_character_in_view_and_says_where_it_is() {
        let line = format!("{}^{}", "a".repeat(5000), "b".repeat(5000));
        let (excerpt, caret) = super::excerpt(&line, 5000, 80);
        assert_eq!(excerpt.chars().nth(caret), Some('^'), "{excerpt}");
        assert!(excerpt.starts_with("...(4980 characters) "), "{excerpt}");
        assert!(excerpt.ends_with(" ...(4941 more characters)"), "{excerpt}");
        let (short, caret) = super::excerpt("conv relu", 5, 80);
        assert_eq!((short.as_str(), caret), ("conv relu", 5));
    }
}
