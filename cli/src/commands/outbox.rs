//! `outbox stats` and `outbox retry-dead`.

use std::io::Write;

use cqrs_mongo_persistence::{Connection, Outbox};

use super::print_counts;
use crate::error::CliError;

/// The statuses of the legacy outbox format, always listed.
const STATUSES: [&str; 3] = ["pending", "published", "failed"];

/// Message counts by status, then the total, then how long the oldest pending message has
/// waited (the backlog's age).
pub(crate) async fn stats(connection: &Connection, out: &mut (dyn Write + Send)) -> Result<(), CliError> {
    let outbox = Outbox::new(connection);
    let counts = outbox.stats().await.map_err(CliError::database("cannot count outbox messages"))?;
    print_counts(out, &STATUSES, &counts)?;
    let backlog = outbox.backlog().await.map_err(CliError::database("cannot read the outbox backlog"))?;
    writeln!(out, "oldest pending: {:.1} s", backlog.oldest_age.as_secs_f64())?;
    Ok(())
}

/// Puts the dead (`failed`) messages back to pending and prints how many.
pub(crate) async fn retry_dead(connection: &Connection, out: &mut (dyn Write + Send)) -> Result<(), CliError> {
    let count = Outbox::new(connection)
        .retry_dead(cqrs_mongo_persistence::Alone)
        .await
        .map_err(CliError::database("cannot retry dead outbox messages"))?;
    let noun = if count == 1 { "message" } else { "messages" };
    writeln!(out, "{count} dead {noun} put back to pending")?;
    Ok(())
}
