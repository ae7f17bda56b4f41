//! `projections status` and `projections rebuild NAME`.

use std::io::Write;
use std::time::Duration;

use bson::{Bson, Document, doc};
use cqrs_mongo_persistence::projections::{Projection, RebuildProgress, RebuildReport};
use cqrs_mongo_persistence::{Connection, EventStore, ProjectionRunner};
use indicatif::{HumanDuration, ProgressBar, ProgressStyle};

use crate::args::{Cli, RunArgs};
use crate::error::CliError;

/// The checkpoint collection (`{_id: <projection name>, position, updated_at}`).
const CHECKPOINTS: &str = "projection_checkpoints";

/// One row of the status table.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    name: String,
    position: i64,
    updated: String,
    registered: bool,
}

/// Prints every registered projection (with position 0 when it has no checkpoint yet) and
/// every other checkpoint document found: saved position, head position, lag. With a `name`,
/// only that projection, which must be registered (checked before connecting).
pub(crate) async fn status(
    cli: &Cli,
    projections: &[Box<dyn Projection>],
    name: Option<&str>,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    if let Some(name) = name {
        registered(projections, name)?;
    }
    let connection = crate::connect(cli).await?;
    let head = EventStore::new(&connection)
        .latest_position()
        .await
        .map_err(CliError::database("cannot read the head position"))?;
    let checkpoints = read_checkpoints(&connection).await?;
    let mut rows = rows(projections, checkpoints);
    if let Some(name) = name {
        rows.retain(|row| row.registered && row.name == name);
    }
    let width = rows.iter().map(|r| r.name.len()).chain(["PROJECTION".len()]).max().unwrap_or(0);
    writeln!(
        out,
        "{:<width$}  {:>10}  {:>10}  {:>10}  {:<24}  REGISTERED",
        "PROJECTION", "POSITION", "HEAD", "LAG", "UPDATED"
    )?;
    for row in &rows {
        let lag = head.saturating_sub(row.position).max(0);
        let registered = if row.registered { "yes" } else { "no" };
        writeln!(
            out,
            "{:<width$}  {:>10}  {head:>10}  {lag:>10}  {:<24}  {registered}",
            row.name, row.position, row.updated
        )?;
    }
    Ok(())
}

/// Every checkpoint document, by name.
async fn read_checkpoints(connection: &Connection) -> Result<Vec<Document>, CliError> {
    let collection = connection.database().collection::<Document>(CHECKPOINTS);
    let read = async {
        let mut cursor = collection.find(doc! {}).sort(doc! { "_id": 1 }).await?;
        let mut documents = Vec::new();
        while cursor.advance().await? {
            documents.push(cursor.deserialize_current()?);
        }
        Ok::<_, cqrs_mongo_persistence::Error>(documents)
    };
    read.await.map_err(CliError::database(format!("cannot read {CHECKPOINTS}")))
}

/// Registered projections in registration order, then the other checkpoints by name.
fn rows(projections: &[Box<dyn Projection>], checkpoints: Vec<Document>) -> Vec<Row> {
    let mut rows: Vec<Row> = projections
        .iter()
        .map(|p| Row { name: p.name().to_owned(), position: 0, updated: "never".into(), registered: true })
        .collect();
    for checkpoint in checkpoints {
        let name = match checkpoint.get("_id") {
            Some(Bson::String(name)) => name.clone(),
            Some(other) => other.to_string(),
            None => continue,
        };
        let position = match checkpoint.get("position") {
            Some(Bson::Int32(v)) => i64::from(*v),
            Some(Bson::Int64(v)) => *v,
            Some(Bson::Double(v)) => *v as i64,
            _ => 0,
        };
        let updated = checkpoint
            .get_datetime("updated_at")
            .ok()
            .and_then(|at| at.try_to_rfc3339_string().ok())
            .unwrap_or_else(|| "-".into());
        match rows.iter_mut().find(|row| row.registered && row.name == name) {
            Some(row) => {
                row.position = position;
                row.updated = updated;
            }
            None => rows.push(Row { name, position, updated, registered: false }),
        }
    }
    rows
}

/// The index of the registered projection `name`, or the error naming the registered ones.
pub(crate) fn registered(projections: &[Box<dyn Projection>], name: &str) -> Result<usize, CliError> {
    projections.iter().position(|p| p.name() == name).ok_or_else(|| CliError::ProjectionNotRegistered {
        name: name.to_owned(),
        registered: projections.iter().map(|p| p.name().to_owned()).collect(),
    })
}

/// Rebuilds the registered projection `name` with a progress bar on standard error, then
/// prints the report. A name this binary does not register is an error (before connecting).
pub(crate) async fn rebuild(
    cli: &Cli,
    mut projections: Vec<Box<dyn Projection>>,
    name: &str,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    let projection = projections.swap_remove(registered(&projections, name)?);
    let connection = crate::connect(cli).await?;
    let events = EventStore::new(&connection);
    let runner = ProjectionRunner::new(&connection, &events, projection);
    let head = events.latest_position().await.map_err(CliError::database("cannot read the head position"))?;
    let bar = progress_bar(name, head.max(0) as u64);
    let result = runner.rebuild(|progress| show(&bar, progress)).await;
    bar.finish_and_clear();
    let report = result.map_err(CliError::database(format!("cannot rebuild {name}")))?;
    print_report(out, name, &report)
}

/// Runs the registered projection `NAME` as one replica until Ctrl-C or SIGTERM, then
/// releases its lease (a stand-by takes over at once) and prints what it applied.
pub(crate) async fn run(
    cli: &Cli,
    mut projections: Vec<Box<dyn Projection>>,
    args: &RunArgs,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    let projection = projections.swap_remove(registered(&projections, &args.name)?);
    let connection = crate::connect(cli).await?;
    let mut runner = ProjectionRunner::new(&connection, &EventStore::new(&connection), projection)
        .lease_period(Duration::from_secs(args.lease));
    if let Some(replica) = &args.replica {
        runner = runner.replica_name(replica);
    }
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(CliError::Signal)?;
    let stop = async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    };
    writeln!(out, "running {} (lease {} s); Ctrl-C or SIGTERM stops it", args.name, args.lease)?;
    out.flush()?;
    runner.run(stop).await.map_err(CliError::database(format!("projection {} stopped", args.name)))?;
    let stats = runner.stats();
    writeln!(
        out,
        "stopped {}: {} events applied, {} parked, led {} times",
        args.name,
        stats.events(),
        stats.parked(),
        stats.follow().leaderships()
    )?;
    Ok(())
}

/// A bar on standard error (drawn only when it is a terminal) up to the head position.
fn progress_bar(name: &str, total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template("{prefix} [{bar:40.cyan/blue}] {pos}/{len} events  {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(format!("rebuilding {name}"));
    bar
}

/// The bar at the runner's numbers: done/total, its rate and its estimate of the time left.
fn show(bar: &ProgressBar, progress: &RebuildProgress) {
    bar.set_length(progress.total.max(progress.done));
    bar.set_position(progress.done);
    let eta = progress.remaining.map_or_else(|| "?".to_owned(), |left| HumanDuration(left).to_string());
    bar.set_message(format!("{:.0} events/s, ETA {eta}", progress.rate));
}

fn print_report(out: &mut (dyn Write + Send), name: &str, report: &RebuildReport) -> Result<(), CliError> {
    writeln!(out, "rebuilt {name}")?;
    writeln!(out, "version: {}", report.version)?;
    writeln!(out, "events: {}", report.events)?;
    writeln!(out, "events after swap: {}", report.events_after_swap)?;
    writeln!(out, "elapsed: {}", seconds(report.elapsed))?;
    Ok(())
}

fn seconds(elapsed: Duration) -> String {
    format!("{:.3} s", elapsed.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use cqrs_mongo_persistence::Result;
    use cqrs_mongo_persistence::event_store::StoredEvent;
    use cqrs_mongo_persistence::projections::Write as ProjectionWrite;

    use super::*;

    struct Named(&'static str);

    impl Projection for Named {
        fn name(&self) -> &str {
            self.0
        }
        fn collections(&self) -> Vec<String> {
            Vec::new()
        }
        fn project(&self, _event: &StoredEvent) -> Result<Vec<ProjectionWrite>> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn registered_projections_come_first_and_other_checkpoints_follow() {
        let projections: Vec<Box<dyn Projection>> = vec![Box::new(Named("b")), Box::new(Named("a"))];
        let at = bson::DateTime::from_millis(0);
        let checkpoints =
            vec![doc! { "_id": "a", "position": 7_i64, "updated_at": at }, doc! { "_id": "legacy", "position": 3 }];
        let rows = rows(&projections, checkpoints);
        let summary: Vec<_> = rows.iter().map(|r| (r.name.as_str(), r.position, r.registered)).collect();
        assert_eq!(summary, [("b", 0, true), ("a", 7, true), ("legacy", 3, false)]);
        assert_eq!(rows[0].updated, "never");
        assert_eq!(rows[1].updated, "1970-01-01T00:00:00Z");
    }

    #[test]
    fn only_registered_names_are_accepted_and_the_error_lists_the_registered_ones() {
        let projections: Vec<Box<dyn Projection>> = vec![Box::new(Named("b")), Box::new(Named("a"))];
        assert_eq!(registered(&projections, "a").unwrap(), 1);
        let err = registered(&projections, "c").unwrap_err();
        assert!(
            matches!(&err, CliError::ProjectionNotRegistered { name, registered } if name == "c" && registered == &["b", "a"]),
            "{err:?}"
        );
        let none = registered(&[], "a").unwrap_err();
        assert!(
            matches!(&none, CliError::ProjectionNotRegistered { registered, .. } if registered.is_empty()),
            "{none:?}"
        );
    }
}
