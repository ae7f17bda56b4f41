//! Runner test support: a projection counting events per stream and per type, appending
//! helpers, the expected read model derived from the event store itself, and a live loop in a
//! task of its own.

use std::collections::BTreeMap;
use std::time::Duration;

use bson::{Bson, Document, doc};
use cqrs_mongo_persistence::event_store::{ExpectedVersion, NewEvent, StoredEvent, Stream as EventStream};
use cqrs_mongo_persistence::projections::{Projection, Write};
use cqrs_mongo_persistence::store::IndexSpec;
use cqrs_mongo_persistence::{Alone, Connection, EventStore, ProjectionRunner, Result};
use futures::TryStreamExt;

/// Events per stream and per type, into `<prefix>streams` and `<prefix>types`.
pub struct Counts {
    name: String,
    prefix: String,
}

impl Counts {
    pub fn new(name: &str, prefix: &str) -> Self {
        Counts { name: name.into(), prefix: prefix.into() }
    }
}

impl Projection for Counts {
    fn name(&self) -> &str {
        &self.name
    }

    fn collections(&self) -> Vec<String> {
        vec![format!("{}streams", self.prefix), format!("{}types", self.prefix)]
    }

    fn project(&self, event: &StoredEvent) -> Result<Vec<Write>> {
        Ok(vec![
            Write::update(
                format!("{}streams", self.prefix),
                event.aggregate_id.as_str(),
                doc! { "$inc": { "count": 1 }, "$set": { "last_version": event.version } },
            ),
            Write::update(format!("{}types", self.prefix), event.event_type.as_str(), doc! { "$inc": { "count": 1 } }),
        ])
    }

    fn indexes(&self) -> Vec<IndexSpec> {
        vec![IndexSpec::new(format!("{}streams", self.prefix), doc! { "last_version": 1 })]
    }
}

pub async fn setup(test: &str) -> (Connection, EventStore) {
    let db = super::database(test).await;
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    let store = EventStore::new(&db);
    (db, store)
}

/// Appends `per_stream` events to each of `streams` streams `s0`, `s1`, …; types alternate.
pub async fn append(store: &EventStore, tag: &str, streams: usize, per_stream: usize) {
    append_to(store, tag, "s", ExpectedVersion::Any, streams, per_stream).await;
}

pub async fn append_to(
    store: &EventStore,
    tag: &str,
    prefix: &str,
    expected: ExpectedVersion,
    streams: usize,
    per_stream: usize,
) {
    for s in 0..streams {
        let id = format!("{prefix}{s}");
        let events: Vec<NewEvent> = (0..per_stream)
            .map(|i| NewEvent::new(format!("{tag}-{s}-{i}"), if i % 2 == 0 { "Placed" } else { "Paid" }, doc! {}))
            .collect();
        store
            .append(EventStream { aggregate_id: &id, aggregate_type: "Order" }, expected, &events, Alone)
            .await
            .unwrap();
    }
}

/// The projection's documents without the bookkeeping fields, by id.
pub async fn contents(db: &Connection, collection: &str) -> BTreeMap<String, Document> {
    let documents: Vec<Document> =
        db.database().collection::<Document>(collection).find(doc! {}).await.unwrap().try_collect().await.unwrap();
    documents
        .into_iter()
        .map(|mut d| {
            let id = d.remove("_id").map(|id| id.to_string()).unwrap_or_default();
            for key in ["_version", "_last_event_id", "_last_event_position"] {
                d.remove(key);
            }
            (id, d)
        })
        .collect()
}

/// What the counts must be, read back from the event store itself.
pub async fn expected_streams(store: &EventStore, streams: usize) -> BTreeMap<String, Document> {
    expected_streams_of(store, "s", streams).await
}

pub async fn expected_streams_of(store: &EventStore, prefix: &str, streams: usize) -> BTreeMap<String, Document> {
    let mut expected = BTreeMap::new();
    for s in 0..streams {
        let events = store.read_stream(&format!("{prefix}{s}"), 0, None, Alone).await.unwrap();
        if let Some(last) = events.last() {
            let id = Bson::String(format!("{prefix}{s}")).to_string();
            expected.insert(id, doc! { "count": events.len() as i32, "last_version": last.version });
        }
    }
    expected
}

/// A runner's live loop in a task of its own, and what stops it.
pub struct Running(tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<Result<()>>);

impl Running {
    /// Stops the loop and checks it ended without an error.
    pub async fn stop(self) {
        self.0.send(()).unwrap();
        self.1.await.unwrap().unwrap();
    }
}

pub fn spawn_run<P: Projection>(runner: &std::sync::Arc<ProjectionRunner<P>>) -> Running {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = runner.clone();
    let task = tokio::spawn(async move {
        runner
            .run(async {
                let _ = stopped.await;
            })
            .await
    });
    Running(stop, task)
}

pub async fn failpoint(db: &Connection, settings: Document) {
    let mut command = doc! { "configureFailPoint": "failCommand" };
    command.extend(settings);
    db.client().database("admin").run_command(command).await.expect("configureFailPoint");
}

pub async fn wait_until(condition: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !condition() {
        assert!(std::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub async fn wait_for_count(db: &Connection, collection: &str, documents: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        // `find`, not `count_documents`: the fallback test fails every aggregate.
        let found = contents(db, collection).await.len() as u64;
        if found >= documents {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{collection} has {found} of {documents} documents");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
