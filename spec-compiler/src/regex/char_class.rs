//! The character classes of a pattern, as code point ranges: what the backtracking analysis
//! needs to decide whether two alternatives can begin alike, and the one mistake a class can
//! hold that the pattern parser lets through (a reversed range such as `[z-a]`, a range bounded by
//! a class such as `[\d-z]`).
//!
//! The input is a class as fancy-regex hands it over (`Expr::Delegate`): a bracket class with
//! its escapes normalised (`[a-z\]]`, `[^\n-\r]`), or a Perl or Unicode class (`\d`, `\p{l}`).
//! It is read as MongoDB's PCRE reads it: `&&`, `--` and `~~` are characters (not set
//! operations), a `[` inside a class only opens a POSIX class (`[:alpha:]`). Perl and Unicode
//! classes are left unknown: which characters they hold depends on the engine's tables, and an
//! unknown class is assumed to overlap everything.

/// Sorted, disjoint, inclusive code point ranges.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Ranges(Vec<(u32, u32)>);

const MAX: u32 = 0x10_FFFF;

impl Ranges {
    /// Every code point.
    pub(crate) fn any() -> Self {
        Ranges(vec![(0, MAX)])
    }

    /// `c`, with its simple lower and upper case when `case_insensitive`.
    pub(crate) fn of_char(c: char, case_insensitive: bool) -> Self {
        let mut ranges = Ranges(vec![(c as u32, c as u32)]);
        if case_insensitive {
            for other in c.to_lowercase().chain(c.to_uppercase()) {
                ranges = ranges.union(Ranges(vec![(other as u32, other as u32)]));
            }
        }
        ranges
    }

    /// The ranges of a list in any order, overlapping or not.
    fn from_unsorted(mut list: Vec<(u32, u32)>) -> Self {
        heapsort(&mut list);
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(list.len());
        for (start, end) in list {
            match out.last_mut() {
                Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
                _ => out.push((start, end)),
            }
        }
        Ranges(out)
    }

    pub(crate) fn union(self, other: Ranges) -> Self {
        let mut list = self.0;
        list.extend(other.0);
        Ranges::from_unsorted(list)
    }

    fn negate(&self) -> Self {
        let mut out = Vec::with_capacity(self.0.len() + 1);
        let mut next = 0u32;
        for &(start, end) in &self.0 {
            if start > next {
                out.push((next, start - 1));
            }
            next = end + 1;
        }
        if next <= MAX {
            out.push((next, MAX));
        }
        Ranges(out)
    }

    pub(crate) fn intersects(&self, other: &Ranges) -> bool {
        self.0.iter().any(|&(a0, a1)| other.0.iter().any(|&(b0, b1)| a0 <= b1 && b0 <= a1))
    }

    #[cfg(test)]
    pub(crate) fn pairs(&self) -> &[(u32, u32)] {
        &self.0
    }
}

/// Sorts `list` in O(n log n) with a few hundred bytes of WebAssembly (the standard sorts add
/// 8 KB for this one type, and a class may list thousands of ranges).
fn heapsort(list: &mut [(u32, u32)]) {
    fn sift_down(list: &mut [(u32, u32)], mut root: usize, end: usize) {
        loop {
            let mut child = 2 * root + 1;
            if child >= end {
                return;
            }
            if child + 1 < end && list[child] < list[child + 1] {
                child += 1;
            }
            if list[root] >= list[child] {
                return;
            }
            list.swap(root, child);
            root = child;
        }
    }
    let len = list.len();
    for root in (0..len / 2).rev() {
        sift_down(list, root, len);
    }
    for end in (1..len).rev() {
        list.swap(0, end);
        sift_down(list, 0, end);
    }
}

/// What reading a class found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Class {
    /// Exactly these characters.
    Known(Ranges),
    /// Characters the analysis does not resolve (a Perl or Unicode class, an escape or syntax it
    /// does not read).
    Unknown,
    /// A range whose start is after its end (`[z-a]`), which PCRE refuses.
    ReversedRange,
    /// A range bounded by a class (`[\\d-z]`, `[a-[:alpha:]]`), which PCRE 2 refuses.
    NonLiteralBound,
}

/// The ASCII classes `[:name:]` (as PCRE defines them).
fn ascii_class(name: &str) -> Option<&'static [(u32, u32)]> {
    Some(match name {
        "alnum" => &[(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
        "alpha" => &[(0x41, 0x5A), (0x61, 0x7A)],
        "ascii" => &[(0x00, 0x7F)],
        "blank" => &[(0x09, 0x09), (0x20, 0x20)],
        "cntrl" => &[(0x00, 0x1F), (0x7F, 0x7F)],
        "digit" => &[(0x30, 0x39)],
        "graph" => &[(0x21, 0x7E)],
        "lower" => &[(0x61, 0x7A)],
        "print" => &[(0x20, 0x7E)],
        "punct" => &[(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
        "space" => &[(0x09, 0x0D), (0x20, 0x20)],
        "upper" => &[(0x41, 0x5A)],
        "word" => &[(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)],
        "xdigit" => &[(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
        _ => return None,
    })
}

/// Whether `text` (after a `[` inside a class) opens a POSIX class such as `[:alpha:]` or
/// `[:^digit:]`, with its length up to and including the closing `]`, and its characters.
pub(crate) fn posix_class(text: &str) -> Option<(usize, Ranges)> {
    let rest = text.strip_prefix(':')?;
    let (negated, rest) = match rest.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    let end = rest.find(":]")?;
    let ranges = Ranges(ascii_class(&rest[..end])?.to_vec());
    let len = text.len() - rest.len() + end + 2;
    Some((len, if negated { ranges.negate() } else { ranges }))
}

/// Why reading stopped early.
enum Stop {
    Unknown,
    ReversedRange,
    NonLiteralBound,
}

/// One item of a class: a character, or characters (a class escape; `None` when unresolved).
enum Item {
    Char(char),
    Set(Option<Ranges>),
}

struct Reader<'a> {
    text: &'a str,
}

impl Reader<'_> {
    fn peek(&self) -> Option<char> {
        self.text.chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.text = &self.text[c.len_utf8()..];
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        self.text.strip_prefix(c).map(|rest| self.text = rest).is_some()
    }

    /// `\x41`, `\x{41}`, `\u0041`, `\U00000041` after the letter.
    fn hex(&mut self, digits: usize) -> Result<char, Stop> {
        let text = if self.eat('{') {
            let end = self.text.find('}').ok_or(Stop::Unknown)?;
            let (text, rest) = self.text.split_at(end);
            self.text = &rest[1..];
            text
        } else {
            let end = self.text.char_indices().nth(digits).map_or(self.text.len(), |(at, _)| at);
            let (text, rest) = self.text.split_at(end);
            self.text = rest;
            text
        };
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Stop::Unknown);
        }
        u32::from_str_radix(text, 16).ok().and_then(char::from_u32).ok_or(Stop::Unknown)
    }

    /// What follows a `\`.
    fn escape(&mut self) -> Result<Item, Stop> {
        let c = self.next().ok_or(Stop::Unknown)?;
        Ok(Item::Char(match c {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'f' => '\x0C',
            'a' => '\x07',
            'e' => '\x1B',
            'x' => self.hex(2)?,
            'u' => self.hex(4)?,
            'U' => self.hex(8)?,
            'd' | 's' | 'w' | 'D' | 'S' | 'W' => return Ok(Item::Set(None)),
            'p' | 'P' => {
                if self.eat('{') {
                    let end = self.text.find('}').ok_or(Stop::Unknown)?;
                    self.text = &self.text[end + 1..];
                } else {
                    self.next().ok_or(Stop::Unknown)?;
                }
                return Ok(Item::Set(None));
            }
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => c,
            _ => return Err(Stop::Unknown),
        }))
    }

    /// A character, a class escape, or a POSIX class.
    fn item(&mut self) -> Result<Item, Stop> {
        if self.text.starts_with('[')
            && let Some((len, ranges)) = posix_class(&self.text[1..])
        {
            self.text = &self.text[1 + len..];
            return Ok(Item::Set(Some(ranges)));
        }
        match self.next().ok_or(Stop::Unknown)? {
            '\\' => self.escape(),
            // A `[` that opens no POSIX class: PCRE reads a character, fancy-regex a nested
            // class (the syntax check refuses it in a user's pattern).
            '[' => Err(Stop::Unknown),
            c => Ok(Item::Char(c)),
        }
    }

    /// A bracket class after its `[`, up to and including its `]`, read as PCRE reads it: a
    /// `]` first is a character, a `-` is a range unless it comes first or last, or right after
    /// a range.
    fn class(&mut self) -> Result<Option<Ranges>, Stop> {
        let negated = self.eat('^');
        // Every range in one list (`None` once an item is unresolved), made canonical at the end.
        let mut ranges = Some(Vec::new());
        let mut add = |item: Option<Ranges>| match (ranges.as_mut(), item) {
            (Some(list), Some(item)) => list.extend(item.0),
            _ => ranges = None,
        };
        let single = |c: char| Some(Ranges(vec![(c as u32, c as u32)]));
        if self.eat(']') {
            add(single(']'));
        }
        loop {
            if self.eat(']') {
                let ranges = ranges.map(Ranges::from_unsorted);
                return Ok(if negated { ranges.map(|r| r.negate()) } else { ranges });
            }
            let posix = self.text.starts_with("[:");
            let start = self.item()?;
            // A `-` after a POSIX class is a character (PCRE 2 refuses it; leniency).
            let is_range =
                !posix && self.text.starts_with('-') && !self.text[1..].starts_with(']') && self.text.len() > 1;
            if !is_range {
                add(match start {
                    Item::Char(c) => single(c),
                    Item::Set(set) => set,
                });
                continue;
            }
            self.next();
            let (Item::Char(start), Item::Char(end)) = (start, self.item()?) else {
                return Err(Stop::NonLiteralBound);
            };
            if start > end {
                return Err(Stop::ReversedRange);
            }
            add(Some(Ranges(vec![(start as u32, end as u32)])));
        }
    }
}

/// The characters of class `inner` (a bracket class, or a Perl or Unicode class).
pub(crate) fn read(inner: &str) -> Class {
    let mut reader = Reader { text: inner };
    let result = if reader.eat('[') { reader.class() } else { Ok(None) };
    match result {
        // Text after the class (never from fancy-regex) is not read: unknown.
        Ok(Some(ranges)) if reader.text.is_empty() => Class::Known(ranges),
        Ok(_) | Err(Stop::Unknown) => Class::Unknown,
        Err(Stop::ReversedRange) => Class::ReversedRange,
        Err(Stop::NonLiteralBound) => Class::NonLiteralBound,
    }
}
