//! The public test support (feature `testing`) as an application's tests use it: a fresh
//! database per test, named after it, on one server per test process, which stops when the
//! process ends.

use std::process::Command;
use std::time::{Duration, Instant};

use bson::doc;
use cqrs_mongo_persistence::testing::{self, database, database_name, server_uri, test_name};

#[tokio::test]
async fn each_test_gets_an_empty_database_named_after_it() {
    let db = database(test_name!()).await;
    assert_eq!(db.database().name(), "t_each_test_gets_an_empty_database_named_after_it");
    db.database().collection("things").insert_one(doc! { "_id": 1 }).await.unwrap();
    // Asking again (a re-run of the test) starts from an empty database.
    let again = database(test_name!()).await;
    assert!(again.database().list_collection_names().await.unwrap().is_empty());
    assert_eq!(database_name("weird name/with.dots"), "t_weird_name_with_dots");
}

/// Also the child process of the test below: with `CHILD_URI_FILE` set it writes the URI of
/// the server it uses there, then exits, so the parent can see the server go away.
#[tokio::test]
async fn the_server_answers_and_is_shared_by_the_process() {
    let uri = server_uri();
    assert!(std::ptr::eq(uri, server_uri()), "one server per process");
    let db = database(test_name!()).await;
    let health = db.health().await.expect("the server answers");
    assert!(health.replica_set.is_some(), "a replica set, so transactions work");
    if let Some(path) = std::env::var_os("CHILD_URI_FILE") {
        std::fs::write(path, uri).unwrap();
    }
}

#[tokio::test]
async fn the_embedded_server_stops_when_the_test_process_ends() {
    if let Ok(uri) = std::env::var("MONGODB_URI").map(|u| u.trim().to_owned())
        && !uri.is_empty()
    {
        // A deployment of the user's: used as is, never started or stopped.
        assert_eq!(server_uri(), uri);
        return;
    }
    assert!(testing::secantusd().is_some(), "the embedded server is installed (scripts/setup.sh)");
    let dir = std::env::temp_dir().join(format!("cqrs-testing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("uri");
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "the_server_answers_and_is_shared_by_the_process", "--test-threads=1"])
        .env("CHILD_URI_FILE", &file)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let uri = std::fs::read_to_string(&file).unwrap();
    let port: u16 = uri.split(':').nth(2).and_then(|rest| rest.split('/').next()).unwrap().parse().unwrap();
    assert_ne!(uri, server_uri(), "the child had its own server");
    // The watchdog polls every 0.3 s; give it (and a busy machine) up to a minute.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "the child's server on port {port} still runs after the child exited");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The README's "Testing your application" example, as it is there.
#[tokio::test]
async fn appends_an_event() {
    use cqrs_mongo_persistence::{Alone, EventStore, EventStream, ExpectedVersion, NewEvent};
    let db = database(test_name!()).await; // database `t_appends_an_event`, dropped first
    let events = EventStore::new(&db);
    let stream = EventStream { aggregate_id: "o-1", aggregate_type: "Order" };
    let placed = NewEvent::new("e-1", "OrderPlaced", bson::doc! { "total": 10 });
    let positions = events.append(stream, ExpectedVersion::NoStream, &[placed], Alone).await.unwrap();
    assert_eq!(positions, [1]);
    assert_eq!(db.database().name(), "t_appends_an_event");
}
