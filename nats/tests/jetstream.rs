//! Outbox → relay → NATS JetStream → a consumer counting messages, on a real `nats-server -js`
//! (Debian's, installed by scripts/setup.sh) and the real test database: a relay killed
//! mid-run and messages published but not recorded (a crash between the two) are published
//! again, and JetStream's de-duplication by `Nats-Msg-Id` delivers each exactly once.

use cqrs_mongo_persistence::testing as server;

use cqrs_mongo_persistence::runtime::{Backoff, RetryPolicy};
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use bson::doc;
use cqrs_mongo_nats::JetStreamPublisher;
use cqrs_mongo_persistence::outbox::{OutboxMessage, Publisher};
use cqrs_mongo_persistence::{Alone, Outbox, OutboxRelay};
use futures::StreamExt;

/// A `nats-server -js` on a free loopback port, stopped when dropped.
struct Nats {
    child: Child,
    url: String,
    _storage: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_nats() -> (Nats, async_nats::Client) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let storage = std::env::temp_dir().join(format!("cqrs-nats-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&storage).unwrap();
    let child = Command::new("nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(&storage)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server (scripts/setup.sh installs Debian's nats-server)");
    let nats = Nats { child, url: format!("nats://127.0.0.1:{port}"), _storage: TempDir(storage) };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(client) = async_nats::connect(&nats.url).await {
            return (nats, client);
        }
        assert!(Instant::now() < deadline, "nats-server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn message(i: usize) -> OutboxMessage {
    let mut message = OutboxMessage::new(format!("m{i:03}"), "OrderPlaced", doc! { "i": i as i64 }, "corr")
        .for_aggregate(format!("o{}", i % 9));
    message.causation_id = Some("cause".into());
    message
}

#[tokio::test(flavor = "multi_thread")]
async fn every_message_reaches_jetstream_once_despite_a_killed_relay_and_unrecorded_publications() {
    let (_nats, client) = start_nats().await;
    let js = jetstream::new(client.clone());
    let mut stream = js
        .get_or_create_stream(jetstream::stream::Config {
            name: "OUTBOX".into(),
            subjects: vec!["outbox.>".into()],
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .unwrap();

    let db = server::database("nats_outbox").await;
    let outbox = Outbox::new(&db);
    db.ensure_indexes(&Outbox::indexes()).await.unwrap();
    outbox.save(&(0..300).map(message).collect::<Vec<_>>(), Alone).await.unwrap();
    let publisher = Arc::new(JetStreamPublisher::new(client.clone(), "outbox"));

    // Ten messages published and then "crashed" before being recorded: still pending, they
    // will be published again.
    let crashing = OutboxRelay::new(&outbox, "crashing").batch_size(10).on_failure(
        RetryPolicy::park_after(100).backoff(Backoff::new(Duration::from_millis(1), Duration::from_secs(3600))),
    );
    let report = crashing
        .run_once(|m| {
            let publisher = publisher.clone();
            async move {
                publisher.publish(&m).await.map_err(|e| e.to_string())?;
                Err("crashed before recording".to_owned())
            }
        })
        .await
        .unwrap();
    assert_eq!(report.retried, 10);

    let relay = |name: &str| {
        Arc::new(
            OutboxRelay::new(&outbox, name)
                .batch_size(20)
                .lease_period(Duration::from_secs(5))
                .on_failure(
                    RetryPolicy::park_after(5)
                        .backoff(Backoff::new(Duration::from_millis(1), Duration::from_secs(3600))),
                )
                .poll_interval(Duration::from_millis(20)),
        )
    };
    let (a, b) = (relay("a"), relay("b"));
    let a_task = {
        let (a, publisher) = (a.clone(), publisher.clone());
        tokio::spawn(async move { a.run(publisher.as_ref(), std::future::pending()).await })
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while a.stats().published() < 60 {
        assert!(Instant::now() < deadline, "relay a published too little");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let b_task = {
        let (b, publisher) = (b.clone(), publisher.clone());
        tokio::spawn(async move {
            b.run(publisher.as_ref(), async {
                let _ = stopped.await;
            })
            .await
        })
    };
    a_task.abort(); // mid-run: possibly after publishing a round and before recording it
    assert!(a_task.await.unwrap_err().is_cancelled());
    let deadline = Instant::now() + Duration::from_secs(180);
    while outbox.stats().await.unwrap().get("published").copied().unwrap_or(0) < 300 {
        assert!(Instant::now() < deadline, "not all published: {:?}", outbox.stats().await.unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(()).unwrap();
    b_task.await.unwrap().unwrap();
    assert!(
        publisher.duplicates() >= 10,
        "the ten unrecorded publications came back as duplicates: {}",
        publisher.duplicates()
    );

    // The stream holds each message once; a consumer reads each once.
    assert_eq!(stream.info().await.unwrap().state.messages, 300);
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("counter".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    let mut sample = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.values().sum::<u32>() < 300 {
        assert!(Instant::now() < deadline, "the consumer read {} messages", seen.len());
        let mut batch = consumer.fetch().max_messages(100).messages().await.unwrap();
        while let Some(delivered) = batch.next().await {
            let delivered = delivered.unwrap();
            let headers = delivered.headers.clone().expect("headers");
            let id = headers.get("Cqrs-Message-Id").expect("Cqrs-Message-Id").to_string();
            *seen.entry(id.clone()).or_default() += 1;
            if id == "m004" {
                sample = Some((headers, delivered.payload.clone(), delivered.subject.to_string()));
            }
            delivered.ack().await.unwrap();
        }
    }
    assert_eq!(seen.len(), 300, "0 lost");
    assert!(seen.values().all(|n| *n == 1), "0 duplicates delivered");
    let (headers, payload, subject) = sample.expect("m004 was read");
    assert_eq!(subject, "outbox.OrderPlaced");
    assert_eq!(headers.get("Cqrs-Aggregate-Id").unwrap().as_str(), "o4");
    assert_eq!(headers.get("Cqrs-Correlation-Id").unwrap().as_str(), "corr");
    assert_eq!(headers.get("Cqrs-Causation-Id").unwrap().as_str(), "cause");
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&payload).unwrap(), serde_json::json!({ "i": 4 }));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subject_without_a_stream_is_refused_and_a_stopped_server_is_unavailable() {
    let (mut nats, client) = start_nats().await;
    let js = jetstream::new(client.clone());
    js.get_or_create_stream(jetstream::stream::Config {
        name: "KNOWN".into(),
        subjects: vec!["known.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let db = server::database("nats_classes").await;
    let outbox = Outbox::new(&db);
    outbox.save(&[message(1)], Alone).await.unwrap();
    let publisher = JetStreamPublisher::new(client.clone(), "unknown");
    // No stream takes `unknown.*`: JetStream refuses the message; the relay's policy retries
    // it, then parks it as dead.
    let relay = OutboxRelay::new(&outbox, "classes").on_failure(
        RetryPolicy::park_after(1).backoff(Backoff::new(Duration::from_millis(1), Duration::from_millis(1))),
    );
    let refused = relay.run_once_with(&publisher).await.unwrap();
    assert_eq!((refused.dead, refused.unavailable), (1, 0), "{refused:?}");
    let claimed = outbox_message(&db, "m001").await;
    assert!(claimed.get_str("error").unwrap().contains("refused"), "{claimed}");

    // The server stopped: the message is handed back with no attempt counted.
    outbox.save(&[message(2)], Alone).await.unwrap();
    let known = JetStreamPublisher::new(client.clone(), "known");
    let _ = nats.child.kill();
    let _ = nats.child.wait();
    let down = relay.run_once_with(&known).await.unwrap();
    assert_eq!((down.unavailable, down.retried, down.dead), (1, 0, 0), "{down:?}");
    let pending = outbox_message(&db, "m002").await;
    assert_eq!((pending.get_str("status").unwrap(), pending.get_i64("retry_count").unwrap_or(0)), ("pending", 0));
}

async fn outbox_message(db: &cqrs_mongo_persistence::Connection, id: &str) -> bson::Document {
    let messages = db.database().collection::<bson::Document>("outbox_messages");
    messages.find_one(doc! { "_id": id }).await.unwrap().unwrap()
}
