//! Overhead of the persistence layer against the raw driver, on the same server, same data,
//! same run: prints the mean time per operation of each pair and their ratio (goal ≤ 1.10).
//!
//! `bash scripts/bench-persistence.sh` builds and starts the Rust test server (`secantusd-rs`)
//! and runs this with `MONGODB_URI` set; any MongoDB replica set works too.

use bson::{Document, doc};
use cqrs_mongo_persistence::store::{PoolOptions, Version};
use cqrs_mongo_persistence::{Alone, Connection, Repository};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    id: String,
    customer: String,
    total: i64,
    #[serde(default)]
    version: Version,
}

cqrs_mongo_persistence::aggregate!(Order, "orders", String);

#[path = "support/pair.rs"]
mod pair;
use pair::{pair, report};

#[tokio::main]
async fn main() {
    let uri = std::env::var("MONGODB_URI").expect("set MONGODB_URI (scripts/bench-persistence.sh starts a server)");
    let db = Connection::connect(&uri, "bench_overhead", PoolOptions::default()).await.expect("connect");
    db.database().drop().await.expect("drop");
    let repo = Repository::<Order>::new(&db);
    let raw = db.database().collection::<Document>("orders");
    for i in 0..1_000 {
        let mut order =
            Order { id: format!("o{i}"), customer: format!("c{}", i % 10), total: i, version: Version::default() };
        repo.save(&mut order, Alone).await.expect("seed");
    }
    println!("server: {uri}\n");

    let ids: Vec<String> = (0..1_000).map(|i| format!("o{i}")).collect();
    report(
        "get vs find_one",
        pair(
            400,
            async |i| {
                repo.get(&ids[i % 1_000], Alone).await.unwrap().unwrap();
            },
            async |i| {
                raw.find_one(doc! { "_id": &ids[i % 1_000] }).await.unwrap().unwrap();
            },
        )
        .await,
    );

    let mut mine = repo.get(&"o1".to_string(), Alone).await.unwrap().unwrap();
    let mut raw_version = 1_i64;
    raw.insert_one(doc! { "_id": "raw1", "customer": "c1", "total": 1_i64, "version": 1_i64 }).await.unwrap();
    report(
        "save (update path) vs replace_one",
        pair(
            400,
            async |i| {
                mine.total = i as i64;
                repo.save(&mut mine, Alone).await.unwrap();
            },
            async |i| {
                let filter = doc! { "_id": "raw1", "version": raw_version };
                let replacement =
                    doc! { "_id": "raw1", "customer": "c1", "total": i as i64, "version": raw_version + 1 };
                raw.replace_one(filter, replacement).await.unwrap();
                raw_version += 1;
            },
        )
        .await,
    );

    report(
        "unit of work, 10 inserts vs raw transaction",
        pair(
            40,
            async |i| {
                let uow = db.begin().await.unwrap();
                for j in 0..10 {
                    let mut order =
                        Order { id: format!("u{i}_{j}"), customer: "c".into(), total: j, version: Version::default() };
                    repo.save(&mut order, &uow).await.unwrap();
                }
                uow.commit().await.unwrap();
            },
            async |i| {
                let mut session = db.client().start_session().await.unwrap();
                session.start_transaction().await.unwrap();
                for j in 0..10_i64 {
                    let document = doc! { "_id": format!("r{i}_{j}"), "customer": "c", "total": j, "version": 1_i64 };
                    raw.insert_one(document).session(&mut session).await.unwrap();
                }
                session.commit_transaction().await.unwrap();
            },
        )
        .await,
    );

    let spec = json!({"op": "and", "conditions": [
        {"op": "=", "attr": "customer", "val": "c3"},
        {"op": ">=", "attr": "total", "val": 100}
    ]});
    let filter = cqrs_mongo_spec::compile(&spec).unwrap();
    report(
        "search via spec vs raw find (~90 documents)",
        pair(
            100,
            async |_| {
                assert!(!repo.search(&spec, None, Alone).await.unwrap().is_empty());
            },
            async |_| {
                let found: Vec<Document> = raw.find(filter.clone()).await.unwrap().try_collect().await.unwrap();
                assert!(!found.is_empty());
            },
        )
        .await,
    );
}
