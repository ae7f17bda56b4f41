//! `indexes ensure`: the indexes of every built-in store and of the registered projections.

use std::io::Write;

use cqrs_mongo_persistence::{Connection, EventStore, IndexSpec, JobQueue, Outbox, Projection, SagaRepository};

use crate::error::CliError;

/// Who declares which indexes: the built-in stores, then each registered projection.
/// (`SnapshotStore` and `PositionStore` declare none: they only look documents up by `_id`.)
pub(crate) fn declared(projections: &[Box<dyn Projection>]) -> Vec<(String, Vec<IndexSpec>)> {
    let mut owners = vec![
        ("event store".to_owned(), EventStore::indexes()),
        ("outbox".to_owned(), Outbox::indexes()),
        ("sagas".to_owned(), SagaRepository::indexes()),
        ("jobs".to_owned(), JobQueue::indexes()),
    ];
    for projection in projections {
        owners.push((format!("projection {}", projection.name()), projection.indexes()));
    }
    owners
}

/// Creates what is missing and prints one line per index: `created` or `present`, who
/// declares it and `collection.name`, then a summary.
pub(crate) async fn ensure(
    connection: &Connection,
    projections: &[Box<dyn Projection>],
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    let owners = declared(projections);
    let width = owners.iter().map(|(owner, _)| owner.len()).max().unwrap_or(0);
    let (mut created, mut present) = (0, 0);
    for (owner, specs) in &owners {
        let report = connection
            .ensure_indexes(specs)
            .await
            .map_err(CliError::database(format!("cannot ensure the indexes of the {owner}")))?;
        for spec in specs {
            let label = format!("{}.{}", spec.collection, spec.name);
            let state = if report.created.contains(&label) {
                created += 1;
                "created"
            } else {
                present += 1;
                "present"
            };
            writeln!(out, "{state}  {owner:<width$}  {label}")?;
        }
    }
    writeln!(out, "{created} created, {present} already present")?;
    Ok(())
}
