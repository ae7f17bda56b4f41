//! The candidates a process's claims take jobs from: one query finds the best eligible jobs (in
//! claim order), and the claims of every worker of the process take them one at a time, each
//! with a conditional update on its id. Workers of one process never race for the same job, and
//! the query (which some servers answer by sorting every pending job) runs once per batch of
//! candidates instead of once per claim.
//!
//! One worker at a time looks candidates up ([`Dispenser::refilling`]); the others wait for its
//! result instead of running the same query at once (on a server that sorts every pending job
//! per query, eight simultaneous lookups cost eight times one).
//!
//! Candidates are kept at most [`FRESH_FOR`], and forgotten when this process enqueues a job or
//! a sweep puts jobs back: a job enqueued by another process with a higher priority is seen
//! within that time. A candidate another process took first is skipped (its update matches
//! nothing) and the next one tried.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use bson::Bson;

/// How many candidates one query fetches.
pub(super) const BATCH: i64 = 64;

/// How long candidates are handed out before they are looked up again.
pub(super) const FRESH_FOR: Duration = Duration::from_millis(250);

/// The candidates of one set of queues (shared by a queue's clones).
#[derive(Debug, Default)]
pub(super) struct Dispenser {
    candidates: Mutex<Option<Candidates>>,
    /// Held by the worker looking candidates up.
    refill: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct Candidates {
    queues: Vec<String>,
    ids: VecDeque<Bson>,
    fetched: Instant,
}

impl Dispenser {
    /// Up to `max` next candidates for `queues` (none when there is none fresh).
    pub(super) fn take(&self, queues: &[&str], max: usize) -> Vec<Bson> {
        let mut held = self.candidates.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(candidates) = held.as_mut() else { return Vec::new() };
        if candidates.queues != queues || candidates.fetched.elapsed() > FRESH_FOR {
            *held = None;
            return Vec::new();
        }
        let n = max.min(candidates.ids.len());
        candidates.ids.drain(..n).collect()
    }

    /// Candidates just fetched for `queues`, in claim order.
    pub(super) fn fill(&self, queues: &[&str], ids: Vec<Bson>) {
        let queues = queues.iter().map(|q| (*q).to_owned()).collect();
        *self.candidates.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Candidates { queues, ids: ids.into(), fetched: Instant::now() });
    }

    /// Forgets the candidates (a job was enqueued or put back: the best ones may have changed).
    pub(super) fn clear(&self) {
        *self.candidates.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Waits until no other worker of the process is looking candidates up; the guard marks
    /// this one as the one looking. After the wait, [`take`](Self::take) first: the previous
    /// holder may have just filled the candidates.
    pub(super) async fn refilling(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.refill.lock().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The next candidate for `queues`, unless there is none fresh.
    fn next(dispenser: &Dispenser, queues: &[&str]) -> Option<Bson> {
        dispenser.take(queues, 1).pop()
    }

    #[test]
    fn candidates_are_handed_out_once_in_order_for_their_queues_only() {
        let dispenser = Dispenser::default();
        assert_eq!(next(&dispenser, &["mail"]), None);
        dispenser.fill(&["mail"], vec![Bson::from("a"), Bson::from("b")]);
        assert_eq!(next(&dispenser, &["reports"]), None, "other queues look up their own");
        dispenser.fill(&["mail"], vec![Bson::from("a"), Bson::from("b")]);
        assert_eq!(next(&dispenser, &["mail"]), Some(Bson::from("a")));
        assert_eq!(next(&dispenser, &["mail"]), Some(Bson::from("b")));
        assert_eq!(next(&dispenser, &["mail"]), None);
        dispenser.fill(&["mail"], vec![Bson::from("c"), Bson::from("d"), Bson::from("e")]);
        assert_eq!(dispenser.take(&["mail"], 2), [Bson::from("c"), Bson::from("d")]);
        dispenser.clear();
        assert_eq!(next(&dispenser, &["mail"]), None);
    }
}
