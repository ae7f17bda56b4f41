//! The backtracking machine: an explicit stack (no recursion per character, so a long string
//! cannot overflow the call stack), alternatives tried in PCRE's order, and a step budget shared
//! by every start position and sub-program: a pattern that would take longer is an error.

use super::class::{is_word, same_ignoring_case};
use super::program::{Check, Inst, Programs};

/// The budget ran out.
pub(super) struct OutOfSteps;

pub(super) struct Budget {
    left: u64,
}

impl Budget {
    pub(super) fn new(steps: u64) -> Self {
        Budget { left: steps }
    }

    pub(super) fn step(&mut self) -> Result<(), OutOfSteps> {
        self.left = self.left.checked_sub(1).ok_or(OutOfSteps)?;
        Ok(())
    }
}

enum Frame {
    /// Resume at `pc` from `pos`.
    Retry { pc: usize, pos: usize },
    /// Put a slot back as it was.
    Restore { slot: usize, value: usize },
}

/// Whether program 0 matches anywhere in `text`.
pub(super) fn search(all: &Programs, text: &str, budget: &mut Budget) -> Result<bool, OutOfSteps> {
    let anchored = matches!(all.programs[0].insts.first(), Some(Inst::Assert(Check::Start)));
    let first = match all.programs[0].insts.first() {
        Some(Inst::Char(c)) => Some(*c),
        _ => None,
    };
    // One stack for every start position (a sub-program gets its own).
    let mut stack = Vec::new();
    let mut start = 0;
    loop {
        if let Some(c) = first {
            // Only where the first character can match.
            match text[start..].find(c) {
                Some(offset) => start += offset,
                None => return Ok(false),
            }
        }
        if run(all, 0, text, start, budget, &mut stack)?.is_some() {
            return Ok(true);
        }
        if anchored || start >= text.len() {
            return Ok(false);
        }
        start += text[start..].chars().next().map_or(1, char::len_utf8);
    }
}

/// Runs one program from `start`: the end of its first match, in PCRE's order.
fn run(
    all: &Programs,
    program: usize,
    text: &str,
    start: usize,
    budget: &mut Budget,
    stack: &mut Vec<Frame>,
) -> Result<Option<usize>, OutOfSteps> {
    let insts = &all.programs[program].insts;
    let mut slots = vec![usize::MAX; all.programs[program].slots];
    stack.clear();
    let (mut pc, mut pos) = (0usize, start);
    loop {
        budget.step()?;
        let next = text[pos..].chars().next();
        let advanced = match &insts[pc] {
            Inst::Char(c) => (next == Some(*c)).then(|| pos + c.len_utf8()),
            Inst::CharIgnoringCase(c) => next.filter(|n| same_ignoring_case(*n, *c)).map(|n| pos + n.len_utf8()),
            Inst::Any { dotall } => next.filter(|n| *dotall || *n != '\n').map(|n| pos + n.len_utf8()),
            Inst::Class(index) => next.filter(|n| all.classes[*index].matches(*n)).map(|n| pos + n.len_utf8()),
            Inst::Newline => newline(text, pos),
            Inst::Assert(check) => holds(*check, text, pos).then_some(pos),
            Inst::Split(first, second) => {
                stack.push(Frame::Retry { pc: *second, pos });
                pc = *first;
                continue;
            }
            Inst::Jump(target) => {
                pc = *target;
                continue;
            }
            Inst::Mark(slot) => {
                stack.push(Frame::Restore { slot: *slot, value: slots[*slot] });
                slots[*slot] = pos;
                Some(pos)
            }
            Inst::Progress(slot) => (slots[*slot] != pos).then_some(pos),
            Inst::Look { program, negated } => {
                let found = run(all, *program, text, pos, budget, &mut Vec::new())?.is_some();
                (found != *negated).then_some(pos)
            }
            Inst::Atomic(program) => run(all, *program, text, pos, budget, &mut Vec::new())?,
            Inst::Match => return Ok(Some(pos)),
        };
        match advanced {
            Some(to) => {
                pos = to;
                pc += 1;
            }
            None => loop {
                match stack.pop() {
                    None => return Ok(None),
                    Some(Frame::Restore { slot, value }) => slots[slot] = value,
                    Some(Frame::Retry { pc: to_pc, pos: to_pos }) => {
                        (pc, pos) = (to_pc, to_pos);
                        break;
                    }
                }
            },
        }
    }
}

/// PCRE's `\R`: `\r\n`, or one of `\n \v \f \r`, U+0085, U+2028, U+2029.
fn newline(text: &str, pos: usize) -> Option<usize> {
    let rest = &text[pos..];
    if rest.starts_with("\r\n") {
        return Some(pos + 2);
    }
    let c = rest.chars().next()?;
    matches!(c, '\n' | '\u{b}' | '\u{c}' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}').then(|| pos + c.len_utf8())
}

fn holds(check: Check, text: &str, pos: usize) -> bool {
    let before = text[..pos].chars().next_back();
    let after = text[pos..].chars().next();
    match check {
        Check::Start => pos == 0,
        Check::End => pos == text.len() || (pos + 1 == text.len() && after == Some('\n')),
        Check::LineStart => pos == 0 || (before == Some('\n') && pos < text.len()),
        Check::LineEnd => after.is_none_or(|c| c == '\n'),
        Check::WordBoundary | Check::NotWordBoundary => {
            let boundary = before.is_some_and(is_word) != after.is_some_and(is_word);
            boundary == (check == Check::WordBoundary)
        }
    }
}
