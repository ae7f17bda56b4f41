//! fancy-regex's parse tree turned into programs for the backtracking machine (`vm.rs`): one
//! program for the pattern and one per lookahead and atomic group. Constructs the machine does
//! not implement (backreferences, lookbehind, conditionals, recursion, `\K`, `\G`) are refused.

use fancy_regex::{Assertion, Expr, LookAround};

use super::class::CharClass;

/// The most instructions a pattern may expand to (counted repetitions are unrolled).
const MAX_INSTRUCTIONS: usize = 100_000;

#[derive(Debug, Clone)]
pub(super) enum Inst {
    Char(char),
    /// A character compared ignoring case.
    CharIgnoringCase(char),
    /// `.`: any character but `\n`, or any at all (`s`).
    Any {
        dotall: bool,
    },
    Class(usize),
    Assert(Check),
    /// `\R`: `\r\n` or one vertical space character, never backtracked into.
    Newline,
    /// Try the first target, then (on failure) the second.
    Split(usize, usize),
    Jump(usize),
    /// Remember the position in a slot (undone on backtracking).
    Mark(usize),
    /// Fail when the position is the one the slot holds: a loop iteration that matched nothing.
    Progress(usize),
    /// A lookahead: the sub-program must (or, negated, must not) match here.
    Look {
        program: usize,
        negated: bool,
    },
    /// An atomic group: the sub-program's first match, never backtracked into.
    Atomic(usize),
    Match,
}

/// The zero-width checks, with PCRE's meanings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Check {
    /// `^` (without `m`), `\A`.
    Start,
    /// `$` (without `m`), `\Z`: the end, or before a final `\n`.
    End,
    /// `^` with `m`: the start, or after a `\n` that does not end the text.
    LineStart,
    /// `$` with `m`: the end, or before any `\n`.
    LineEnd,
    WordBoundary,
    NotWordBoundary,
}

#[derive(Debug, Default)]
pub(super) struct Program {
    pub(super) insts: Vec<Inst>,
    /// How many loop slots the program uses.
    pub(super) slots: usize,
}

/// Every program of a pattern (index 0 is the pattern itself) and the classes they test.
#[derive(Debug, Default)]
pub(super) struct Programs {
    pub(super) programs: Vec<Program>,
    pub(super) classes: Vec<CharClass>,
    size: usize,
}

impl Programs {
    pub(super) fn build(expr: &Expr) -> Result<Programs, String> {
        let mut all = Programs::default();
        all.program(expr)?;
        Ok(all)
    }

    /// Compiles `expr` into a new program ending in `Match`; returns its index.
    fn program(&mut self, expr: &Expr) -> Result<usize, String> {
        let index = self.programs.len();
        self.programs.push(Program::default());
        let mut builder = Builder { insts: Vec::new(), slots: 0 };
        self.emit(&mut builder, expr)?;
        builder.insts.push(Inst::Match);
        self.programs[index] = Program { insts: builder.insts, slots: builder.slots };
        Ok(index)
    }

    fn push(&mut self, b: &mut Builder, inst: Inst) -> Result<usize, String> {
        self.size += 1;
        if self.size > MAX_INSTRUCTIONS {
            return Err("the pattern expands to too many steps (a large counted repetition)".into());
        }
        b.insts.push(inst);
        Ok(b.insts.len() - 1)
    }

    fn emit(&mut self, b: &mut Builder, expr: &Expr) -> Result<(), String> {
        match expr {
            Expr::Empty => {}
            Expr::Any { newline, crlf: false } => {
                self.push(b, Inst::Any { dotall: *newline })?;
            }
            Expr::Assertion(assertion) => {
                let check = match assertion {
                    Assertion::StartText => Check::Start,
                    // `$` (the pattern's `\z` was rewritten before parsing) and `\Z`.
                    Assertion::EndText | Assertion::EndTextIgnoreTrailingNewlines { crlf: false } => Check::End,
                    Assertion::StartLine { crlf: false } => Check::LineStart,
                    Assertion::EndLine { crlf: false } => Check::LineEnd,
                    Assertion::WordBoundary => Check::WordBoundary,
                    Assertion::NotWordBoundary => Check::NotWordBoundary,
                    other => return Err(format!("the assertion {other:?}")),
                };
                self.push(b, Inst::Assert(check))?;
            }
            Expr::GeneralNewline { .. } => {
                self.push(b, Inst::Newline)?;
            }
            Expr::Literal { val, casei } => {
                for c in val.chars() {
                    self.push(b, if *casei { Inst::CharIgnoringCase(c) } else { Inst::Char(c) })?;
                }
            }
            Expr::Concat(items) => {
                for item in items {
                    self.emit(b, item)?;
                }
            }
            Expr::Alt(items) => self.alternation(b, items)?,
            Expr::Group(inner) => self.emit(b, inner)?,
            Expr::LookAround(inner, LookAround::LookAhead) => {
                let program = self.program(inner)?;
                self.push(b, Inst::Look { program, negated: false })?;
            }
            Expr::LookAround(inner, LookAround::LookAheadNeg) => {
                let program = self.program(inner)?;
                self.push(b, Inst::Look { program, negated: true })?;
            }
            Expr::LookAround(_, _) => return Err("lookbehind".into()),
            Expr::AtomicGroup(inner) => {
                let program = self.program(inner)?;
                self.push(b, Inst::Atomic(program))?;
            }
            Expr::Repeat { child, lo, hi, greedy } => self.repeat(b, child, *lo, *hi, *greedy)?,
            Expr::Delegate { inner, casei } => {
                let class = CharClass::new(inner, *casei).ok_or_else(|| format!("the class {inner}"))?;
                self.classes.push(class);
                let index = self.classes.len() - 1;
                self.push(b, Inst::Class(index))?;
            }
            Expr::Backref { .. } | Expr::BackrefWithRelativeRecursionLevel { .. } => {
                return Err("a backreference".into());
            }
            other => return Err(format!("the construct {}", construct_name(other))),
        }
        Ok(())
    }

    fn alternation(&mut self, b: &mut Builder, items: &[Expr]) -> Result<(), String> {
        let mut jumps_to_end = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if i + 1 == items.len() {
                self.emit(b, item)?;
                break;
            }
            let split = self.push(b, Inst::Split(0, 0))?;
            self.emit(b, item)?;
            jumps_to_end.push(self.push(b, Inst::Jump(0))?);
            let next = b.insts.len();
            b.insts[split] = Inst::Split(split + 1, next);
        }
        let end = b.insts.len();
        for jump in jumps_to_end {
            b.insts[jump] = Inst::Jump(end);
        }
        Ok(())
    }

    fn repeat(&mut self, b: &mut Builder, child: &Expr, lo: usize, hi: usize, greedy: bool) -> Result<(), String> {
        if lo > MAX_INSTRUCTIONS || (hi != usize::MAX && hi > MAX_INSTRUCTIONS) {
            return Err("a repetition count this large".into());
        }
        for _ in 0..lo {
            self.emit(b, child)?;
        }
        if hi == usize::MAX {
            // loop: Split(body, exit); body: Mark; child; Progress; Jump loop
            let slot = b.slots;
            b.slots += 1;
            let split = self.push(b, Inst::Split(0, 0))?;
            self.push(b, Inst::Mark(slot))?;
            self.emit(b, child)?;
            self.push(b, Inst::Progress(slot))?;
            self.push(b, Inst::Jump(split))?;
            let exit = b.insts.len();
            b.insts[split] = if greedy { Inst::Split(split + 1, exit) } else { Inst::Split(exit, split + 1) };
            return Ok(());
        }
        // Each optional copy may be skipped, ending the repetition.
        let mut splits = Vec::new();
        for _ in lo..hi {
            splits.push(self.push(b, Inst::Split(0, 0))?);
            self.emit(b, child)?;
        }
        let end = b.insts.len();
        for split in splits {
            b.insts[split] = if greedy { Inst::Split(split + 1, end) } else { Inst::Split(end, split + 1) };
        }
        Ok(())
    }
}

struct Builder {
    insts: Vec<Inst>,
    slots: usize,
}

fn construct_name(expr: &Expr) -> &'static str {
    match expr {
        Expr::KeepOut => "\\K",
        Expr::ContinueFromPreviousMatchEnd => "\\G",
        Expr::Conditional { .. } | Expr::BackrefExistsCondition { .. } => "a conditional group",
        Expr::SubroutineCall(_) => "a subroutine call",
        Expr::LiteralBytes { .. } => "a byte literal",
        Expr::Any { .. } => "CRLF-mode dot",
        _ => "this construct",
    }
}
