//! Dynamic consistency boundaries on the real test server: tagged events, reads by query, and
//! append conditions, including the concurrency holes other implementations first shipped.

mod support;

use bson::{Document, doc};
use cqrs_mongo_persistence::event_store::{
    AppendCondition, ExpectedVersion, NewEvent, PositionAllocation, Query, QueryItem, Stream,
};
use cqrs_mongo_persistence::store::Tenant;
use cqrs_mongo_persistence::{Alone, Connection, Error, EventStore};

fn stream(id: &str) -> Stream<'_> {
    Stream { aggregate_id: id, aggregate_type: "Subscription" }
}

fn joined(id: &str, student: &str, course: &str) -> NewEvent {
    NewEvent::new(id, "StudentJoined", doc! { "student": student, "course": course })
        .with_tags([format!("student:{student}"), format!("course:{course}")])
}

fn course(course: &str) -> QueryItem {
    QueryItem::types(["StudentJoined"]).with_tags([format!("course:{course}")])
}

async fn store(test: &str) -> (Connection, EventStore) {
    let db = support::database(test).await;
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    let store = EventStore::new(&db);
    (db, store)
}

fn ids(events: &[cqrs_mongo_persistence::event_store::StoredEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event_id.as_str()).collect()
}

fn conflicts(err: Error) -> Vec<QueryItem> {
    match err {
        Error::ConditionFailed { conflicts } => conflicts,
        other => panic!("expected ConditionFailed, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tags_are_stored_sorted_only_when_there_are_some_and_read_back() {
    let (db, store) = store("dcb_tags").await;
    let tagged = NewEvent::new("e1", "StudentJoined", doc! {}).with_tags(["course:c1", "student:s1", "course:c1"]);
    store
        .append(stream("a"), ExpectedVersion::Any, &[tagged, NewEvent::new("e2", "Other", doc! {})], Alone)
        .await
        .unwrap();
    let raw = db.database().collection::<Document>("domain_events");
    let e1 = raw.find_one(doc! { "_id": "e1" }).await.unwrap().unwrap();
    assert_eq!(e1.get_array("tags").unwrap(), &vec![bson::Bson::from("course:c1"), "student:s1".into()]);
    let e2 = raw.find_one(doc! { "_id": "e2" }).await.unwrap().unwrap();
    assert!(!e2.contains_key("tags"), "an untagged event keeps the legacy document shape: {e2}");
    let read = store.read_stream("a", 0, None, Alone).await.unwrap();
    assert_eq!(read[0].tags, ["course:c1", "student:s1"]);
    assert!(read[1].tags.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_query_reads_its_items_events_in_position_order() {
    let (_db, store) = store("dcb_read").await;
    let events = [
        joined("j1", "s1", "c1"),
        joined("j2", "s2", "c2"),
        NewEvent::new("r1", "CourseRenamed", doc! {}).with_tags(["course:c1"]),
        joined("j3", "s1", "c2"),
        NewEvent::new("x1", "Unrelated", doc! {}),
    ];
    for (i, event) in events.iter().enumerate() {
        store.append(stream(&format!("s{i}")), ExpectedVersion::Any, std::slice::from_ref(event), Alone).await.unwrap();
    }
    let read = |query: Query| {
        let store = store.clone();
        async move { store.read_query(&query, Alone).await.unwrap() }
    };
    assert_eq!(ids(&read(course("c1").into()).await.events), ["j1"]);
    assert_eq!(ids(&read(QueryItem::tags(["course:c1"]).into()).await.events), ["j1", "r1"]);
    assert_eq!(ids(&read(QueryItem::types(["StudentJoined"]).into()).await.events), ["j1", "j2", "j3"]);
    let student = QueryItem::types(["StudentJoined"]).with_tags(["student:s1"]);
    let both = read(Query::new([course("c2"), student.clone()])).await;
    assert_eq!(ids(&both.events), ["j1", "j2", "j3"]);
    assert_eq!(both.token.last_position(), both.events[2].position);
    let every_tag = QueryItem::tags(["student:s1", "course:c2"]);
    assert_eq!(ids(&read(every_tag.into()).await.events), ["j3"]);
    assert!(read(QueryItem::tags(["course:none"]).into()).await.events.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn queries_without_items_or_with_an_item_naming_nothing_are_refused() {
    let (_db, store) = store("dcb_invalid").await;
    for query in [Query::new([]), QueryItem::types(Vec::<String>::new()).into(), QueryItem::tags([""]).into()] {
        let err = store.read_query(&query, Alone).await.unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { argument: "items", .. }), "{err:?}");
        let condition = AppendCondition::none_match(query);
        let err = store.append_if(stream("a"), ExpectedVersion::Any, &[joined("j", "s", "c")], &condition, Alone).await;
        assert!(matches!(err, Err(Error::InvalidArgument { .. })), "{err:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_condition_holds_until_a_matching_event_is_stored_after_the_read() {
    let (_db, store) = store("dcb_after").await;
    store.append(stream("x"), ExpectedVersion::Any, &[joined("j1", "s1", "c1")], Alone).await.unwrap();
    let query = Query::from(course("c1"));
    let before = store.read_query(&query, Alone).await.unwrap();
    assert_eq!(ids(&before.events), ["j1"]);

    // Events the query does not select, even with the same tag or type, change nothing.
    let renamed = NewEvent::new("r1", "CourseRenamed", doc! {}).with_tags(["course:c1"]);
    store.append(stream("y"), ExpectedVersion::Any, &[renamed, joined("j2", "s2", "c2")], Alone).await.unwrap();
    let token = store.read_query(&query, Alone).await.unwrap().token;
    let positions = store
        .append_if(
            stream("z"),
            ExpectedVersion::NoStream,
            &[joined("j3", "s3", "c1")],
            &before.token.clone().into(),
            Alone,
        )
        .await
        .unwrap();
    assert_eq!(positions.len(), 1);

    // The token read before j3 is now stale: refused, naming the item, nothing written.
    let stale =
        store.append_if(stream("w"), ExpectedVersion::Any, &[joined("j4", "s4", "c1")], &token.into(), Alone).await;
    assert_eq!(conflicts(stale.unwrap_err()), [course("c1")]);
    assert!(store.event("j4", Alone).await.unwrap().is_none());

    // Appending the same events again (a retry after a lost answer) passes its own condition.
    let again = store
        .append_if(stream("z"), ExpectedVersion::Any, &[joined("j3", "s3", "c1")], &before.token.into(), Alone)
        .await;
    assert_eq!(again.unwrap(), Vec::<i64>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn none_match_refuses_a_taken_user_name_and_several_items_name_those_that_matched() {
    let (_db, store) = store("dcb_none_match").await;
    let registered =
        |id: &str, name: &str| NewEvent::new(id, "UserRegistered", doc! {}).with_tags([format!("username:{name}")]);
    let name = |name: &str| Query::from(QueryItem::types(["UserRegistered"]).with_tags([format!("username:{name}")]));
    let condition = AppendCondition::none_match(name("ann"));
    store
        .append_if(stream("u1"), ExpectedVersion::NoStream, &[registered("u1", "ann")], &condition, Alone)
        .await
        .unwrap();
    let taken =
        store.append_if(stream("u2"), ExpectedVersion::NoStream, &[registered("u2", "ann")], &condition, Alone).await;
    assert_eq!(conflicts(taken.unwrap_err()).len(), 1);
    let free = AppendCondition::none_match(name("bob"));
    store.append_if(stream("u2"), ExpectedVersion::NoStream, &[registered("u2", "bob")], &free, Alone).await.unwrap();

    // A type with no tag, a tag with no type, and an item that selects nothing.
    let items = [QueryItem::types(["UserRegistered"]), QueryItem::tags(["username:bob"]), QueryItem::tags(["nobody"])];
    let several = AppendCondition::none_match(Query::new(items.clone()));
    let err = store.append_if(stream("u3"), ExpectedVersion::Any, &[registered("u3", "cy")], &several, Alone).await;
    assert_eq!(conflicts(err.unwrap_err()), items[..2]);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_appends_with_the_same_condition_one_wins() {
    let (_db, store) = store("dcb_race").await;
    let query = Query::from(course("c1"));
    let token = store.read_query(&query, Alone).await.unwrap().token;
    let mut tasks = Vec::new();
    for writer in 0..8 {
        let (store, condition) = (store.clone(), AppendCondition::after(token.clone()));
        tasks.push(tokio::spawn(async move {
            let event = joined(&format!("j{writer}"), &format!("s{writer}"), "c1");
            store.append_if(stream(&format!("w{writer}")), ExpectedVersion::Any, &[event], &condition, Alone).await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => won += 1,
            Err(err) => assert_eq!(conflicts(err), [course("c1")]),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(store.read_query(&query, Alone).await.unwrap().events.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_append_in_flight_below_the_read_is_not_missed() {
    // Reserved positions: the in-flight event's position is below events committed after it.
    let (db, store) = store("dcb_in_flight").await;
    let store = store.position_allocation(PositionAllocation::Reserved);
    let query = Query::from(course("c1"));
    let uow = db.begin().await.unwrap();
    store.append(stream("early"), ExpectedVersion::Any, &[joined("j1", "s1", "c1")], &uow).await.unwrap();
    // (Of another type and tags: an append of a StudentJoined would wait for the unit of work,
    // as both write the type's marker.)
    store.append(stream("later"), ExpectedVersion::Any, &[NewEvent::new("k1", "Other", doc! {})], Alone).await.unwrap();
    assert!(store.read_all(0, 10).await.unwrap().is_empty(), "k1 waits behind the gap of j1");
    let read = store.read_query(&query, Alone).await.unwrap();
    assert!(read.events.is_empty(), "the in-flight append is not committed yet");
    // Whether the conditional append runs before or after the commit, it must not succeed.
    let conditional = {
        let store = store.clone();
        let condition = AppendCondition::after(read.token);
        tokio::spawn(async move {
            store.append_if(stream("mine"), ExpectedVersion::Any, &[joined("j2", "s2", "c1")], &condition, Alone).await
        })
    };
    uow.commit().await.unwrap();
    assert_eq!(conflicts(conditional.await.unwrap().unwrap_err()), [course("c1")]);
    assert_eq!(ids(&store.read_query(&query, Alone).await.unwrap().events), ["j1"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_condition_joins_the_callers_unit_of_work_next_to_stream_appends() {
    let (db, store) = store("dcb_uow").await;
    let query = Query::from(course("c1"));
    let result: Result<(), Error> = db
        .transaction(async |uow| {
            let read = store.read_query(&query, uow).await?;
            store
                .append(stream("order"), ExpectedVersion::NoStream, &[NewEvent::new("o1", "Placed", doc! {})], uow)
                .await?;
            store
                .append_if(
                    stream("sub"),
                    ExpectedVersion::NoStream,
                    &[joined("j1", "s1", "c1")],
                    &read.token.into(),
                    uow,
                )
                .await?;
            Ok(())
        })
        .await;
    result.unwrap();
    assert_eq!(ids(&store.read_query(&query, Alone).await.unwrap().events), ["j1"]);
    assert!(store.event("o1", Alone).await.unwrap().is_some());

    // A failed condition leaves the unit of work's other writes to the caller: here it aborts.
    let stale = AppendCondition::none_match(query.clone());
    let failed: Result<(), Error> = db
        .transaction(async |uow| {
            store
                .append(stream("order2"), ExpectedVersion::NoStream, &[NewEvent::new("o2", "Placed", doc! {})], uow)
                .await?;
            store.append_if(stream("sub2"), ExpectedVersion::Any, &[joined("j2", "s2", "c1")], &stale, uow).await?;
            Ok(())
        })
        .await;
    assert_eq!(conflicts(failed.unwrap_err()), [course("c1")]);
    assert!(store.event("o2", Alone).await.unwrap().is_none());
    let non_transactional = db.begin_non_transactional();
    let refused = store
        .append_if(stream("s3"), ExpectedVersion::Any, &[joined("j3", "s", "c")], &stale, &non_transactional)
        .await;
    assert!(matches!(refused, Err(Error::TransactionsUnsupported { .. })), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn conditions_see_their_tenant_only_and_a_token_stays_in_its_scope() {
    let (db, store) = store("dcb_tenants").await;
    let (a, b) = (store.for_tenant(&Tenant::new("a").unwrap()), store.for_tenant(&Tenant::new("b").unwrap()));
    let query = Query::from(course("c1"));
    let read_a = a.read_query(&query, Alone).await.unwrap();
    b.append(stream("b1"), ExpectedVersion::Any, &[joined("b1", "s1", "c1")], Alone).await.unwrap();
    // Tenant b's event moved the shared marker, but tenant a's query selects none of b's events.
    a.append_if(stream("a1"), ExpectedVersion::Any, &[joined("a1", "s1", "c1")], &read_a.token.clone().into(), Alone)
        .await
        .unwrap();
    let mixed =
        b.append_if(stream("b2"), ExpectedVersion::Any, &[joined("b2", "s2", "c1")], &read_a.token.into(), Alone).await;
    assert!(matches!(mixed, Err(Error::InvalidArgument { argument: "condition", .. })), "{mixed:?}");
    assert_eq!(ids(&a.read_query(&query, Alone).await.unwrap().events), ["a1"]);
    assert_eq!(ids(&store.read_query(&query, Alone).await.unwrap().events), ["b1", "a1"]);
    drop(db);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handler_waits_until_the_projection_has_its_append() {
    let (db, store) = store("dcb_read_your_writes").await;
    let positions = cqrs_mongo_persistence::PositionStore::new(&db);
    // No runner yet: the wait ends with the typed error and the position reached.
    let appended = store
        .append_if(
            stream("a"),
            ExpectedVersion::NoStream,
            &[joined("j1", "s1", "c1")],
            &AppendCondition::none_match(course("c1")),
            Alone,
        )
        .await
        .unwrap();
    let waited = positions.wait_for("courses", appended[0], std::time::Duration::from_millis(50)).await;
    match waited {
        Err(Error::WaitTimedOut { name, position, reached: 0, .. }) => {
            assert_eq!((name.as_str(), position), ("courses", appended[0]))
        }
        other => panic!("expected WaitTimedOut, got {other:?}"),
    }

    let runner =
        cqrs_mongo_persistence::ProjectionRunner::new(&db, &store, support::runner::Counts::new("courses", "ryw_"))
            .poll_interval(std::time::Duration::from_millis(20))
            .spawn();
    // Whatever the runner is doing, once the wait returns the read model has every event up to it.
    for i in 2..6 {
        let id = format!("j{i}");
        let positions_of =
            store.append(stream(&id), ExpectedVersion::NoStream, &[joined(&id, "s", "c2")], Alone).await.unwrap();
        let reached =
            positions.wait_for("courses", positions_of[0], std::time::Duration::from_secs(120)).await.unwrap();
        assert!(reached >= positions_of[0]);
        let types = db.database().collection::<Document>("ryw_types");
        let joined = types.find_one(doc! { "_id": "StudentJoined" }).await.unwrap().unwrap();
        assert!(joined.get_i32("count").unwrap() >= i, "{joined}");
    }
    runner.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn every_item_is_read_through_an_index() {
    let (db, store) = store("dcb_explain").await;
    let again = db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    assert!(again.created.is_empty(), "idempotent, the markers' _id index included: {again:?}");
    let markers = db.database().list_collection_names().await.unwrap();
    assert!(markers.iter().any(|name| name == "consistency_markers"), "{markers:?}");
    for i in 0..20 {
        let id = format!("j{i}");
        store.append(stream(&id), ExpectedVersion::Any, &[joined(&id, &format!("s{i}"), "c1")], Alone).await.unwrap();
    }
    let items = [
        course("c1"),
        QueryItem::types(["StudentJoined", "StudentLeft"]),
        QueryItem::tags(["course:c1"]),
        QueryItem::tags(["course:c1", "student:s3"]),
        QueryItem::types(["StudentJoined"]).with_tags(["student:s1", "course:c1"]),
    ];
    for item in &items {
        let explain = doc! { "explain": { "find": "domain_events", "filter": item.filter(), "sort": { "position": 1 } }, "verbosity": "queryPlanner" };
        let plan = db.database().run_command(explain).await.unwrap();
        let winning = plan.get_document("queryPlanner").unwrap().get_document("winningPlan").unwrap().to_string();
        assert!(winning.contains("IXSCAN") && !winning.contains("COLLSCAN"), "{item}: {winning}");
    }
    let both = store.read_query(&QueryItem::tags(["course:c1", "student:s3"]).into(), Alone).await.unwrap();
    assert_eq!(ids(&both.events), ["j3"], "the other tags are checked on what the index returns");
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Renamed {
    course: String,
}
cqrs_mongo_persistence::event!(Renamed, "CourseRenamed", version = 2, tags = |e| vec![format!("course:{}", e.course)]);

#[test]
fn typed_events_declare_their_tags_with_or_without_a_schema_version() {
    let renamed = NewEvent::typed("r1", &Renamed { course: "c1".into() }).unwrap();
    assert_eq!((renamed.schema_version, renamed.tags.as_slice()), (2, ["course:c1".to_owned()].as_slice()));
    let untagged = NewEvent::new("x", "Plain", doc! {});
    assert!(untagged.tags.is_empty());
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Seat {
    course: String,
}
cqrs_mongo_persistence::event!(Seat, "SeatTaken", tags = |e| vec![format!("course:{}", e.course)]);
cqrs_mongo_persistence::event_set! {
    #[derive(Debug, Clone)]
    enum SeatEvent { Seat(Seat) }
}

#[derive(Clone)]
struct Seats {
    course: String,
    taken: usize,
}

impl cqrs_mongo_persistence::event_store::DecisionModel for Seats {
    type Event = SeatEvent;
    fn query(&self) -> Query {
        QueryItem::of::<SeatEvent>().with_tags([format!("course:{}", self.course)]).into()
    }
    fn apply(&mut self, _: &SeatEvent) {
        self.taken += 1;
    }
}

/// Another writer's seat in course `c9`, appended from inside a decision (between its read and
/// its append).
fn intrude(store: &EventStore, n: usize) {
    let seat = NewEvent::typed(format!("intruder-{n}"), &Seat { course: "c9".into() }).unwrap();
    let id = format!("intruder-{n}");
    tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(store.append(stream(&id), ExpectedVersion::Any, &[seat], Alone))
    })
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_decision_whose_boundary_moved_decides_again_on_the_new_state() {
    let (_db, store) = store("dcb_decide_again").await;
    let task = tokio::spawn(async move {
        let other = store.clone();
        let mut seen = Vec::new();
        let decided = store
            .decide(stream("me"), Seats { course: "c9".into(), taken: 0 }, |now: &Seats| {
                seen.push(now.taken);
                if seen.len() == 1 {
                    intrude(&other, 1);
                }
                Ok::<_, Error>(vec![Seat { course: "c9".into() }.into()])
            })
            .await
            .unwrap();
        (decided.attempts, decided.model.taken, decided.positions.len(), seen)
    });
    let (attempts, taken, appended, seen) = task.await.unwrap();
    assert_eq!(seen, [0, 1], "the second decision saw the intruder's seat");
    assert_eq!((attempts, taken, appended), (2, 2, 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_boundary_that_keeps_moving_ends_the_decision_with_the_failed_condition() {
    let (_db, store) = store("dcb_decide_gives_up").await;
    let task = tokio::spawn(async move {
        let other = store.clone();
        let mut decisions = 0;
        let outcome = store
            .decide(stream("me"), Seats { course: "c9".into(), taken: 0 }, |_: &Seats| {
                decisions += 1;
                intrude(&other, decisions);
                Ok::<_, Error>(vec![Seat { course: "c9".into() }.into()])
            })
            .await;
        (outcome.map(|decided| decided.attempts), decisions, store)
    });
    let (outcome, decisions, store) = task.await.unwrap();
    assert_eq!(conflicts(outcome.unwrap_err()), [QueryItem::of::<SeatEvent>().with_tags(["course:c9"])]);
    assert_eq!(decisions, cqrs_mongo_persistence::event_store::DECIDE_ATTEMPTS as usize);
    let stored = store.read_query(&QueryItem::tags(["course:c9"]).into(), Alone).await.unwrap().events;
    assert_eq!(stored.len(), decisions, "only the intruders' seats: no decision appended");
}
