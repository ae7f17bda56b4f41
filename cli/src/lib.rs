//! # cqrs-mongo-cli
//!
//! The command-line tool of the MongoDB persistence toolkit, as a library: [`run`] is the
//! whole tool, given the projections to register.
//!
//! The generic `cqrs-mongo` binary (src/main.rs) registers none: it links no application code.
//! An application builds its own binary with its projections registered:
//!
//! ```no_run
//! use clap::Parser;
//! use cqrs_mongo_cli::Cli;
//! use cqrs_mongo_persistence::Result;
//! use cqrs_mongo_persistence::event_store::StoredEvent;
//! use cqrs_mongo_persistence::projections::{Projection, Write};
//!
//! /// One of the application's read models.
//! struct CustomerTotals;
//!
//! impl Projection for CustomerTotals {
//!     fn name(&self) -> &str {
//!         "customer_totals"
//!     }
//!     fn collections(&self) -> Vec<String> {
//!         vec!["customer_totals".into()]
//!     }
//!     fn project(&self, _event: &StoredEvent) -> Result<Vec<Write>> {
//!         Ok(Vec::new())
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     let projections: Vec<Box<dyn Projection>> = vec![Box::new(CustomerTotals)];
//!     cqrs_mongo_cli::run(Cli::parse(), projections).await
//! }
//! ```
//!
//! The orders example does exactly this in its `cqrs-mongo-orders` binary
//! (demo/src/bin/cqrs-mongo-orders.rs), registering `order_summaries`.
//!
//! | command | what it does |
//! |---|---|
//! | `compile [FILE]` | compiles a specification (and `--options`) into a filter or a whole query; no database |
//! | `decompile [FILE]` | turns a MongoDB filter (Extended JSON) back into a specification, printed as JSON (`--compact` on one line); no database |
//! | `indexes ensure` | creates the missing indexes of the built-in stores and the registered projections |
//! | `events tail` | prints events in position order; `--follow` keeps polling until Ctrl-C |
//! | `projections status [NAME]` | saved position, head position and lag of every registered projection and every checkpoint found, or of one registered projection |
//! | `projections rebuild NAME` | rebuilds a registered projection with a progress bar |
//! | `projections run NAME` | keeps a registered projection up to date until Ctrl-C or SIGTERM as one of any number of replicas (the lease holder applies, the others stand by; `--lease SECONDS`, `--replica NAME`) |
//! | `dead-letters list [NAME]` | events parked by projections and subscriptions after their last attempt, in position order (`--limit N`, 100 by default) |
//! | `dead-letters retry NAME EVENT_ID` | projects a parked event again through the registered projection `NAME` (subscriptions retry from the application: `Subscription::retry_parked`) |
//! | `dead-letters skip NAME EVENT_ID` | marks a parked event skipped: kept for the record, never applied |
//! | `outbox stats`, `outbox retry-dead` | outbox counts by status; dead messages back to pending |
//! | `jobs stats` | job counts by status |
//!
//! `tests/docs.rs` checks that this table names every command the parser has, and no other.
//!
//! Every command connects with `--uri` (`MONGODB_URI`) to `--database` (`CQRS_MONGO_DATABASE`),
//! except `compile` and `decompile`. Errors are printed as `error: ...` lines on standard error;
//! the exit status is 0 on success, [`EXIT_USAGE`] (2) for bad input (a specification that does
//! not compile, a filter that does not decompile, an unreadable file, a projection name the
//! binary does not register ([`CliError::ProjectionNotRegistered`], reported before connecting),
//! bad arguments) and [`EXIT_FAILURE`] (1) when the database or the output fails.
#![forbid(unsafe_code)]

mod args;
mod commands;
mod error;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use cqrs_mongo_persistence::Connection;
use cqrs_mongo_persistence::projections::Projection;
use cqrs_mongo_persistence::store::PoolOptions;

pub use args::{
    Cli, Command, CompileArgs, DEFAULT_DATABASE, DEFAULT_URI, DeadLetterArgs, DeadLettersCommand, DeadLettersListArgs,
    DecompileArgs, EventsCommand, IndexesCommand, JobsCommand, OutboxCommand, ProjectionsCommand, RebuildArgs, RunArgs,
    StatusArgs, TailArgs,
};
pub use error::{CliError, EXIT_FAILURE, EXIT_USAGE};

/// The package README's example and command list: the example runs as a doctest, the list is
/// checked against the parser by tests/docs.rs.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Runs a parsed command line with these projections registered, printing to standard output
/// and errors to standard error; returns the process exit code.
pub async fn run(cli: Cli, projections: Vec<Box<dyn Projection>>) -> ExitCode {
    let mut stdout = std::io::stdout();
    match execute(cli, projections, &mut stdout).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => err.report(),
    }
}

/// Runs a parsed command line, writing its output to `out` (progress bars still go to
/// standard error); the error is returned instead of printed.
pub async fn execute(
    cli: Cli,
    projections: Vec<Box<dyn Projection>>,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    let result = commands::dispatch(cli, projections, out).await;
    out.flush()?;
    result
}

/// Connects to the database named on the command line.
pub(crate) async fn connect(cli: &Cli) -> Result<Connection, CliError> {
    let timeout = Duration::from_secs(cli.timeout);
    let mut pool = PoolOptions::default().with_server_selection_timeout(timeout);
    pool.connect_timeout = Some(timeout);
    Connection::connect(&cli.uri, &cli.database, pool).await.map_err(|source| CliError::Connect {
        uri: error::redact_uri(&cli.uri),
        database: cli.database.clone(),
        source: Box::new(source),
    })
}
