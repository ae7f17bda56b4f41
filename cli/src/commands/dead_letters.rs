//! `dead-letters list [NAME]`, `dead-letters retry NAME EVENT_ID`, `dead-letters skip NAME EVENT_ID`.

use std::io::Write;

use cqrs_mongo_persistence::projections::Projection;
use cqrs_mongo_persistence::store::PageRequest;
use cqrs_mongo_persistence::{Connection, DeadLetters, EventStore, ProjectionRunner};

use super::projections::registered;
use crate::args::{Cli, DeadLetterArgs};
use crate::error::CliError;

/// One line per parked event: name, position, event id, type, attempts, when parked, error.
pub(crate) async fn list(
    connection: &Connection,
    name: Option<&str>,
    limit: i64,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    let parked = DeadLetters::new(connection)
        .parked(name, PageRequest::first(limit))
        .await
        .map_err(CliError::database("cannot read the dead letters"))?;
    writeln!(out, "NAME\tPOSITION\tEVENT\tTYPE\tATTEMPTS\tPARKED\tERROR")?;
    for letter in &parked {
        let parked_at = letter.parked_at.try_to_rfc3339_string().unwrap_or_else(|_| "?".into());
        let error = letter.error.replace(['\n', '\t'], " ");
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{parked_at}\t{error}",
            letter.subscription, letter.position, letter.event_id, letter.event_type, letter.attempts
        )?;
    }
    Ok(())
}

/// Projects the parked event again through the registered projection `NAME`.
pub(crate) async fn retry(
    cli: &Cli,
    mut projections: Vec<Box<dyn Projection>>,
    args: &DeadLetterArgs,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    let projection = projections.swap_remove(registered(&projections, &args.name)?);
    let connection = crate::connect(cli).await?;
    let runner = ProjectionRunner::new(&connection, &EventStore::new(&connection), projection);
    let context = format!("cannot retry event {} of {}", args.event_id, args.name);
    if !runner.retry_parked(&args.event_id).await.map_err(CliError::database(context))? {
        return Err(CliError::NotParked { name: args.name.clone(), event_id: args.event_id.clone() });
    }
    writeln!(out, "retried {} through {}: applied", args.event_id, args.name)?;
    Ok(())
}

/// Marks the parked event skipped.
pub(crate) async fn skip(
    connection: &Connection,
    args: &DeadLetterArgs,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    let skipped = DeadLetters::new(connection)
        .skip(&args.name, &args.event_id)
        .await
        .map_err(CliError::database("cannot skip the dead letter"))?;
    if !skipped {
        return Err(CliError::NotParked { name: args.name.clone(), event_id: args.event_id.clone() });
    }
    writeln!(out, "skipped {} of {}", args.event_id, args.name)?;
    Ok(())
}
