//! A pass over the pattern's text before it is parsed: fancy-regex reads a few escapes and
//! groups otherwise than MongoDB's PCRE does, and its tree cannot tell some of them apart
//! (`$` and `\z` are both "end of text"). This pass rewrites the one it can (`\z` becomes
//! `(?!(?s:.))`, "no character follows") and refuses the others, so the tree the matcher runs
//! means what PCRE means.

/// Why a pattern is refused: the construct, for the message.
pub(super) struct Refused(pub(super) String);

fn refuse(what: &str) -> Refused {
    Refused(format!("{what} is not supported by the in-memory matcher"))
}

/// The pattern fancy-regex should parse, or why it cannot stand for the PCRE pattern.
pub(super) fn prepare(pattern: &str, extended: bool) -> Result<String, Refused> {
    let chars: Vec<char> = pattern.chars().collect();
    let extended = extended || has_inline_x(&chars);
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut at = 0;
    // Whether the previous item was a quantifier (a count after one is read differently).
    let mut after_quantifier = false;
    while at < chars.len() {
        let c = chars[at];
        let quantifier_before = after_quantifier;
        after_quantifier = false;
        match c {
            '\\' => {
                let Some(&next) = chars.get(at + 1) else { return Err(Refused("a trailing backslash".into())) };
                if next == 'z' {
                    out.push_str("(?!(?s:.))");
                } else {
                    escape(&chars, at, false)?;
                    out.push(c);
                    out.push(next);
                }
                at += 2;
                continue;
            }
            '[' => {
                let end = class_end(&chars, at)?;
                out.extend(&chars[at..end]);
                at = end;
                continue;
            }
            '(' => group_opening(&chars, at)?,
            '#' if extended => return Err(refuse("a comment in extended (x) mode")),
            '*' | '+' | '?' => after_quantifier = !quantifier_before,
            '{' => {
                if let Some(len) = count_len(&chars[at..]) {
                    if quantifier_before {
                        return Err(refuse("a counted repetition right after another quantifier"));
                    }
                    out.extend(&chars[at..at + len]);
                    at += len;
                    after_quantifier = true;
                    continue;
                }
                if chars.get(at + 1) == Some(&',') {
                    return Err(refuse("a count without a lower bound ({,n})"));
                }
            }
            _ => {}
        }
        out.push(c);
        at += 1;
    }
    Ok(out)
}

/// The length of a count `{n}`, `{n,}` or `{n,m}` at the start of `chars`, if it is one.
fn count_len(chars: &[char]) -> Option<usize> {
    let mut at = 1;
    let digits = |at: &mut usize| {
        let start = *at;
        while chars.get(*at).is_some_and(char::is_ascii_digit) {
            *at += 1;
        }
        *at > start
    };
    if !digits(&mut at) {
        return None;
    }
    if chars.get(at) == Some(&',') {
        at += 1;
        digits(&mut at);
    }
    (chars.get(at) == Some(&'}')).then_some(at + 1)
}

/// Checks the escape at `chars[at]` (a backslash); `in_class` inside brackets.
fn escape(chars: &[char], at: usize, in_class: bool) -> Result<(), Refused> {
    let next = chars[at + 1];
    let after = chars.get(at + 2).copied();
    match next {
        // Quoting, control characters, octal, grapheme clusters, Unicode properties, single
        // code units: PCRE features without a counterpart here.
        'Q' | 'E' | 'c' | 'o' | 'X' | 'p' | 'P' | 'C' | 'l' | 'L' | 'u' | 'U' => {
            Err(refuse(&format!("the escape \\{next}")))
        }
        // PCRE: horizontal / vertical space classes; fancy-regex: hex digits / a tab.
        'h' | 'H' | 'v' | 'V' => Err(refuse(&format!("the escape \\{next}"))),
        // PCRE: the characters `<` and `>`; fancy-regex: word boundaries.
        '<' | '>' if !in_class => Err(refuse(&format!("the escape \\{next}"))),
        'b' | 'B' if !in_class && after == Some('{') => Err(refuse("a \\b{…} boundary")),
        'N' if after == Some('{') => Err(refuse("a \\N{…} character name")),
        'x' => {
            let two_hex = chars.get(at + 2..at + 4).is_some_and(|h| h.iter().all(char::is_ascii_hexdigit));
            if after == Some('{') || two_hex { Ok(()) } else { Err(refuse("a \\x escape with fewer than two digits")) }
        }
        'g' | 'k' => Err(refuse("a backreference")),
        d if d.is_ascii_digit() => Err(refuse("a backreference or octal escape")),
        _ => Ok(()),
    }
}

/// The index after the bracket class opening at `chars[start]`, read as PCRE reads it (a `]`
/// first is a character, `[:name:]` is a POSIX class); its escapes are checked.
fn class_end(chars: &[char], start: usize) -> Result<usize, Refused> {
    let mut at = start + 1;
    if chars.get(at) == Some(&'^') {
        at += 1;
    }
    if chars.get(at) == Some(&']') {
        at += 1;
    }
    while let Some(&c) = chars.get(at) {
        match c {
            ']' => return Ok(at + 1),
            '\\' => {
                if at + 1 >= chars.len() {
                    return Err(Refused("a trailing backslash".into()));
                }
                if chars[at + 1] == 'z' {
                    return Err(refuse("the escape \\z in a class"));
                }
                escape(chars, at, true)?;
                at += 2;
            }
            '[' if chars.get(at + 1) == Some(&':') => {
                let close = chars[at + 2..].windows(2).position(|w| w == [':', ']']);
                at = close.map_or(at + 1, |p| at + 2 + p + 2);
            }
            _ => at += 1,
        }
    }
    // An unclosed class: the parser reports it.
    Ok(chars.len())
}

/// Checks a group opening `(`: plain, non-capturing, lookahead, atomic, named, comment and
/// flag groups pass; lookbehind passes to the tree check; PCRE's other group kinds are refused.
fn group_opening(chars: &[char], at: usize) -> Result<(), Refused> {
    match chars.get(at + 1) {
        Some('*') => return Err(refuse("a (*VERB)")),
        Some('?') => {}
        _ => return Ok(()),
    }
    let rest = &chars[at + 2..];
    let first = rest.first().copied().unwrap_or(')');
    let ok = match first {
        ':' | '=' | '!' | '>' | '#' => true,
        '<' => rest.get(1).is_some_and(|&c| c == '=' || c == '!' || c.is_alphabetic() || c == '_'),
        '\'' => true,
        'P' => rest.get(1) == Some(&'<'),
        _ => {
            let flags = rest.iter().take_while(|c| matches!(c, 'i' | 'm' | 's' | 'x' | 'U' | '-')).count();
            matches!(rest.get(flags), Some(':' | ')'))
        }
    };
    if ok { Ok(()) } else { Err(refuse(&format!("the group (?{first}"))) }
}

/// Whether an inline flag group turns on extended mode somewhere (`(?x)`, `(?ix:…)`).
fn has_inline_x(chars: &[char]) -> bool {
    chars.windows(2).enumerate().any(|(i, w)| {
        w == ['(', '?']
            && chars[i + 2..].iter().take_while(|c| matches!(c, 'i' | 'm' | 's' | 'x' | 'U')).any(|&c| c == 'x')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(pattern: &str) -> String {
        prepare(pattern, false).unwrap_or_else(|e| panic!("{pattern}: {}", e.0))
    }

    #[test]
    fn end_of_text_is_rewritten_and_dollar_kept() {
        assert_eq!(ok("a\\z"), "a(?!(?s:.))");
        assert_eq!(ok("a$"), "a$");
        assert_eq!(ok("a\\\\z"), "a\\\\z"); // an escaped backslash, then the letter z
        assert_eq!(ok("[z]\\Z"), "[z]\\Z");
    }

    #[test]
    fn constructs_read_otherwise_are_refused() {
        for pattern in [
            "\\Qa.b\\E",
            "\\h",
            "[\\v]",
            "\\<w",
            "\\p{L}",
            "(?|a)",
            "(?R)",
            "(?1)",
            "(*UCP)a",
            "a{,3}",
            "a{2}{3}",
            "\\1",
            "\\k<n>",
            "\\cA",
            "\\xA",
            "\\u0041",
            "[\\z]",
            "(?x)a # comment",
        ] {
            assert!(prepare(pattern, false).is_err(), "{pattern}");
        }
        assert!(prepare("a#b", true).is_err());
    }

    #[test]
    fn ordinary_patterns_pass_unchanged() {
        for pattern in [
            "^(AB|CD)-\\d+$",
            "[]a]",
            "[^]a]",
            "[[:alpha:]_]",
            "(?i)x",
            "(?i:x)",
            "(?<name>x)",
            "(?=a)",
            "(?<!a)b",
            "a{2,3}?",
            "a*+",
            "x{abc}",
            "\\x41\\x{e9}",
            "#",
            "a\\#",
            "(?#note)a",
        ] {
            assert_eq!(ok(pattern), pattern);
        }
    }
}
