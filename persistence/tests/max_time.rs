//! Reads built from a specification carry the store's time limit (`maxTimeMS`): checked on
//! the commands the driver sends (command monitoring), since the test server may not enforce it.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bson::{Document, doc};
use cqrs_mongo_persistence::{Alone, Connection, ProjectionStore, Repository};
use cqrs_mongo_spec::QueryOptions;
use mongodb::event::EventHandler;
use mongodb::event::command::CommandEvent;
use mongodb::options::ClientOptions;
use serde_json::json;
use support::order::{Order, order};

/// A connection whose started commands are recorded (name, command).
async fn monitored(test: &str) -> (Connection, Arc<Mutex<Vec<(String, Document)>>>) {
    let seen: Arc<Mutex<Vec<(String, Document)>>> = Arc::default();
    let mut options = ClientOptions::parse(support::server_uri()).await.unwrap();
    let sink = seen.clone();
    options.command_event_handler = Some(EventHandler::callback(move |event: CommandEvent| {
        if let CommandEvent::Started(started) = event {
            sink.lock().unwrap().push((started.command_name.clone(), started.command.clone()));
        }
    }));
    let client = mongodb::Client::with_options(options).unwrap();
    let db = Connection::from_client(client, &support::name(test)).await.unwrap();
    db.database().drop().await.unwrap();
    (db, seen)
}

/// The `maxTimeMS` of every recorded `command` on `collection` since `from`.
fn limits(seen: &Mutex<Vec<(String, Document)>>, from: usize, command: &str, collection: &str) -> Vec<Option<i64>> {
    seen.lock().unwrap()[from..]
        .iter()
        .filter(|(name, body)| name == command && body.get_str(command).ok() == Some(collection))
        .map(|(_, body)| body.get("maxTimeMS").and_then(|v| v.as_i64().or_else(|| v.as_i32().map(i64::from))))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_read_built_from_a_spec_sends_the_stores_time_limit() {
    let (db, seen) = monitored("max_time").await;
    let plain = Repository::<Order>::new(&db);
    for i in 0..5 {
        plain.save(&mut order(&format!("o{i}"), i * 10), Alone).await.unwrap();
    }
    let spec = json!({"op": ">=", "attr": "total", "val": 10});
    let grouped: QueryOptions = QueryOptions::from_value(&json!({"group_by": ["total"]})).unwrap();

    // Without a limit nothing is sent.
    let from = seen.lock().unwrap().len();
    plain.search(&spec, None, Alone).await.unwrap();
    assert_eq!(limits(&seen, from, "find", "orders"), [None]);

    let limited = Repository::<Order>::new(&db).max_time(Duration::from_millis(1_500));
    let from = seen.lock().unwrap().len();
    assert_eq!(limited.search(&spec, None, Alone).await.unwrap().len(), 4);
    let paged = QueryOptions::from_value(&json!({"order_by": ["-total"], "limit": 2})).unwrap();
    assert_eq!(limited.search(&spec, Some(&paged), Alone).await.unwrap().len(), 2);
    assert!(limited.find_one(&spec, Alone).await.unwrap().is_some());
    assert_eq!(limited.count(&spec, Alone).await.unwrap(), 4);
    assert!(!limited.search_documents(&spec, &grouped, Alone).await.unwrap().is_empty());
    let uow = db.begin().await.unwrap();
    assert_eq!(limited.search(&spec, None, &uow).await.unwrap().len(), 4, "inside a unit of work too");
    uow.commit().await.unwrap();
    assert_eq!(limits(&seen, from, "find", "orders"), [Some(1_500); 4], "search ×3 and find_one");
    assert_eq!(limits(&seen, from, "aggregate", "orders"), [Some(1_500); 2], "count and the grouped search");

    let store = ProjectionStore::new(&db).max_time(Duration::from_secs(2));
    db.database().collection::<Document>("summaries").insert_one(doc! { "_id": "s1", "total": 30 }).await.unwrap();
    let from = seen.lock().unwrap().len();
    assert_eq!(store.find("summaries", &spec, None, Alone).await.unwrap().len(), 1);
    store.find("summaries", &spec, Some(&grouped), Alone).await.unwrap();
    assert_eq!(store.count("summaries", &spec, Alone).await.unwrap(), 1);
    assert_eq!(limits(&seen, from, "find", "summaries"), [Some(2_000)]);
    // The grouped find, then count (the driver counts with an aggregation).
    assert_eq!(limits(&seen, from, "aggregate", "summaries"), [Some(2_000); 2]);
}
