//! How the binary fails: an unreachable server, bad arguments, an unknown projection. No test
//! server is needed.

use std::net::TcpListener;
use std::process::{Command, Output};

fn cqrs_mongo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cqrs-mongo"))
        .args(args)
        .env_remove("MONGODB_URI")
        .env_remove("CQRS_MONGO_DATABASE")
        .output()
        .expect("run cqrs-mongo")
}

/// A URI on a loopback port where nothing listens.
fn closed_port_uri(user_info: &str) -> String {
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).unwrap().port();
    format!("mongodb://{user_info}127.0.0.1:{port}/?directConnection=true")
}

#[test]
fn an_unreachable_server_is_an_error_with_status_1_and_no_password_shown() {
    let uri = closed_port_uri("app:hunter2@");
    for command in [&["outbox", "stats"][..], &["jobs", "stats"], &["events", "tail"], &["projections", "status"]] {
        let output = cqrs_mongo(&[&["--uri", &uri, "--timeout", "1"], command].concat());
        assert_eq!(output.status.code(), Some(1), "{command:?}");
        assert!(output.stdout.is_empty());
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.starts_with("error: cannot connect to mongodb://app:***@127.0.0.1:"), "{stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
}

#[test]
fn the_uri_and_database_come_from_the_environment() {
    let uri = closed_port_uri("");
    let output = Command::new(env!("CARGO_BIN_EXE_cqrs-mongo"))
        .args(["--timeout", "1", "jobs", "stats"])
        .env("MONGODB_URI", &uri)
        .env("CQRS_MONGO_DATABASE", "from_env")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.starts_with(&format!("error: cannot connect to {uri} (database from_env): ")), "{stderr}");
}

#[test]
fn bad_arguments_exit_with_status_2() {
    for args in [
        &["events", "tail", "--limit", "0"][..],
        &["events", "tail", "--after", "-1"],
        &["projections"],
        &["outbox", "nope"],
        &["--timeout", "0", "jobs", "stats"],
    ] {
        let output = cqrs_mongo(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?}: usage on standard error");
    }
}

#[test]
fn an_unknown_projection_lists_the_registered_ones_with_status_2() {
    // Checked before connecting: no server is needed.
    let output = cqrs_mongo(&["--uri", &closed_port_uri(""), "projections", "rebuild", "orders_by_customer"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "error: unknown projection \"orders_by_customer\"; registered projections: order_summaries\n"
    );
}
