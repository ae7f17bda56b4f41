//! The `cqrs-mongo` binary: the command-line tool with the orders example's projection
//! (`order_summaries`) registered. Applications build their own binary the same way, with
//! their projections in the list.

use std::process::ExitCode;

use clap::Parser;
use cqrs_mongo_cli::Cli;
use cqrs_mongo_persistence::Projection;

#[tokio::main]
async fn main() -> ExitCode {
    let projections: Vec<Box<dyn Projection>> = vec![Box::new(cqrs_mongo_demo::OrderSummaries)];
    cqrs_mongo_cli::run(Cli::parse(), projections).await
}
