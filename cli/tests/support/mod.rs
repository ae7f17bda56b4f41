//! Test support: the database server and one database per test (the persistence crate's public
//! `testing` helpers), plus running the `cqrs-mongo` binary.

#![allow(dead_code, unused_imports)]

use std::process::{Command, Output};

use cqrs_mongo_persistence::{Alone, Connection};

mod binary;

pub use binary::{status_row, stdout_ok};
pub use cqrs_mongo_persistence::testing::{database, database_name as name, server_uri};

/// The `cqrs-mongo` binary, pointed at the test server and at the test's database.
pub fn cli(test: &str) -> Command {
    binary::command(env!("CARGO_BIN_EXE_cqrs-mongo"), test)
}

/// Runs the binary with `args` to completion (off the async runtime's threads).
pub async fn run(test: &str, args: &[&str]) -> Output {
    binary::output(cli(test), args).await
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
    use cqrs_mongo_persistence::EventStore;
    use cqrs_mongo_persistence::event_store::{ExpectedVersion, NewEvent, Stream};

    let payload = doc! { "customer": customer, "total_cents": total_cents, "items": 1_i64 };
    let event = NewEvent::new(format!("{id}-placed"), "OrderPlaced", payload);
    let stream = Stream { aggregate_id: id, aggregate_type: "Order" };
    EventStore::new(db).append(stream, ExpectedVersion::NoStream, &[event], Alone).await.expect("append an event");
}
