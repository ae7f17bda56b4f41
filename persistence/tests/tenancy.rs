//! Tenant scopes on the real test server: no cross-tenant read or write succeeds.

mod support;

use bson::doc;
use cqrs_mongo_persistence::{Error, Repository, Tenant};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: String,
    total: i64,
    #[serde(default)]
    version: i64,
}

cqrs_mongo_persistence::aggregate!(Order, "orders", String);

fn order(id: &str, total: i64) -> Order {
    Order { id: id.into(), total, version: 0 }
}

fn cross(result: Result<impl std::fmt::Debug, Error>) -> bool {
    matches!(result, Err(Error::CrossTenant { .. }))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scoped_repository_never_reads_or_writes_another_tenants_aggregates() {
    let db = support::database("tenancy_repository").await;
    let all = Repository::<Order>::new(&db);
    let (acme, globex) = (Tenant::new("acme").unwrap(), Tenant::new("globex").unwrap());
    let (ours, theirs) = (all.for_tenant(&acme), all.for_tenant(&globex));
    ours.save(&mut order("a1", 100), None).await.unwrap();
    ours.save(&mut order("a2", 300), None).await.unwrap();
    theirs.save(&mut order("g1", 200), None).await.unwrap();
    let stored = all.collection().find_one(doc! { "_id": "a1" }).await.unwrap().unwrap();
    assert_eq!(stored.get_str("tenant_id").unwrap(), "acme", "the tenant is written on the document");

    // Reads by id.
    let mut mine = ours.get(&"a1".to_string(), None).await.unwrap().unwrap();
    assert!(cross(theirs.get(&"a1".to_string(), None).await));
    assert!(cross(theirs.exists(&"a1".to_string(), None).await));
    assert!(cross(theirs.get_many(&["g1".to_string(), "a1".to_string()], None).await));
    assert!(theirs.get(&"nobody".to_string(), None).await.unwrap().is_none(), "missing is still just missing");

    // Writes by id: update, create over an existing id, delete.
    let mut stolen = mine.clone();
    stolen.total = 0;
    assert!(cross(theirs.save(&mut stolen, None).await));
    assert!(cross(theirs.save(&mut order("a1", 1), None).await));
    assert!(cross(theirs.delete(&"a1".to_string(), None, None).await));
    assert!(cross(theirs.delete(&"a1".to_string(), Some(1), None).await));
    mine.total = 150;
    ours.save(&mut mine, None).await.unwrap();
    assert_eq!(all.get(&"a1".to_string(), None).await.unwrap().unwrap().total, 150, "nothing of globex's got through");

    // Searches see only the scope's tenant, whatever the specification asks.
    let everything = json!({ "op": ">=", "attr": "total", "val": 0 });
    let found: Vec<String> = ours.search(&everything, None, None).await.unwrap().into_iter().map(|o| o.id).collect();
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|id| id.starts_with('a')));
    assert_eq!(theirs.count(&everything, None).await.unwrap(), 1);
    let asks_for_acme = json!({ "op": "=", "attr": "tenant_id", "val": "acme" });
    assert!(theirs.find_one(&asks_for_acme, None).await.unwrap().is_none(), "a spec cannot widen the scope");
    let streamed: Vec<Order> = theirs.search_stream(&everything, None, 10).await.unwrap().try_collect().await.unwrap();
    assert_eq!(streamed.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), ["g1"]);
    assert_eq!(all.count(&everything, None).await.unwrap(), 3, "the unscoped repository sees every tenant");
    assert!(Tenant::new("").is_err());
}
