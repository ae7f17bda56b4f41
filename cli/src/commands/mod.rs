//! The subcommands, one module each, and the dispatch from the parsed command line.

mod compile;
mod dead_letters;
mod decompile;
mod events;
mod indexes;
mod jobs;
mod outbox;
mod projections;

use std::collections::BTreeMap;
use std::io::Write;

use cqrs_mongo_persistence::projections::Projection;

use crate::args::{
    Cli, Command, DeadLettersCommand, EventsCommand, IndexesCommand, JobsCommand, OutboxCommand, ProjectionsCommand,
};
use crate::connect;
use crate::error::CliError;

/// Runs the command: `compile` and `decompile` on their own, everything else with a connection.
pub(crate) async fn dispatch(
    cli: Cli,
    projections: Vec<Box<dyn Projection>>,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    match &cli.command {
        Command::Compile(args) => compile::run(args, out),
        Command::Decompile(args) => decompile::run(args, out),
        Command::Indexes(IndexesCommand::Ensure) => indexes::ensure(&connect(&cli).await?, &projections, out).await,
        Command::Events(EventsCommand::Tail(args)) => events::tail(&connect(&cli).await?, args, out).await,
        Command::Projections(ProjectionsCommand::Status(args)) => {
            projections::status(&cli, &projections, args.name.as_deref(), out).await
        }
        Command::Projections(ProjectionsCommand::Rebuild(args)) => {
            projections::rebuild(&cli, projections, &args.name, out).await
        }
        Command::Outbox(OutboxCommand::Stats) => outbox::stats(&connect(&cli).await?, out).await,
        Command::Outbox(OutboxCommand::RetryDead) => outbox::retry_dead(&connect(&cli).await?, out).await,
        Command::Jobs(JobsCommand::Stats) => jobs::stats(&connect(&cli).await?, out).await,
        Command::Projections(ProjectionsCommand::Run(args)) => projections::run(&cli, projections, args, out).await,
        Command::DeadLetters(DeadLettersCommand::List(args)) => {
            dead_letters::list(&connect(&cli).await?, args.name.as_deref(), args.limit, out).await
        }
        Command::DeadLetters(DeadLettersCommand::Retry(args)) => {
            dead_letters::retry(&cli, projections, args, out).await
        }
        Command::DeadLetters(DeadLettersCommand::Skip(args)) => {
            dead_letters::skip(&connect(&cli).await?, args, out).await
        }
    }
}

/// Prints counts by status: the `known` statuses first (0 when absent), then any other status
/// found, then the total.
pub(crate) fn print_counts(
    out: &mut (dyn Write + Send),
    known: &[&str],
    counts: &BTreeMap<String, u64>,
) -> Result<(), CliError> {
    let others = counts.keys().filter(|status| !known.contains(&status.as_str())).map(String::as_str);
    let statuses: Vec<&str> = known.iter().copied().chain(others).collect();
    let width = statuses.iter().map(|s| s.len()).chain(["total".len()]).max().unwrap_or(0);
    for status in &statuses {
        writeln!(out, "{status:<width$}  {}", counts.get(*status).copied().unwrap_or(0))?;
    }
    writeln!(out, "{:<width$}  {}", "total", counts.values().sum::<u64>())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_list_known_statuses_then_others_then_the_total() {
        let counts = BTreeMap::from([("failed".to_owned(), 2), ("weird".to_owned(), 1), ("pending".to_owned(), 4)]);
        let mut out = Vec::new();
        print_counts(&mut out, &["pending", "published", "failed"], &counts).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "pending    4\npublished  0\nfailed     2\nweird      1\ntotal      7\n"
        );
    }
}
