//! `indexes ensure`: the indexes of every built-in store and of the registered projections.

use std::io::Write;

use cqrs_mongo_persistence::projections::Projection;
use cqrs_mongo_persistence::store::{IndexSpec, Indexed};
use cqrs_mongo_persistence::{
    Connection, DeadLetters, EventStore, JobQueue, Outbox, PositionStore, SagaRepository, SnapshotStore,
};

use crate::error::CliError;

/// Who declares which indexes: every built-in store (each says its own, as [`Indexed`];
/// `SnapshotStore` and `PositionStore` declare none, they only look documents up by `_id`),
/// then each registered projection.
pub(crate) fn declared(connection: &Connection, projections: &[Box<dyn Projection>]) -> Vec<(String, Vec<IndexSpec>)> {
    let stores: [(&str, &dyn Indexed); 7] = [
        ("event store", &EventStore::new(connection)),
        ("outbox", &Outbox::new(connection)),
        ("sagas", &SagaRepository::new(connection)),
        ("jobs", &JobQueue::new(connection)),
        ("dead letters", &DeadLetters::new(connection)),
        ("snapshots", &SnapshotStore::new(connection)),
        ("positions", &PositionStore::new(connection)),
    ];
    let mut owners: Vec<(String, Vec<IndexSpec>)> =
        stores.iter().map(|(owner, store)| ((*owner).to_owned(), store.indexes())).collect();
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
    let owners = declared(connection, projections);
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
