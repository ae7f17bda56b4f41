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

/// Appends one `OrderPlaced` event to each of the streams `o1`, `o2`, ... `o{count}` (positions
/// 1..=count), with the payload `{customer: "customer-{i}", total_cents: i * 10000, items: 1}`.
/// The generic binary knows no application: plain events are all its tests need.
pub async fn append_orders(db: &Connection, count: usize) {
    for i in 1..=count {
        append_order(db, &format!("o{i}"), &format!("customer-{i}"), i as i64 * 10_000).await;
    }
}

/// Appends the `OrderPlaced` event that starts the stream `id`.
pub async fn append_order(db: &Connection, id: &str, customer: &str, total_cents: i64) {
    use bson::doc;
    use cqrs_mongo_persistence::{EventStore, EventStream, ExpectedVersion, NewEvent};

    let payload = doc! { "customer": customer, "total_cents": total_cents, "items": 1_i64 };
    let event = NewEvent::new(format!("{id}-placed"), "OrderPlaced", payload);
    let stream = EventStream { aggregate_id: id, aggregate_type: "Order" };
    EventStore::new(db).append(stream, ExpectedVersion::NoStream, &[event], None).await.expect("append an event");
}
