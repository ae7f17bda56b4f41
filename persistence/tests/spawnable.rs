//! Every store operation can run in a spawned task (its future is `Send`), alone and inside an
//! explicit unit of work: what a web handler or a worker loop needs. A future that is not
//! `Send` makes this file fail to compile; the test then checks what the tasks wrote.

mod support;

use std::sync::Arc;

use bson::doc;
use cqrs_mongo_persistence::aggregates::{EventSourced, Root};
use cqrs_mongo_persistence::jobs::NewJob;
use cqrs_mongo_persistence::outbox::OutboxMessage;
use cqrs_mongo_persistence::sagas::{IfStarted, Saga};
use cqrs_mongo_persistence::{
    AggregateStore, Alone, Connection, EventStore, JobQueue, Outbox, PositionStore, SagaRepository, SnapshotStore,
};
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use support::order::{Order, order};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Opened {
    by: String,
}
cqrs_mongo_persistence::event!(Opened, "TicketOpened");

cqrs_mongo_persistence::event_set! {
    #[derive(Debug, Clone)]
    enum TicketEvent {
        Opened(Opened),
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Ticket {
    by: String,
}

impl EventSourced for Ticket {
    type Event = TicketEvent;
    const AGGREGATE_TYPE: &'static str = "Ticket";
    fn apply(&mut self, event: &TicketEvent) {
        let TicketEvent::Opened(opened) = event;
        self.by = opened.by.clone();
    }
}

struct Stores {
    db: Connection,
    tickets: AggregateStore<Ticket>,
    orders: cqrs_mongo_persistence::Repository<Order>,
    outbox: Outbox,
    jobs: JobQueue,
    sagas: SagaRepository,
    positions: PositionStore,
}

#[tokio::test(flavor = "multi_thread")]
async fn store_operations_run_in_spawned_tasks_alone_and_in_a_unit_of_work() {
    let db = support::database("spawnable").await;
    let events = EventStore::new(&db);
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    let outbox = Outbox::new(&db);
    let stores = Arc::new(Stores {
        tickets: AggregateStore::new(&db, &events)
            .with_outbox(&outbox)
            .with_snapshots(&SnapshotStore::new(&db), cqrs_mongo_persistence::aggregates::SnapshotPolicy::every(1)),
        orders: cqrs_mongo_persistence::Repository::new(&db),
        jobs: JobQueue::new(&db),
        sagas: SagaRepository::new(&db),
        positions: PositionStore::new(&db),
        outbox,
        db,
    });

    let alone = {
        let s = stores.clone();
        tokio::spawn(async move {
            let mut ticket = Root::<Ticket>::new("t-alone");
            ticket.record(Opened { by: "ada".into() });
            s.tickets.save(&mut ticket, Alone).await?;
            s.orders.save(&mut order("o-alone", 1), Alone).await?;
            s.jobs.enqueue(NewJob::new("j-alone", "mail", doc! {}), Alone).await?;
            let mut saga =
                s.sagas.start(Saga::uncorrelated("s-alone", "Shipping", doc! {}), IfStarted::Error, Alone).await?;
            s.sagas.save(&mut saga, Alone).await?;
            s.positions.save("p", 1, Alone).await?;
            s.outbox.save(&[OutboxMessage::new("m-alone", "Pinged", doc! {}, "c")], Alone).await?;
            Ok::<_, cqrs_mongo_persistence::Error>(s.tickets.load("t-alone", Alone).await?.map(|t| t.by.clone()))
        })
    };
    let unit = {
        let s = stores.clone();
        tokio::spawn(async move {
            // An explicit unit of work is not retried for the caller: a transient error (the
            // other task's append raced this one on the position counter) means "run it again".
            let mut ticket = Root::<Ticket>::new("t-uow");
            ticket.record(Opened { by: "grace".into() });
            for attempt in 1.. {
                let uow = s.db.begin().await?;
                let work = async {
                    s.tickets.save(&mut ticket, &uow).await?;
                    s.orders.save(&mut order("o-uow", 2), &uow).await?;
                    s.jobs.enqueue(NewJob::new("j-uow", "mail", doc! {}).dedup_key("k"), &uow).await?;
                    s.sagas.start(Saga::uncorrelated("s-uow", "Shipping", doc! {}), IfStarted::Error, &uow).await?;
                    s.positions.save("q", 1, &uow).await?;
                    Ok::<_, cqrs_mongo_persistence::Error>(())
                };
                match work.await {
                    Ok(()) => match uow.commit().await {
                        Ok(()) => break,
                        Err(err) if err.is_transient() && attempt < 50 => continue,
                        Err(err) => return Err(err),
                    },
                    Err(err) if err.is_transient() && attempt < 50 => uow.rollback().await?,
                    Err(err) => return Err(err),
                }
            }
            Ok::<_, cqrs_mongo_persistence::Error>((ticket.version(), ticket.pending().len()))
        })
    };
    let with = {
        let s = stores.clone();
        tokio::spawn(async move {
            let mut pinned = order("o-with", 3);
            s.db.transaction_with((&s.orders, &mut pinned), |uow, (orders, pinned)| {
                async move { orders.save(pinned, uow).await }.boxed()
            })
            .await
        })
    };
    assert_eq!(alone.await.unwrap().unwrap().as_deref(), Some("ada"));
    assert_eq!(unit.await.unwrap().unwrap(), (1, 0));
    with.await.unwrap().unwrap();

    let db = &stores.db;
    let count = async |collection: &str| {
        db.database().collection::<bson::Document>(collection).count_documents(doc! {}).await.unwrap()
    };
    assert_eq!(count("domain_events").await, 2);
    assert_eq!(count("outbox_messages").await, 3, "two ticket events' messages and one saved directly");
    assert_eq!(count("orders").await, 3);
    assert_eq!(count("background_jobs").await, 2);
    assert_eq!(count("sagas").await, 2);
    assert_eq!(count("projection_checkpoints").await, 2);
}
