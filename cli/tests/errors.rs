//! How the binary fails: an unreachable server, bad arguments, a projection it does not
//! register (it registers none). No test server is needed.

use std::net::TcpListener;
use std::process::{Command, Output};

use clap::Parser;
use cqrs_mongo_cli::{Cli, CliError, EXIT_USAGE};

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
fn the_generic_binary_registers_no_projection_so_naming_one_fails_with_status_2() {
    // Checked before connecting: no server is needed.
    let uri = closed_port_uri("");
    for command in [&["projections", "status", "order_summaries"][..], &["projections", "rebuild", "order_summaries"]] {
        let output = cqrs_mongo(&[&["--uri", &uri, "--timeout", "1"], command].concat());
        assert_eq!(output.status.code(), Some(2), "{command:?}");
        assert!(output.stdout.is_empty(), "{command:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(
            lines[0], "error: no projection named \"order_summaries\" is registered in this binary (registered: none)",
            "{command:?}"
        );
        assert!(
            lines[1].starts_with("help: ") && lines[1].contains("cqrs_mongo_cli::run(cli, projections)"),
            "{stderr}"
        );
        assert_eq!(lines.len(), 2, "{stderr}");
    }
}

/// The same through the library entry point, as the typed error.
#[tokio::test]
async fn an_empty_registry_gives_the_typed_not_registered_error() {
    let uri = closed_port_uri("");
    for command in [["projections", "status", "order_summaries"], ["projections", "rebuild", "order_summaries"]] {
        let cli = Cli::try_parse_from([&["cqrs-mongo", "--uri", &uri][..], &command].concat()).unwrap();
        let mut out = Vec::new();
        let err = cqrs_mongo_cli::execute(cli, Vec::new(), &mut out).await.unwrap_err();
        assert!(
            matches!(&err, CliError::ProjectionNotRegistered { name, registered }
                if name == "order_summaries" && registered.is_empty()),
            "{command:?}: {err:?}"
        );
        assert_eq!(err.exit_status(), EXIT_USAGE);
        assert!(out.is_empty());
    }
}
