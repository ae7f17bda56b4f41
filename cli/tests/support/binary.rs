//! Running a command-line binary built on the CLI's library (the generic `cqrs-mongo`, or an
//! application's own such as `cqrs-mongo-orders`) against a test's database, and reading what
//! it prints. Shared by the cli crate's tests and the demo's.

use std::process::{Command, Output, Stdio};

use cqrs_mongo_persistence::testing::{database_name as name, server_uri};

/// The binary at `path`, pointed at the test server (through `MONGODB_URI`, as a user would)
/// and at the test's database.
pub fn command(path: &str, test: &str) -> Command {
    let mut command = Command::new(path);
    command.env("MONGODB_URI", server_uri()).env_remove("CQRS_MONGO_DATABASE").args(["--database", &name(test)]);
    command
}

/// Runs `command` with `args` to completion (off the async runtime's threads).
pub async fn output(mut command: Command, args: &[&str]) -> Output {
    command.args(args).stdin(Stdio::null());
    tokio::task::spawn_blocking(move || command.output().expect("run the binary")).await.expect("join")
}

/// Standard output of a run that must have succeeded.
pub fn stdout_ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "the binary failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

/// The `projections status` line of `projection`, split into its columns.
pub fn status_row(stdout: &str, projection: &str) -> Vec<String> {
    let line = stdout.lines().find(|l| l.split_whitespace().next() == Some(projection));
    line.unwrap_or_else(|| panic!("no status line for {projection}: {stdout}"))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}
