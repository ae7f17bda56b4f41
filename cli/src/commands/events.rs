//! `events tail`: events in position order, one line each; `--follow` polls until Ctrl-C.

use std::io::Write;
use std::time::Duration;

use bson::Bson;
use cqrs_mongo_persistence::event_store::StoredEvent;
use cqrs_mongo_persistence::{Connection, EventStore};

use crate::args::TailArgs;
use crate::error::CliError;

/// Events read per page.
const PAGE: u64 = 500;

/// How long `--follow` waits before looking for new events again once caught up.
const POLL: Duration = Duration::from_millis(500);

/// Prints the events after `--after`; stops when caught up (or after `--limit` events), or with
/// `--follow` keeps polling until Ctrl-C, which ends it successfully.
pub(crate) async fn tail(
    connection: &Connection,
    args: &TailArgs,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    let store = EventStore::new(connection);
    let mut after = args.after;
    let mut left = args.limit;
    // Polled first in every wait below (`biased`), so the handler is installed before the first
    // event is printed.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        let page_size = left.map_or(PAGE, |left| left.min(PAGE)) as i64;
        let read = store.read_all(after, page_size);
        let page = if args.follow {
            tokio::select! {
                biased;
                signal = &mut interrupted => return signal.map_err(CliError::Signal),
                page = read => page,
            }
        } else {
            read.await
        };
        let page = page.map_err(CliError::database(format!("cannot read the events after position {after}")))?;
        if page.is_empty() {
            if !args.follow {
                return Ok(());
            }
            out.flush()?;
            tokio::select! {
                biased;
                signal = &mut interrupted => return signal.map_err(CliError::Signal),
                () = tokio::time::sleep(POLL) => continue,
            }
        }
        for event in &page {
            writeln!(out, "{}", line(event))?;
            after = event.position;
            if let Some(left) = &mut left {
                *left -= 1;
                if *left == 0 {
                    return Ok(());
                }
            }
        }
        out.flush()?;
    }
}

/// `position, stream id, version, type, payload` separated by tabs; the payload as compact
/// relaxed Extended JSON.
fn line(event: &StoredEvent) -> String {
    let payload = Bson::Document(event.payload.clone()).into_relaxed_extjson();
    format!("{}\t{}\t{}\t{}\t{payload}", event.position, event.aggregate_id, event.version, event.event_type)
}
