//! The public test support (feature `testing`) as an application's tests use it: a fresh
//! database per test, named after it, on one server per test process, which stops when the
//! process ends, also when it is killed.

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
/// the server it uses there, then exits, so the parent can see the server go away; with
/// `CHILD_WAIT` too it then waits (at most a minute) to be killed.
#[tokio::test]
async fn the_server_answers_and_is_shared_by_the_process() {
    let uri = server_uri();
    assert!(std::ptr::eq(uri, server_uri()), "one server per process");
    let db = database(test_name!()).await;
    let health = db.health().await.expect("the server answers");
    assert!(health.replica_set.is_some(), "a replica set, so transactions work");
    if let Some(path) = std::env::var_os("CHILD_URI_FILE") {
        std::fs::write(path, uri).unwrap();
        if std::env::var_os("CHILD_WAIT").is_some() {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    }
}

/// Runs the child test above in a new process (killed with SIGKILL once it has written its
/// server's URI when `kill`), and returns the port of the server it started.
async fn child_server_port(dir: &std::path::Path, kill: bool) -> u16 {
    let file = dir.join(if kill { "killed" } else { "exited" });
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "the_server_answers_and_is_shared_by_the_process", "--test-threads=1"])
        .env("CHILD_URI_FILE", &file)
        .stdout(std::process::Stdio::null());
    if kill {
        command.env("CHILD_WAIT", "1");
    }
    let mut child = command.spawn().unwrap();
    // The whole URI is there once it ends with the connection options.
    let written = || std::fs::read_to_string(&file).ok().filter(|uri| uri.ends_with("directConnection=true"));
    let deadline = Instant::now() + Duration::from_secs(120);
    while written().is_none() {
        assert!(Instant::now() < deadline, "the child did not start its server");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if kill {
        child.kill().unwrap(); // SIGKILL: no destructor, no exit handler runs
    }
    let status = child.wait().unwrap();
    assert!(kill || status.success());
    let uri = written().unwrap();
    assert_ne!(uri, server_uri(), "the child had its own server");
    uri.split(':').nth(2).and_then(|rest| rest.split('/').next()).unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_embedded_server_stops_when_the_test_process_ends_however_it_ends() {
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
    for kill in [false, true] {
        let port = child_server_port(&dir, kill).await;
        // The watchdog polls every 0.3 s; give it (and a busy machine) up to a minute.
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            let how = if kill { "was killed" } else { "exited" };
            assert!(Instant::now() < deadline, "the child's server on port {port} still runs after the child {how}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The README's "Testing your application" example, as it is there.
#[tokio::test]
async fn appends_an_event() {
    use cqrs_mongo_persistence::event_store::{ExpectedVersion, NewEvent, Stream};
    use cqrs_mongo_persistence::{Alone, EventStore};
    let db = database(test_name!()).await; // database `t_appends_an_event`, dropped first
    let events = EventStore::new(&db);
    let stream = Stream { aggregate_id: "o-1", aggregate_type: "Order" };
    let placed = NewEvent::new("e-1", "OrderPlaced", bson::doc! { "total": 10 });
    let positions = events.append(stream, ExpectedVersion::NoStream, &[placed], Alone).await.unwrap();
    assert_eq!(positions, [1]);
    assert_eq!(db.database().name(), "t_appends_an_event");
}
