//! Fault injection on the test server: MongoDB's `failCommand` fail point (SecantusDB started
//! with `--enable-test-commands`, or a mongod with `enableTestCommands`), aimed at one
//! connection's client by its application name and disarmed when the guard is dropped, as the
//! driver's own test suite does it.

use bson::{Bson, Document, doc};

use crate::store::connection::Connection;

/// An armed `failCommand` fail point; dropping it disarms it (or call
/// [`disarm`](FailPoint::disarm)).
#[derive(Debug)]
#[must_use = "the fail point is disarmed when the guard is dropped"]
pub struct FailPoint {
    client: Option<mongodb::Client>,
}

/// Arms `failCommand` for `db`'s client only (its `appName`, which [`database`](super::database)
/// sets): the `commands` named fail as `data` says (`errorCode`, `errorLabels`,
/// `closeConnection`, `blockConnection` with `blockTimeMS`), `mode` as the server takes it
/// (`"alwaysOn"`, `doc! { "times": 2 }`). Other clients of the server are not affected.
///
/// The server holds one `failCommand` at a time (arming replaces the last one, disarming clears
/// it), so the tests of one process that arm it must take turns, e.g. holding a
/// `tokio::sync::Mutex` while the guard lives.
///
/// # Panics
///
/// When `db` has no application name, or the server refuses the command (test commands off).
pub async fn fail_command(db: &Connection, commands: &[&str], mode: impl Into<Bson>, data: Document) -> FailPoint {
    let app = db.app_name().expect("fail_command aims at a client by its app name: connect with one");
    let mut data = data;
    data.insert("failCommands", commands.iter().map(|c| Bson::from(*c)).collect::<Vec<_>>());
    data.insert("appName", app);
    let command = doc! { "configureFailPoint": "failCommand", "mode": mode.into(), "data": data };
    db.client()
        .database("admin")
        .run_command(command)
        .await
        .unwrap_or_else(|err| panic!("configureFailPoint refused (are test commands enabled?): {err}"));
    FailPoint { client: Some(db.client().clone()) }
}

fn off() -> Document {
    doc! { "configureFailPoint": "failCommand", "mode": "off" }
}

impl FailPoint {
    /// Disarms the fail point now.
    ///
    /// # Panics
    ///
    /// When the server refuses the command.
    pub async fn disarm(mut self) {
        if let Some(client) = self.client.take() {
            turn_off(&client).await.expect("configureFailPoint off");
        }
    }
}

/// Disarms, trying again for a while: a fail point that closed connections leaves the client's
/// pool cleared, and the first commands after it may fail the same way.
async fn turn_off(client: &mongodb::Client) -> mongodb::error::Result<()> {
    let mut tries = 0;
    loop {
        match client.database("admin").run_command(off()).await {
            Ok(_) => return Ok(()),
            Err(_) if tries < 100 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(err) => return Err(err),
        }
    }
}

impl Drop for FailPoint {
    /// Disarms it before returning on a multi-threaded runtime (`#[tokio::test(flavor =
    /// "multi_thread")]`); on a current-thread runtime the disarm is spawned and runs at the
    /// next await, so call [`disarm`](FailPoint::disarm) there instead.
    fn drop(&mut self) {
        let Some(client) = self.client.take() else { return };
        let Ok(handle) = tokio::runtime::Handle::try_current() else { return };
        let disarm = async move {
            let _ = turn_off(&client).await;
        };
        match handle.runtime_flavor() {
            tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(|| handle.block_on(disarm)),
            _ => drop(handle.spawn(disarm)),
        }
    }
}
