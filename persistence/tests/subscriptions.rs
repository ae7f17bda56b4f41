//! Subscriptions with arbitrary async handlers: order and type filter, retries with backoff,
//! dead letters and their retry, a stopping policy, and replicas taking over from a dead
//! leader with redeliveries bounded by the batch size (at least once, as documented).

mod support;

use cqrs_mongo_persistence::runtime::Backoff;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cqrs_mongo_persistence::dead_letters::DeadLetterStatus;
use cqrs_mongo_persistence::event_store::StoredEvent;
use cqrs_mongo_persistence::runtime::RetryPolicy;
use cqrs_mongo_persistence::store::PageRequest;
use cqrs_mongo_persistence::{DeadLetters, Error, Subscription};
use support::runner::{append, setup, wait_until};

/// Records every delivered event id, in order; fails on ids listed in `failing` (per id: how
/// many more times), and on ids ending in `-poison` while `broken`.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<String>>,
    failing: Mutex<BTreeMap<String, u32>>,
    broken: AtomicBool,
}

impl Recorder {
    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    async fn handle(&self, event: StoredEvent) -> Result<(), String> {
        if event.event_id.ends_with("-poison") && self.broken.load(Ordering::SeqCst) {
            return Err(format!("{} is poison", event.event_id));
        }
        if let Some(left) = self.failing.lock().unwrap().get_mut(&event.event_id)
            && *left > 0
        {
            *left -= 1;
            return Err(format!("{} failed, {left} failures left", event.event_id));
        }
        self.seen.lock().unwrap().push(event.event_id);
        Ok(())
    }
}

fn quick() -> RetryPolicy {
    RetryPolicy::park_after(3).backoff(Backoff::new(Duration::from_millis(1), Duration::from_millis(4)))
}

#[tokio::test(flavor = "multi_thread")]
async fn events_of_the_chosen_types_arrive_in_position_order_and_the_checkpoint_passes_the_rest() {
    let (db, events) = setup("sub_types").await;
    append(&events, "a", 4, 5).await; // types alternate Placed, Paid within each stream
    let recorder = Recorder::default();
    let handler = async |event: StoredEvent| recorder.handle(event).await;
    let paid = Subscription::new(&db, &events, "paid-mails").event_types(&["Paid"]).batch_size(3);
    assert_eq!(paid.catch_up(&handler).await.unwrap(), 8);
    let expected: Vec<String> = events
        .read_all(0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "Paid")
        .map(|e| e.event_id)
        .collect();
    assert_eq!(recorder.seen(), expected, "only Paid, in position order");
    assert_eq!(paid.position().await.unwrap(), 20, "past the last event, a Placed one");
    assert_eq!(paid.catch_up(&handler).await.unwrap(), 0, "nothing new");

    let all = Subscription::new(&db, &events, "audit").batch_size(7);
    let everything = Recorder::default();
    assert_eq!(all.catch_up(&async |event: StoredEvent| everything.handle(event).await).await.unwrap(), 20);
    assert_eq!(everything.seen().len(), 20);
    assert_eq!(all.stats().batches(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_retried_then_parked_and_a_parked_event_is_retried_after_the_fix() {
    let (db, events) = setup("sub_parking").await;
    append(&events, "a", 2, 3).await;
    let poison = cqrs_mongo_persistence::event_store::NewEvent::new("z-poison", "Paid", bson::doc! {});
    let stream = cqrs_mongo_persistence::event_store::Stream { aggregate_id: "s9", aggregate_type: "Order" };
    events
        .append(
            stream,
            cqrs_mongo_persistence::event_store::ExpectedVersion::Any,
            &[poison],
            cqrs_mongo_persistence::Alone,
        )
        .await
        .unwrap();
    append(&events, "b", 1, 2).await;
    let recorder = Recorder::default();
    recorder.broken.store(true, Ordering::SeqCst);
    recorder.failing.lock().unwrap().insert("a-0-1".into(), 2); // fails twice, then works
    let handler = async |event: StoredEvent| recorder.handle(event).await;
    let subscription = Subscription::new(&db, &events, "mailer").on_failure(quick());

    assert_eq!(subscription.catch_up(&handler).await.unwrap(), 8);
    assert_eq!(subscription.position().await.unwrap(), 9, "past the parked event");
    assert!(!recorder.seen().contains(&"z-poison".to_owned()));
    assert!(recorder.seen().contains(&"a-0-1".to_owned()), "two failures, the third attempt worked");
    let stats = subscription.stats();
    assert_eq!((stats.retries(), stats.parked()), (4, 1));
    let parked = DeadLetters::new(&db).parked(Some("mailer"), PageRequest::first(10)).await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!((parked[0].event_id.as_str(), parked[0].position, parked[0].attempts), ("z-poison", 7, 3));
    assert_eq!(parked[0].error, "z-poison is poison");

    match subscription.retry_parked("z-poison", &handler).await {
        Err(Error::Handler { consumer, item, source }) => {
            assert_eq!(
                (consumer.as_str(), item.as_str(), source.to_string().as_str()),
                ("mailer", "z-poison", "z-poison is poison")
            );
        }
        other => panic!("still broken: {other:?}"),
    }
    recorder.broken.store(false, Ordering::SeqCst);
    assert!(subscription.retry_parked("z-poison", &handler).await.unwrap());
    assert_eq!(recorder.seen().iter().filter(|id| *id == "z-poison").count(), 1);
    let letter = DeadLetters::new(&db).get("mailer", "z-poison").await.unwrap().unwrap();
    assert_eq!((letter.status, letter.attempts), (DeadLetterStatus::Retried, 5));
    assert!(!subscription.retry_parked("z-poison", &handler).await.unwrap());
    assert!(!subscription.skip_parked("z-poison").await.unwrap(), "retried, not parked");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopping_policy_ends_the_run_with_the_handlers_error_before_the_event() {
    let (db, events) = setup("sub_stop").await;
    append(&events, "a", 1, 4).await;
    let recorder = Recorder::default();
    recorder.failing.lock().unwrap().insert("a-0-2".into(), 100);
    let handler = async |event: StoredEvent| recorder.handle(event).await;
    let policy = RetryPolicy::stop_after(2).backoff(Backoff::new(Duration::from_millis(1), Duration::from_millis(1)));
    let subscription =
        Subscription::new(&db, &events, "strict").on_failure(policy).poll_interval(Duration::from_millis(20));
    match subscription.run(&handler, std::future::pending()).await {
        Err(Error::Handler { item, .. }) => assert_eq!(item, "a-0-2"),
        other => panic!("expected the handler's error, got {other:?}"),
    }
    assert_eq!(subscription.position().await.unwrap(), 2, "the two events before it are kept");
    assert_eq!(recorder.seen(), ["a-0-0", "a-0-1"]);
    assert_eq!(subscription.leader().await.unwrap().leader, None, "released when the run ended");
    assert_eq!(DeadLetters::new(&db).count_parked("strict").await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standby_replica_takes_over_and_redelivers_at_most_one_batch() {
    let (db, events) = setup("sub_ha").await;
    append(&events, "a", 10, 10).await;
    let recorder = Arc::new(Recorder::default());
    let replica = |name: &str| {
        Arc::new(
            Subscription::new(&db, &events, "shipping")
                .batch_size(10)
                .poll_interval(Duration::from_millis(50))
                // Long enough that a slow server never lets the lease lapse while its leader
                // lives (two leaders would deliver the same batch twice).
                .lease_period(Duration::from_secs(10))
                .replica_name(name),
        )
    };
    let (a, b) = (replica("a"), replica("b"));
    let spawn = |subscription: Arc<Subscription>, recorder: Arc<Recorder>| {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            // A plain closure returning a future: what `Fn(StoredEvent) -> Future` handlers look
            // like when they own their state.
            let handler = move |event: StoredEvent| {
                let recorder = recorder.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    recorder.handle(event).await
                }
            };
            subscription
                .run(&handler, async {
                    let _ = stopped.await;
                })
                .await
        });
        (stop, task)
    };
    let (_a_stop, a_task) = spawn(a.clone(), recorder.clone());
    wait_until(|| a.stats().follow().leaderships() == 1 && a.stats().batches() >= 2).await;
    let (b_stop, b_task) = spawn(b.clone(), recorder.clone());
    wait_until(|| b.stats().follow().standby_waits() >= 2).await;
    a_task.abort();
    assert!(a_task.await.unwrap_err().is_cancelled());
    wait_until(|| b.stats().follow().leaderships() == 1).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while b.position().await.unwrap() < 100 {
        assert!(std::time::Instant::now() < deadline, "the stand-by did not catch up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    b_stop.send(()).unwrap();
    b_task.await.unwrap().unwrap();

    let mut deliveries: BTreeMap<String, u32> = BTreeMap::new();
    for id in recorder.seen() {
        *deliveries.entry(id).or_default() += 1;
    }
    assert_eq!(deliveries.len(), 100, "every event delivered");
    let again = deliveries.values().filter(|n| **n > 1).count();
    assert!(again <= 10, "{again} redelivered: at most one batch");
    assert!(deliveries.values().all(|n| *n <= 2));
}
