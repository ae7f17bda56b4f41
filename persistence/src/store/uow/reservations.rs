//! Positions a unit of work reserved outside its transaction
//! ([`PositionAllocation::Reserved`](crate::PositionAllocation::Reserved)): held until it
//! commits, burnt (a tombstone readers step over at once) when it surely did not.
//!
//! A unit of work must commit within the reservation limit (half the readers' gap grace):
//! readers wait that long for a missing position before stepping over it, so a later commit
//! could be missed. Past the limit the unit of work is not committed: it is
//! [`Error::ReservationExpired`](crate::Error::ReservationExpired), retried by
//! [`Connection::transaction`](crate::Connection::transaction) with new positions.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bson::{DateTime, Document, doc};
use mongodb::Collection;

/// Positions `first..=last`, reserved at `at`, to commit within `limit`.
#[derive(Debug)]
pub(crate) struct Reservation {
    pub(crate) burnt: Collection<Document>,
    pub(crate) first: i64,
    pub(crate) last: i64,
    pub(crate) at: Instant,
    pub(crate) limit: Duration,
}

/// A unit of work's reservations.
#[derive(Debug, Default)]
pub(super) struct Reservations(Mutex<Vec<Reservation>>);

impl Reservations {
    fn take(&self) -> Vec<Reservation> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    pub(super) fn add(&self, reservation: Reservation) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(reservation);
    }

    /// The age and limit of a reservation held past its limit, if one is.
    pub(super) fn expired(&self) -> Option<(Duration, Duration)> {
        let held = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        held.iter().map(|r| (r.at.elapsed(), r.limit)).find(|(age, limit)| age > limit)
    }

    /// The unit of work committed: its positions hold events now.
    pub(super) fn committed(&self) {
        self.take();
    }

    /// The commit's outcome is unknown: its positions may hold events, so no tombstone (a
    /// reader steps over them only after its gap grace, as over a crashed writer's).
    pub(super) fn unknown(&self) {
        self.take();
    }

    /// The unit of work surely did not commit: a tombstone for each reserved range, written on
    /// its own (no transaction). A tombstone that cannot be written leaves readers to step over
    /// the positions after their gap grace.
    pub(super) async fn burn(&self) {
        for reservation in self.take() {
            reservation.burn().await;
        }
    }

    /// [`burn`](Self::burn) from a drop: in a task of its own when a runtime is at hand.
    pub(super) fn burn_later(&self) {
        let held = self.take();
        if held.is_empty() {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                for reservation in held {
                    reservation.burn().await;
                }
            });
        }
    }
}

impl Reservation {
    async fn burn(self) {
        let tombstone = doc! { "_id": self.first, "last": self.last, "burnt_at": DateTime::now() };
        match self.burnt.insert_one(tombstone).await {
            Ok(_) => tracing::debug!(first = self.first, last = self.last, "reserved positions burnt"),
            Err(err) => {
                tracing::warn!(first = self.first, last = self.last, error = %crate::runtime::retry::chain(&err),
                "reserved positions not marked burnt; readers step over them after their gap grace")
            }
        }
    }
}
