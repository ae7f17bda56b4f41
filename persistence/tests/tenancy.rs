//! Tenant scopes on the real test server: no cross-tenant read or write succeeds.

mod support;

use bson::doc;
use cqrs_mongo_persistence::store::Tenant;
use cqrs_mongo_persistence::{Alone, Error, Repository};
use futures::TryStreamExt;
use serde_json::json;
use support::order::{Order, order};

fn cross(result: Result<impl std::fmt::Debug, Error>) -> bool {
    matches!(result, Err(Error::CrossTenant { .. }))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scoped_repository_never_reads_or_writes_another_tenants_aggregates() {
    let db = support::database("tenancy_repository").await;
    let all = Repository::<Order>::new(&db);
    let (acme, globex) = (Tenant::new("acme").unwrap(), Tenant::new("globex").unwrap());
    let (ours, theirs) = (all.for_tenant(&acme), all.for_tenant(&globex));
    ours.save(&mut order("a1", 100), Alone).await.unwrap();
    ours.save(&mut order("a2", 300), Alone).await.unwrap();
    theirs.save(&mut order("g1", 200), Alone).await.unwrap();
    let stored = all.collection().find_one(doc! { "_id": "a1" }).await.unwrap().unwrap();
    assert_eq!(stored.get_str("tenant_id").unwrap(), "acme", "the tenant is written on the document");

    // Reads by id.
    let mut mine = ours.get(&"a1".to_string(), Alone).await.unwrap().unwrap();
    assert!(cross(theirs.get(&"a1".to_string(), Alone).await));
    assert!(cross(theirs.exists(&"a1".to_string(), Alone).await));
    assert!(cross(theirs.get_many(&["g1".to_string(), "a1".to_string()], Alone).await));
    assert!(theirs.get(&"nobody".to_string(), Alone).await.unwrap().is_none(), "missing is still just missing");

    // Writes by id: update, create over an existing id, delete.
    let mut stolen = mine.clone();
    stolen.total = 0;
    assert!(cross(theirs.save(&mut stolen, Alone).await));
    assert!(cross(theirs.save(&mut order("a1", 1), Alone).await));
    assert!(cross(theirs.delete(&"a1".to_string(), None, Alone).await));
    assert!(cross(theirs.delete(&"a1".to_string(), Some(1), Alone).await));
    mine.total = 150;
    ours.save(&mut mine, Alone).await.unwrap();
    assert_eq!(all.get(&"a1".to_string(), Alone).await.unwrap().unwrap().total, 150, "nothing of globex's got through");

    // Searches see only the scope's tenant, whatever the specification asks.
    let everything = json!({ "op": ">=", "attr": "total", "val": 0 });
    let found: Vec<String> = ours.search(&everything, None, Alone).await.unwrap().into_iter().map(|o| o.id).collect();
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|id| id.starts_with('a')));
    assert_eq!(theirs.count(&everything, Alone).await.unwrap(), 1);
    let asks_for_acme = json!({ "op": "=", "attr": "tenant_id", "val": "acme" });
    assert!(theirs.find_one(&asks_for_acme, Alone).await.unwrap().is_none(), "a spec cannot widen the scope");
    let streamed: Vec<Order> = theirs.search_stream(&everything, None, 10).await.unwrap().try_collect().await.unwrap();
    assert_eq!(streamed.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), ["g1"]);
    assert_eq!(all.count(&everything, Alone).await.unwrap(), 3, "the unscoped repository sees every tenant");
    assert!(Tenant::new("").is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scoped_event_store_keeps_streams_and_reads_inside_the_tenant() {
    use cqrs_mongo_persistence::EventStore;
    use cqrs_mongo_persistence::event_store::{ExpectedVersion, NewEvent, Stream as EventStream};
    let db = support::database("tenancy_events").await;
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    let all = EventStore::new(&db);
    let (acme, globex) = (Tenant::new("acme").unwrap(), Tenant::new("globex").unwrap());
    let (ours, theirs) = (all.for_tenant(&acme), all.for_tenant(&globex));
    let stream = |id| EventStream { aggregate_id: id, aggregate_type: "Order" };
    let event = |id: &str| NewEvent::new(id, "Placed", doc! { "id": id });
    ours.append(stream("a"), ExpectedVersion::NoStream, &[event("a1")], Alone).await.unwrap();
    ours.append(stream("a"), ExpectedVersion::Exact(1), &[event("a2")], Alone).await.unwrap();
    theirs.append(stream("g"), ExpectedVersion::Any, &[event("g1")], Alone).await.unwrap();
    let stored = db.database().collection::<bson::Document>("domain_events").find_one(doc! { "_id": "a1" }).await;
    assert_eq!(stored.unwrap().unwrap().get_str("tenant_id").unwrap(), "acme");

    // Appending to another tenant's stream, whatever the expected version, through the group
    // commit and inside a unit of work.
    for expected in [ExpectedVersion::Exact(2), ExpectedVersion::Any, ExpectedVersion::NoStream] {
        let refused = theirs.append(stream("a"), expected, &[event("x")], Alone).await;
        assert!(cross(refused), "{expected:?}");
    }
    let uow = db.begin().await.unwrap();
    assert!(cross(theirs.append(stream("a"), ExpectedVersion::Exact(2), &[event("y")], &uow).await));
    drop(uow);
    // Re-appending another tenant's event id is not an idempotent no-op either.
    assert!(cross(theirs.append(stream("g"), ExpectedVersion::Exact(1), &[event("a1")], Alone).await));

    // Reads.
    assert!(cross(theirs.read_stream("a", 0, None, Alone).await));
    assert_eq!(ours.read_stream("a", 0, None, Alone).await.unwrap().len(), 2);
    let positions = |events: Vec<cqrs_mongo_persistence::event_store::StoredEvent>| {
        events.into_iter().map(|e| (e.aggregate_id, e.position)).collect::<Vec<_>>()
    };
    assert_eq!(positions(theirs.read_all(0, 10).await.unwrap()), [("g".to_string(), 3)]);
    let mine: Vec<_> = ours.read_all_stream(0, 1).try_collect().await.unwrap();
    assert_eq!(positions(mine), [("a".to_string(), 1), ("a".to_string(), 2)], "pages step over globex's position");
    assert_eq!(theirs.read_by_types(&["Placed"], 0, 10).await.unwrap().len(), 1);
    assert_eq!(all.read_all(0, 10).await.unwrap().len(), 3, "the unscoped store sees everything");
}

#[tokio::test(flavor = "multi_thread")]
async fn scoped_outbox_projections_snapshots_and_positions_stay_inside_the_tenant() {
    use cqrs_mongo_persistence::outbox::OutboxMessage;
    use cqrs_mongo_persistence::projections::Applied;
    use cqrs_mongo_persistence::{Outbox, OutboxRelay, PositionStore, ProjectionStore, SnapshotStore};
    let db = support::database("tenancy_others").await;
    let (acme, globex) = (Tenant::new("acme").unwrap(), Tenant::new("globex").unwrap());

    // Outbox: stamped, counted and relayed per tenant; another tenant's message id is refused.
    let outbox = Outbox::new(&db);
    let (ours, theirs) = (outbox.for_tenant(&acme), outbox.for_tenant(&globex));
    ours.save(
        &[OutboxMessage::new("m1", "Placed", doc! {}, "c"), OutboxMessage::new("m2", "Placed", doc! {}, "c")],
        Alone,
    )
    .await
    .unwrap();
    theirs.save(&[OutboxMessage::new("m3", "Placed", doc! {}, "c")], Alone).await.unwrap();
    assert!(cross(theirs.save(&[OutboxMessage::new("m1", "Placed", doc! {}, "c")], Alone).await));
    assert_eq!(ours.stats().await.unwrap().get("pending"), Some(&2));
    let mut sent = Vec::new();
    let report = OutboxRelay::new(&theirs, "relay-g")
        .run_once(|m| {
            sent.push(m.message_id);
            async { Ok::<(), String>(()) }
        })
        .await
        .unwrap();
    assert_eq!((report.published, sent), (1, vec!["m3".to_string()]), "a tenant's relay publishes only its messages");
    assert_eq!(outbox.stats().await.unwrap().get("pending"), Some(&2));

    // Projections.
    let store = ProjectionStore::new(&db);
    let (ours, theirs) = (store.for_tenant(&acme), store.for_tenant(&globex));
    let at = |position| Applied { position, event_id: "e" };
    assert!(ours.upsert("summaries", "o1", doc! { "total": 10 }, at(1), Alone).await.unwrap());
    assert!(theirs.upsert("summaries", "o2", doc! { "total": 20 }, at(2), Alone).await.unwrap());
    assert!(cross(theirs.upsert("summaries", "o1", doc! { "total": 0 }, at(9), Alone).await));
    assert!(cross(theirs.get("summaries", "o1", Alone).await));
    assert!(cross(theirs.get_many("summaries", vec!["o1".into(), "o2".into()], Alone).await));
    assert!(cross(theirs.delete("summaries", "o1", Alone).await));
    let everything = json!({ "op": ">=", "attr": "total", "val": 0 });
    let found = theirs.find("summaries", &everything, None, Alone).await.unwrap();
    assert_eq!(found.iter().map(|d| d.get_str("_id").unwrap()).collect::<Vec<_>>(), ["o2"]);
    assert_eq!(
        (
            theirs.count("summaries", &everything, Alone).await.unwrap(),
            store.count("summaries", &everything, Alone).await.unwrap()
        ),
        (1, 2)
    );
    assert!(cross(theirs.drop("summaries").await), "a tenant cannot drop a shared collection");
    assert_eq!(theirs.truncate("summaries", Alone).await.unwrap(), 1);
    assert_eq!(ours.get("summaries", "o1", Alone).await.unwrap().unwrap().get_i32("total").unwrap(), 10);

    // Snapshots.
    let snapshots = SnapshotStore::new(&db);
    let (ours, theirs) = (snapshots.for_tenant(&acme), snapshots.for_tenant(&globex));
    assert!(ours.save("Order", "o1", 3, doc! { "state": 1 }, Alone).await.unwrap());
    assert!(cross(theirs.save("Order", "o1", 9, doc! { "state": 2 }, Alone).await));
    assert!(cross(theirs.latest("Order", "o1", Alone).await));
    assert_eq!(ours.latest("Order", "o1", Alone).await.unwrap().unwrap().version, 3);

    // Positions: one per projection and tenant, moved independently.
    let positions = PositionStore::new(&db);
    let (ours, theirs) = (positions.for_tenant(&acme), positions.for_tenant(&globex));
    assert!(ours.save("summaries", 7, Alone).await.unwrap());
    assert!(theirs.save("summaries", 2, Alone).await.unwrap());
    assert_eq!((ours.get("summaries", Alone).await.unwrap(), theirs.get("summaries", Alone).await.unwrap()), (7, 2));
    theirs.reset("summaries", Alone).await.unwrap();
    assert_eq!(ours.get("summaries", Alone).await.unwrap(), 7, "another tenant's reset moves only its own");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scope_compiles_the_callers_spec_as_given_and_adds_the_tenant_to_the_filter() {
    use cqrs_mongo_persistence::ProjectionStore;
    use cqrs_mongo_spec::{Compiler, CompilerConfig, ErrorCode, QueryOptions};
    let db = support::database("tenancy_spec_as_given").await;
    let acme = Tenant::new("acme").unwrap();
    // The caller's whitelist does not mention tenant_id: the scope's clause is not the caller's.
    let compiler = Compiler::new(CompilerConfig::default().allow_fields(["total"]));
    let all = Repository::<Order>::new(&db).with_compiler(compiler.clone());
    let ours = all.for_tenant(&acme);
    ours.save(&mut order("a1", 100), Alone).await.unwrap();
    all.for_tenant(&Tenant::new("globex").unwrap()).save(&mut order("g1", 100), Alone).await.unwrap();
    let big = json!({ "op": ">=", "attr": "total", "val": 50 });
    assert_eq!(ours.count(&big, Alone).await.unwrap(), 1);
    let ids: Vec<String> = ours.search(&big, None, Alone).await.unwrap().into_iter().map(|o| o.id).collect();
    assert_eq!(ids, ["a1"]);

    // Errors point into the caller's spec, not into a wrapper around it.
    let bad = json!({ "op": "and", "conditions": [big, { "op": "=", "attr": "secret", "val": 1 }] });
    let Err(Error::Spec(err)) = ours.count(&bad, Alone).await else { panic!("a spec error") };
    assert_eq!((err.code(), err.path_string().as_str()), (ErrorCode::FieldNotAllowed, "<root>.conditions[1].attr"));
    let unscoped = match all.count(&bad, Alone).await {
        Err(Error::Spec(err)) => err,
        other => panic!("{other:?}"),
    };
    assert_eq!(unscoped.path_string(), err.path_string(), "the same error with and without a scope");

    // The projection store's queries, find plans and pipelines alike.
    let store = ProjectionStore::new(&db).with_compiler(compiler);
    let (mine, theirs) = (store.for_tenant(&acme), store.for_tenant(&Tenant::new("globex").unwrap()));
    use cqrs_mongo_persistence::projections::Applied;
    mine.upsert("sums", "s1", doc! { "total": 7 }, Applied { position: 1, event_id: "e1" }, Alone).await.unwrap();
    theirs.upsert("sums", "s2", doc! { "total": 8 }, Applied { position: 2, event_id: "e2" }, Alone).await.unwrap();
    let any = json!({ "op": ">=", "attr": "total", "val": 0 });
    assert_eq!(mine.find("sums", &any, None, Alone).await.unwrap().len(), 1);
    let grouped = QueryOptions::default().group_by(["total"]);
    let groups = mine.find("sums", &any, Some(&grouped), Alone).await.unwrap();
    assert_eq!(groups.len(), 1, "the pipeline sees only the tenant's documents: {groups:?}");
    let Err(Error::Spec(err)) = mine.find("sums", &bad, None, Alone).await else { panic!("a spec error") };
    assert_eq!(err.path_string(), "<root>.conditions[1].attr");
}

#[tokio::test(flavor = "multi_thread")]
async fn scoped_sagas_are_unique_per_tenant_and_never_seen_across_tenants() {
    use cqrs_mongo_persistence::SagaRepository;
    use cqrs_mongo_persistence::sagas::{IfStarted, Saga, SagaStatus};
    use cqrs_mongo_persistence::store::PageRequest;
    let db = support::database("tenancy_sagas").await;
    db.ensure_indexes(&SagaRepository::indexes()).await.unwrap();
    let all = SagaRepository::new(&db);
    let (acme, globex) = (Tenant::new("acme").unwrap(), Tenant::new("globex").unwrap());
    let (ours, theirs) = (all.for_tenant(&acme), all.for_tenant(&globex));
    let checkout = |id: &str| Saga::new(id, "Checkout", "cart-1", doc! { "step": 1 });

    // The same saga type and correlation id in two tenants are two sagas; twice in one is not.
    let mut mine = ours.start(checkout("s-acme"), IfStarted::Error, Alone).await.unwrap();
    let mut yours = theirs.start(checkout("s-globex"), IfStarted::Error, Alone).await.unwrap();
    assert_eq!((mine.tenant_id(), yours.tenant_id()), (Some("acme"), Some("globex")));
    let again = ours.start(checkout("s-acme-2"), IfStarted::Error, Alone).await;
    assert!(matches!(&again, Err(Error::AlreadyExists { existing_id, .. }) if existing_id == "s-acme"), "{again:?}");
    let existing = theirs.start(checkout("s-globex-2"), IfStarted::ReturnExisting, Alone).await.unwrap();
    assert_eq!(existing.id, "s-globex", "the existing saga of this tenant, not acme's");
    assert!(cross(theirs.start(checkout("s-acme"), IfStarted::Error, Alone).await), "another tenant's saga id");
    let stored = db.database().collection::<bson::Document>("sagas").find_one(doc! { "_id": "s-acme" }).await;
    assert_eq!(stored.unwrap().unwrap().get_str("tenant_id").unwrap(), "acme");

    // Reads and saves by id.
    assert!(cross(theirs.get("s-acme", Alone).await));
    assert!(theirs.find_by_correlation("Checkout", "cart-1", Alone).await.unwrap().is_some_and(|s| s.id == "s-globex"));
    mine.transition(SagaStatus::Running).unwrap();
    ours.save(&mut mine, Alone).await.unwrap();
    assert_eq!(
        ours.get("s-acme", Alone).await.unwrap().unwrap().state,
        doc! { "step": 1 },
        "the state holds no tenant field"
    );
    let mut stolen = mine.clone();
    stolen.state.insert("step", 99);
    assert!(cross(theirs.save(&mut stolen, Alone).await));
    assert_eq!(all.get("s-acme", Alone).await.unwrap().unwrap().state.get_i32("step").unwrap(), 1);

    // Supervisor queries see only the tenant's sagas.
    yours.transition(SagaStatus::Suspended).unwrap();
    theirs.save(&mut yours, Alone).await.unwrap();
    assert!(ours.suspended("Checkout", PageRequest::first(10), Alone).await.unwrap().is_empty());
    assert_eq!(theirs.suspended("Checkout", PageRequest::first(10), Alone).await.unwrap().len(), 1);
    let running = ours.stalled("Checkout", std::time::Duration::ZERO, PageRequest::first(10), Alone).await.unwrap();
    assert!(running.iter().all(|s| s.tenant_id() == Some("acme")), "{running:?}");
    assert!(
        theirs.stalled("Checkout", std::time::Duration::ZERO, PageRequest::first(10), Alone).await.unwrap().is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn scoped_job_queues_claim_count_and_deduplicate_within_the_tenant() {
    use cqrs_mongo_persistence::JobQueue;
    use cqrs_mongo_persistence::jobs::{Enqueued, NewJob};
    use cqrs_mongo_persistence::store::PageRequest;
    use std::time::Duration;
    let db = support::database("tenancy_jobs").await;
    db.ensure_indexes(&JobQueue::indexes()).await.unwrap();
    let all = JobQueue::new(&db);
    let (acme, globex) = (Tenant::new("acme").unwrap(), Tenant::new("globex").unwrap());
    let (ours, theirs) = (all.for_tenant(&acme), all.for_tenant(&globex));
    let lease = Duration::from_secs(60);
    ours.enqueue(NewJob::new("a1", "mail", doc! {}).priority(1), Alone).await.unwrap();
    ours.enqueue(NewJob::new("a2", "mail", doc! {}), Alone).await.unwrap();
    // Globex's job has the higher priority: an unscoped claim would take it first.
    theirs.enqueue(NewJob::new("g1", "mail", doc! {}).priority(9), Alone).await.unwrap();
    let stored = all.list("PENDING", PageRequest::first(10), Alone).await.unwrap();
    assert!(stored.iter().all(|j| j.get_str("tenant_id").is_ok()), "every job carries its tenant");

    // De-duplication keys are per tenant.
    assert_eq!(
        ours.enqueue(NewJob::new("a3", "mail", doc! {}).dedup_key("k"), Alone).await.unwrap(),
        Enqueued::Created
    );
    assert_eq!(
        theirs.enqueue(NewJob::new("g2", "mail", doc! {}).dedup_key("k"), Alone).await.unwrap(),
        Enqueued::Created
    );
    assert_eq!(
        ours.enqueue(NewJob::new("a4", "mail", doc! {}).dedup_key("k"), Alone).await.unwrap(),
        Enqueued::Duplicate { existing_id: "a3".into() }
    );
    assert!(cross(theirs.enqueue(NewJob::new("a1", "mail", doc! {}), Alone).await), "another tenant's job id");

    // Claims take only the scope's jobs, in the scope's priority order.
    let first = ours.claim("w", &["mail"], lease).await.unwrap().unwrap();
    assert_eq!(first.id, "a1");
    let batch: Vec<String> =
        ours.claim_batch("w", &["mail"], lease, 10).await.unwrap().into_iter().map(|j| j.id).collect();
    assert_eq!(batch, ["a2", "a3"]);
    assert!(ours.claim("w", &["mail"], lease).await.unwrap().is_none(), "globex's jobs are not acme's to claim");
    ours.complete(&first).await.unwrap();
    assert_eq!(ours.stats().await.unwrap().get("COMPLETED"), Some(&1));
    assert_eq!(theirs.stats().await.unwrap().get("PENDING"), Some(&2));
    assert_eq!(theirs.list("PENDING", PageRequest::first(10), Alone).await.unwrap().len(), 2);
    assert!(cross(theirs.cancel("a2", Alone).await));
    assert_eq!(theirs.purge(Duration::ZERO, Alone).await.unwrap(), 0, "acme's completed job is not globex's to purge");
    assert_eq!(ours.purge(Duration::ZERO, Alone).await.unwrap(), 1);

    // An expired lease is swept back within its tenant only.
    let short = theirs.claim("slow", &["mail"], Duration::from_millis(1)).await.unwrap().unwrap();
    assert_eq!(short.id, "g1");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let again = loop {
        // The lease has passed once the server's clock has moved on; claims sweep it back.
        if let Some(job) = theirs.claim("fast", &["mail"], lease).await.unwrap().filter(|j| j.id == "g1") {
            break job;
        }
        assert!(std::time::Instant::now() < deadline, "the expired lease was never swept");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(again.attempt, 2);
}
