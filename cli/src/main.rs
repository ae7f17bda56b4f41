//! The generic `cqrs-mongo` binary: the command-line tool with no projection registered.
//!
//! Everything that needs no application code works here (`compile`, `indexes ensure` for the
//! built-in stores, `events tail`, `projections status` of the checkpoints found,
//! `dead-letters list` and `skip`, `outbox`, `jobs`); naming a projection
//! (`projections status|rebuild|run NAME`, `dead-letters retry NAME EVENT_ID`) fails with
//! [`CliError::ProjectionNotRegistered`](cqrs_mongo_cli::CliError::ProjectionNotRegistered).
//! An application registers its projections in a binary of its own built the same way, as the
//! orders example's `cqrs-mongo-orders` (demo/src/bin/cqrs-mongo-orders.rs) does.

use std::process::ExitCode;

use clap::Parser;
use cqrs_mongo_cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    cqrs_mongo_cli::run(Cli::parse(), Vec::new()).await
}
