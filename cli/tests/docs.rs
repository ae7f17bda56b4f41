//! The documentation against the parser: the command table of the crate docs (src/lib.rs), the
//! package README's command list and the workspace README's `cli/` row name every command `Cli`
//! parses, the table and the list name no other, and every public type of the command line can
//! be named from the crate root.

use std::collections::BTreeSet;

use clap::CommandFactory;
use cqrs_mongo_cli::Cli;

const LIB_RS: &str = include_str!("../src/lib.rs");
const ARGS_RS: &str = include_str!("../src/args.rs");
const PACKAGE_README: &str = include_str!("../README.md");
const README: &str = include_str!("../../README.md");

/// Every leaf command as its words (`dead-letters retry`), from clap's own definition.
fn parsed_commands() -> BTreeSet<String> {
    fn walk(command: &clap::Command, prefix: &str, into: &mut BTreeSet<String>) {
        for sub in command.get_subcommands().filter(|sub| sub.get_name() != "help") {
            let path =
                if prefix.is_empty() { sub.get_name().to_owned() } else { format!("{prefix} {}", sub.get_name()) };
            if sub.has_subcommands() {
                walk(sub, &path, into);
            } else {
                into.insert(path);
            }
        }
    }
    let mut commands = BTreeSet::new();
    walk(&Cli::command(), "", &mut commands);
    commands
}

/// The command words of a code span: `projections status [NAME]` is `projections status`.
fn command_words(span: &str) -> String {
    let words: Vec<&str> =
        span.split_whitespace().take_while(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '-')).collect();
    words.join(" ")
}

/// The code spans (between backticks) of a piece of markdown.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// The commands in the first column of the crate docs' `| command | what it does |` table.
fn documented_commands() -> BTreeSet<String> {
    let docs: Vec<&str> = LIB_RS.lines().filter_map(|line| line.strip_prefix("//!")).map(str::trim).collect();
    let header = docs.iter().position(|line| *line == "| command | what it does |").expect("the command table");
    let rows = docs[header + 2..].iter().take_while(|line| line.starts_with('|'));
    let mut commands = BTreeSet::new();
    for row in rows {
        let first = row.trim_start_matches('|').split(" | ").next().unwrap();
        let spans = code_spans(first);
        assert!(!spans.is_empty(), "a row names no command: {row}");
        for span in spans {
            assert!(commands.insert(command_words(span)), "{span} is listed twice");
        }
    }
    commands
}

#[test]
fn the_parser_has_the_commands_the_test_expects() {
    // A guard on the walk itself: the commands known when this test was written are found.
    let commands = parsed_commands();
    for known in ["compile", "indexes ensure", "projections run", "dead-letters list", "dead-letters skip"] {
        assert!(commands.contains(known), "{known} not found in {commands:?}");
    }
}

#[test]
fn the_crate_docs_table_lists_exactly_the_parsers_commands() {
    let parsed = parsed_commands();
    let documented = documented_commands();
    let missing: Vec<_> = parsed.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&parsed).collect();
    assert!(missing.is_empty(), "commands missing from the table in src/lib.rs: {missing:?}");
    assert!(unknown.is_empty(), "the table in src/lib.rs lists commands the parser does not have: {unknown:?}");
}

#[test]
fn the_package_readme_lists_exactly_the_parsers_commands() {
    let listed: BTreeSet<String> = PACKAGE_README
        .lines()
        .filter_map(|line| line.strip_prefix("cqrs-mongo "))
        // The command and its arguments, then two spaces or more, then what it does.
        .map(|line| command_words(line.split("  ").next().unwrap()))
        .collect();
    assert_eq!(listed, parsed_commands(), "the command list in cli/README.md");
}

#[test]
fn the_readme_names_every_command_in_its_cli_row() {
    let row = README.lines().find(|line| line.starts_with("| `cli/`")).expect("the README's cli/ row");
    let named: BTreeSet<String> = code_spans(row).into_iter().map(command_words).collect();
    let missing: Vec<_> = parsed_commands().into_iter().filter(|c| !named.contains(c)).collect();
    assert!(missing.is_empty(), "commands missing from the README's cli/ row: {missing:?}");
}

#[test]
fn every_public_type_of_the_command_line_is_reexported_at_the_crate_root() {
    let declared: BTreeSet<&str> = ARGS_RS
        .lines()
        .filter_map(|line| {
            ["pub struct ", "pub enum ", "pub const "].iter().find_map(|keyword| line.strip_prefix(keyword))
        })
        .map(|rest| rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap())
        .collect();
    assert!(declared.contains("DeadLetterArgs") && declared.contains("Cli"), "{declared:?}");
    let start = LIB_RS.find("pub use args::{").expect("the re-export of args");
    let list = &LIB_RS[start + "pub use args::{".len()..];
    let exported: BTreeSet<&str> = list[..list.find('}').unwrap()].split(',').map(str::trim).collect();
    let missing: Vec<_> = declared.difference(&exported).collect();
    assert!(missing.is_empty(), "public in args.rs but not re-exported by src/lib.rs: {missing:?}");
}

/// The same, checked by the compiler: every variant of `Command`, its nested commands and their
/// arguments, named from the crate root. (A new variant breaks this match until it is added.)
#[test]
fn every_command_can_be_matched_through_root_names() {
    use clap::Parser;
    use cqrs_mongo_cli::{
        Command, CompileArgs, DeadLetterArgs, DeadLettersCommand, DeadLettersListArgs, DecompileArgs, EventsCommand,
        IndexesCommand, JobsCommand, OutboxCommand, ProjectionsCommand, RebuildArgs, RunArgs, StatusArgs, TailArgs,
    };

    fn name(command: &Command) -> &'static str {
        match command {
            Command::Compile(CompileArgs { .. }) => "compile",
            Command::Decompile(DecompileArgs { .. }) => "decompile",
            Command::Indexes(IndexesCommand::Ensure) => "indexes ensure",
            Command::Events(EventsCommand::Tail(TailArgs { .. })) => "events tail",
            Command::Projections(ProjectionsCommand::Status(StatusArgs { .. })) => "projections status",
            Command::Projections(ProjectionsCommand::Rebuild(RebuildArgs { .. })) => "projections rebuild",
            Command::Projections(ProjectionsCommand::Run(RunArgs { .. })) => "projections run",
            Command::DeadLetters(DeadLettersCommand::List(DeadLettersListArgs { .. })) => "dead-letters list",
            Command::DeadLetters(DeadLettersCommand::Retry(DeadLetterArgs { .. })) => "dead-letters retry",
            Command::DeadLetters(DeadLettersCommand::Skip(DeadLetterArgs { .. })) => "dead-letters skip",
            Command::Outbox(OutboxCommand::Stats) => "outbox stats",
            Command::Outbox(OutboxCommand::RetryDead) => "outbox retry-dead",
            Command::Jobs(JobsCommand::Stats) => "jobs stats",
        }
    }

    let lines: [&[&str]; 3] = [
        &["projections", "run", "p", "--lease", "3"],
        &["dead-letters", "retry", "p", "e-1"],
        &["dead-letters", "list"],
    ];
    let names: Vec<_> = lines
        .iter()
        .map(|args| {
            name(&Cli::try_parse_from(std::iter::once("cqrs-mongo").chain(args.iter().copied())).unwrap().command)
        })
        .collect();
    assert_eq!(names, ["projections run", "dead-letters retry", "dead-letters list"]);
}
