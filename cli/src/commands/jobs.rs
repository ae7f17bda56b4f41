//! `jobs stats`.

use std::io::Write;

use cqrs_mongo_persistence::{Connection, JobQueue};

use super::print_counts;
use crate::error::CliError;

/// The statuses of the legacy job format, always listed.
const STATUSES: [&str; 5] = ["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"];

/// Job counts by status, then the total.
pub(crate) async fn stats(connection: &Connection, out: &mut (dyn Write + Send)) -> Result<(), CliError> {
    let counts = JobQueue::new(connection).stats().await.map_err(CliError::database("cannot count jobs"))?;
    print_counts(out, &STATUSES, &counts)
}
