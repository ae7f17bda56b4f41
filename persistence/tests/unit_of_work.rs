//! Unit of work integration tests on the real test server: real transactions, rollback,
//! visibility, after-commit hooks, and retries of injected transient errors.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bson::doc;
use cqrs_mongo_persistence::store::Version;
use cqrs_mongo_persistence::{Alone, Error, Repository};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Account {
    id: String,
    balance: i64,
    #[serde(default)]
    version: Version,
}

cqrs_mongo_persistence::aggregate!(Account, "accounts", String);

fn account(id: &str, balance: i64) -> Account {
    Account { id: id.into(), balance, version: Version::default() }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_test_server_supports_transactions() {
    let db = support::database("supports_transactions").await;
    assert!(db.supports_transactions(), "a replica set member reports setName in hello");
    assert!(db.health().await.unwrap().ok);
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_leaves_nothing_behind() {
    let db = support::database("rollback").await;
    let repo = Repository::<Account>::new(&db);
    let uow = db.begin().await.unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    uow.after_commit(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    repo.save(&mut account("a", 1), &uow).await.unwrap();
    repo.save(&mut account("b", 2), &uow).await.unwrap();
    uow.rollback().await.unwrap();
    assert_eq!(repo.collection().count_documents(doc! {}).await.unwrap(), 0);
    assert_eq!(ran.load(Ordering::SeqCst), 0, "after-commit hooks are discarded on rollback");
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_an_uncommitted_unit_of_work_rolls_back() {
    let db = support::database("drop_rollback").await;
    let repo = Repository::<Account>::new(&db);
    {
        let uow = db.begin().await.unwrap();
        repo.save(&mut account("a", 1), &uow).await.unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(repo.get(&"a".to_string(), Alone).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_commit_is_visible_afterwards_and_not_before() {
    let db = support::database("commit_visibility").await;
    let repo = Repository::<Account>::new(&db);
    let uow = db.begin().await.unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    uow.after_commit(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let mut a = account("a", 10);
    repo.save(&mut a, &uow).await.unwrap();
    assert!(repo.get(&"a".to_string(), &uow).await.unwrap().is_some(), "visible inside");
    assert!(repo.get(&"a".to_string(), Alone).await.unwrap().is_none(), "invisible outside before commit");
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    uow.commit().await.unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!(repo.get(&"a".to_string(), Alone).await.unwrap().unwrap().version, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn transaction_commits_and_runs_hooks_once() {
    let db = support::database("transaction").await;
    let repo = Repository::<Account>::new(&db);
    let ran = Arc::new(AtomicUsize::new(0));
    let value = db
        .transaction(async |uow| {
            repo.save(&mut account("a", 1), uow).await?;
            repo.save(&mut account("b", 2), uow).await?;
            let counter = ran.clone();
            uow.after_commit(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            });
            Ok::<_, Error>(42)
        })
        .await
        .unwrap();
    assert_eq!(value, 42);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!(repo.collection().count_documents(doc! {}).await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn transaction_aborts_on_an_error() {
    let db = support::database("transaction_abort").await;
    let repo = Repository::<Account>::new(&db);
    repo.save(&mut account("a", 1), Alone).await.unwrap();
    let result: Result<(), _> = db
        .transaction(async |uow| {
            repo.save(&mut account("b", 2), uow).await?;
            let mut stale = account("a", 5);
            stale.version = Version::new(7); // not the stored version: a concurrency error aborts everything
            repo.save(&mut stale, uow).await
        })
        .await;
    assert!(matches!(result, Err(cqrs_mongo_persistence::Error::Concurrency { expected: 7, .. })), "{result:?}");
    assert!(repo.get(&"b".to_string(), Alone).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_non_transactional_mode_must_be_chosen_explicitly() {
    let db = support::database("non_transactional").await;
    let repo = Repository::<Account>::new(&db);
    let uow = db.begin_non_transactional();
    assert!(!uow.is_transactional());
    repo.save(&mut account("a", 1), &uow).await.unwrap();
    uow.commit().await.unwrap();
    assert!(repo.exists(&"a".to_string(), Alone).await.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn transaction_with_gives_a_send_future_for_spawned_tasks() {
    use futures::FutureExt;
    let db = support::database("transaction_with").await;
    let repo = Repository::<Account>::new(&db);
    let ran = Arc::new(AtomicUsize::new(0));
    let task = {
        let (db, repo, ran) = (db.clone(), repo.clone(), ran.clone());
        tokio::spawn(async move {
            let mut a = account("a", 1);
            db.transaction_with((&repo, &mut a, ran), |uow, (repo, a, ran)| {
                async move {
                    repo.save(a, uow).await?;
                    let ran = ran.clone();
                    uow.after_commit(move || {
                        ran.fetch_add(1, Ordering::SeqCst);
                    });
                    Ok::<_, cqrs_mongo_persistence::Error>(())
                }
                .boxed()
            })
            .await
        })
    };
    task.await.unwrap().unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!(repo.get(&"a".to_string(), Alone).await.unwrap().unwrap().version, 1);
}
