//! `cqrs-mongo-orders`: the `cqrs-mongo` command-line tool with the orders example's projection
//! (`order_summaries`) registered, so `projections status order_summaries`, `projections
//! rebuild order_summaries` and `indexes ensure` (its `status_1_total_-1` index) know it.
//! An application's own binary looks the same, with its projections in the list.

use std::process::ExitCode;

use clap::Parser;
use cqrs_mongo_cli::Cli;
use cqrs_mongo_demo::order_summaries;
use cqrs_mongo_persistence::projections::Projection;

#[tokio::main]
async fn main() -> ExitCode {
    let projections: Vec<Box<dyn Projection>> = vec![Box::new(order_summaries())];
    cqrs_mongo_cli::run(Cli::parse(), projections).await
}
