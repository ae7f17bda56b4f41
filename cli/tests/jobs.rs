//! `cqrs-mongo jobs stats` on the real test server.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use bson::doc;
use cqrs_mongo_persistence::jobs::{Failed, NewJob};
use cqrs_mongo_persistence::{Alone, JobQueue};

#[tokio::test(flavor = "multi_thread")]
async fn jobs_stats_counts_jobs_by_status() {
    let test = "cli_jobs_stats";
    let db = support::database(test).await;
    let jobs = JobQueue::new(&db);
    let lease = Duration::from_secs(30);
    jobs.enqueue(NewJob::new("done", "mail", doc! {}).priority(9), Alone).await.unwrap();
    jobs.enqueue(NewJob::new("broken", "mail", doc! {}).priority(8).max_attempts(1), Alone).await.unwrap();
    jobs.enqueue(NewJob::new("running", "mail", doc! {}).priority(7), Alone).await.unwrap();
    jobs.enqueue(NewJob::new("cancelled", "mail", doc! {}), Alone).await.unwrap();
    jobs.enqueue(NewJob::new("waiting-1", "reports", doc! {}), Alone).await.unwrap();
    jobs.enqueue(NewJob::new("waiting-2", "reports", doc! {}), Alone).await.unwrap();
    let done = jobs.claim("w", &["mail"], lease).await.unwrap().unwrap();
    assert_eq!(done.id, "done");
    jobs.complete(&done).await.unwrap();
    let broken = jobs.claim("w", &["mail"], lease).await.unwrap().unwrap();
    assert_eq!(broken.id, "broken");
    assert_eq!(jobs.fail(&broken, "boom").await.unwrap(), Failed::Parked);
    assert_eq!(jobs.claim("w", &["mail"], lease).await.unwrap().unwrap().id, "running");
    assert!(jobs.cancel("cancelled", Alone).await.unwrap());

    let stdout = support::stdout_ok(&support::run(test, &["jobs", "stats"]).await);
    assert_eq!(
        stdout, "PENDING    2\nRUNNING    1\nCOMPLETED  1\nFAILED     1\nCANCELLED  1\ntotal      6\n",
        "printed counts"
    );
    let expected: BTreeMap<String, u64> =
        [("PENDING", 2), ("RUNNING", 1), ("COMPLETED", 1), ("FAILED", 1), ("CANCELLED", 1)]
            .into_iter()
            .map(|(s, n)| (s.to_owned(), n))
            .collect();
    assert_eq!(jobs.stats().await.unwrap(), expected, "the library agrees");

    // An empty queue lists every status at zero.
    support::database("cli_jobs_stats_empty").await;
    let empty = support::stdout_ok(&support::run("cli_jobs_stats_empty", &["jobs", "stats"]).await);
    assert_eq!(empty, "PENDING    0\nRUNNING    0\nCOMPLETED  0\nFAILED     0\nCANCELLED  0\ntotal      0\n");
}
