//! The command workflow on event-sourced aggregates (`AggregateStore::update`): load, a
//! synchronous decision returning the caller's error, save, in one transaction, retried when
//! the transaction conflicts; `update_in` inside a caller's unit of work; and loads that run
//! inside a transaction.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bson::doc;
use cqrs_mongo_persistence::aggregates::{EventSourced, Root};
use cqrs_mongo_persistence::event_store::{ExpectedVersion, NewEvent, Stream};
use cqrs_mongo_persistence::{AggregateStore, Alone, Connection, Error, EventStore};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Deposited {
    cents: i64,
}
cqrs_mongo_persistence::event!(Deposited, "Deposited");

cqrs_mongo_persistence::event_set! {
    #[derive(Debug, Clone, PartialEq)]
    enum WalletEvent {
        Deposited(Deposited),
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Wallet {
    cents: i64,
}

impl EventSourced for Wallet {
    type Event = WalletEvent;
    const AGGREGATE_TYPE: &'static str = "Wallet";
    fn apply(&mut self, WalletEvent::Deposited(deposited): &WalletEvent) {
        self.cents += deposited.cents;
    }
}

/// The application's error: its refusals, and store errors.
#[derive(Debug)]
enum WalletError {
    Unknown,
    Limit(i64),
    Store(Error),
}

impl From<Error> for WalletError {
    fn from(err: Error) -> Self {
        WalletError::Store(err)
    }
}

async fn store(test: &str) -> (Connection, AggregateStore<Wallet>) {
    let db = support::database(test).await;
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    let events = EventStore::new(&db);
    (db.clone(), AggregateStore::new(&db, &events))
}

/// Opens a wallet with `cents`.
fn open(cents: i64) -> impl FnMut(&mut Root<Wallet>) -> Result<(), WalletError> + Send {
    move |wallet| {
        wallet.record(Deposited { cents });
        Ok(())
    }
}

/// Deposits `cents` into an existing wallet, refusing past 100.
fn deposit(cents: i64) -> impl FnMut(&mut Root<Wallet>) -> Result<(), WalletError> + Send {
    move |wallet| {
        if wallet.version() == 0 {
            return Err(WalletError::Unknown);
        }
        if wallet.cents + cents > 100 {
            return Err(WalletError::Limit(wallet.cents));
        }
        wallet.record(Deposited { cents });
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_decision_is_saved_and_a_refusal_is_the_callers_error_with_nothing_written() {
    let (db, wallets) = store("workflow_decide").await;
    let opened = wallets.update("w1", open(10)).await;
    assert_eq!(opened.unwrap().version(), 1);
    let topped = wallets.update("w1", deposit(30)).await.unwrap();
    assert_eq!((topped.cents, topped.version()), (40, 2));
    assert!(matches!(wallets.update("w1", deposit(70)).await, Err(WalletError::Limit(40))));
    assert!(matches!(wallets.update("nope", deposit(1)).await, Err(WalletError::Unknown)));
    let stored = wallets.load("w1", Alone).await.unwrap().unwrap();
    assert_eq!((stored.cents, stored.version()), (40, 2), "the refusal wrote nothing");
    assert!(wallets.load("nope", Alone).await.unwrap().is_none());

    // A store error comes back through the caller's `From<Error>`: an event of a type the
    // wallet does not know makes the load fail.
    let events = EventStore::new(&db);
    let stream = Stream { aggregate_id: "odd", aggregate_type: "Wallet" };
    events.append(stream, ExpectedVersion::NoStream, &[NewEvent::new("x1", "Stolen", doc! {})], Alone).await.unwrap();
    match wallets.update("odd", deposit(1)).await {
        Err(WalletError::Store(Error::Decode { event_type, .. })) => assert_eq!(event_type, "Stolen"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_commands_from_spawned_tasks_all_apply_on_fresh_state() {
    let (_db, wallets) = store("workflow_concurrent").await;
    wallets.update("w", open(1)).await.unwrap();
    let decisions = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (wallets, decisions) = (wallets.clone(), decisions.clone());
            // The workflow's future is `Send`: it runs in `tokio::spawn` as it is.
            tokio::spawn(async move {
                let mut deposit = deposit(5);
                wallets
                    .update("w", |wallet| {
                        decisions.fetch_add(1, Ordering::SeqCst);
                        deposit(wallet)
                    })
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let wallet = wallets.load("w", Alone).await.unwrap().unwrap();
    assert_eq!((wallet.cents, wallet.version()), (31, 7), "every command applied once, on the state before it");
    assert!(decisions.load(Ordering::SeqCst) >= 6, "each decision ran at least once");
}

#[tokio::test(flavor = "multi_thread")]
async fn update_in_joins_the_callers_unit_of_work_and_rolls_back_with_it() {
    let (db, wallets) = store("workflow_update_in").await;
    wallets.update("w", open(1)).await.unwrap();
    let failed: Result<(), WalletError> = db
        .transaction(async |uow| {
            let wallet = wallets.update_in(uow, "w", deposit(2)).await?;
            assert_eq!(wallet.cents, 3);
            // Read inside the transaction: the unit of work sees its own write, a read alone
            // does not see it before the commit.
            assert_eq!(wallets.load("w", uow).await?.unwrap().version(), 2);
            assert_eq!(wallets.load("w", Alone).await?.unwrap().version(), 1);
            Err(WalletError::Limit(0))
        })
        .await;
    assert!(matches!(failed, Err(WalletError::Limit(0))));
    assert_eq!(wallets.load("w", Alone).await.unwrap().unwrap().version(), 1, "rolled back with the unit of work");
    let done: Result<Root<Wallet>, WalletError> =
        db.transaction(async |uow| wallets.update_in(uow, "w", deposit(2)).await).await;
    assert_eq!(done.unwrap().version(), 2);
    assert_eq!(wallets.load("w", Alone).await.unwrap().unwrap().cents, 3);
}
