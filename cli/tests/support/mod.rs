//! Test support: the database server and one database per test (the persistence crate's
//! support module, shared), plus running the `cqrs-mongo` binary.

#![allow(dead_code)]

use std::process::{Command, Output, Stdio};

use cqrs_mongo_persistence::Connection;

#[path = "../../../persistence/tests/support/mod.rs"]
mod server;

pub use server::{database, name, server_uri};

/// The `cqrs-mongo` binary, pointed at the test server (through `MONGODB_URI`, as a user would)
/// and at the test's database.
pub fn cli(test: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cqrs-mongo"));
    command.env("MONGODB_URI", server_uri()).env_remove("CQRS_MONGO_DATABASE").args(["--database", &name(test)]);
    command
}

/// Runs the binary with `args` to completion (off the async runtime's threads).
pub async fn run(test: &str, args: &[&str]) -> Output {
    let mut command = cli(test);
    command.args(args).stdin(Stdio::null());
    tokio::task::spawn_blocking(move || command.output().expect("run cqrs-mongo")).await.expect("join")
}

/// Standard output of a run that must have succeeded.
pub fn stdout_ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "cqrs-mongo failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

/// Places `count` orders (`o1`, `o2`, ...) through the orders example: each saves the order, its
/// `OrderPlaced` event (positions 1..=count) and an outbox message in one transaction.
pub async fn place_orders(db: &Connection, count: usize) -> Vec<cqrs_mongo_demo::Order> {
    use cqrs_mongo_demo::{Line, Order, place_order};
    use cqrs_mongo_persistence::{EventStore, Outbox, Repository};

    let (orders, events, outbox) = (Repository::<Order>::new(db), EventStore::new(db), Outbox::new(db));
    let mut placed = Vec::new();
    for i in 1..=count {
        let lines = vec![Line { sku: format!("sku-{i}"), quantity: i as i64, price_cents: 10_000 }];
        let mut order = Order::new(format!("o{i}"), format!("customer-{i}"), lines);
        place_order(db, &orders, &events, &outbox, &mut order).await.expect("place an order");
        placed.push(order);
    }
    placed
}
