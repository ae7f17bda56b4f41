//! Gap-aware reading: missing positions below the committed counter are waited for.
//!
//! Rust appends take their positions and insert their events in one transaction, so with only
//! Rust writers every position up to the counter is stored and there are no gaps. The legacy
//! package takes its position with `$inc` **before and outside** its insert, so for a moment a
//! position below the counter can be missing while a later one (from Rust) is already stored.
//! A reader that stepped over it would never see the event (legacy defect in `LEGACY.md`).
//!
//! So a position-ordered reader treats a missing position as **in flight** for a grace period
//! (how long a legacy insert can lag its `$inc`; [`EventStore::gap_grace`], default
//! [`DEFAULT_GAP_GRACE`]) and does not read past it; when the event appears, reading goes on.
//! When the grace period has passed the position is **given up** (a legacy insert that failed
//! after its `$inc` leaves such a hole for good): reading steps over it, a warning is logged
//! and [`GapStats`] counts it. This is the model of Marten's high-water mark (a "stale
//! sequence threshold") and Axon's gap-aware tracking token (a gap timeout).
//!
//! A gap's age is the longer of two measures: how long this process has seen it missing, and
//! how long ago the first stored event *above* it occurred (its position was taken after the
//! missing ones, so the missing ones are at least that old). The second lets a reader that
//! starts far behind (a rebuild) step over old holes at once instead of waiting at each. It
//! compares `occurred_at` with the server's clock: Rust appends set `occurred_at` after taking
//! their positions; the legacy package sets it when the domain event is created, shortly
//! before; so the grace period must also cover a legacy command's time from creating its
//! events to inserting them, and the application hosts' clocks must be within that of the
//! server's.
//!
//! The tracker is shared by the clones of one store: every reader in the process sees the
//! same gaps and the same counts. Its memory is bounded ([`MAX_GAPS`] ranges).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// How long a missing position is waited for by default.
pub const DEFAULT_GAP_GRACE: Duration = Duration::from_secs(10);

/// Gap ranges remembered at most; the lowest are forgotten first (a reader that meets one
/// again measures it afresh, which only makes it wait longer).
const MAX_GAPS: usize = 10_000;

/// What the readers of a store met: gaps waited for and positions given up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GapStats {
    /// Ranges of missing positions currently waited for.
    pub in_flight: usize,
    /// Ranges whose grace period passed before their events appeared.
    pub gaps_given_up: u64,
    /// Positions in those ranges.
    pub positions_given_up: u64,
    /// Positions stepped over at once because their unit of work did not commit (burnt
    /// reservations, [`PositionAllocation::Reserved`](crate::event_store::PositionAllocation::Reserved)).
    pub positions_burnt: u64,
}

/// One range of missing positions, `lo..=hi` (the map key is `lo`).
#[derive(Debug, Clone, Copy)]
struct Gap {
    hi: i64,
    /// When its grace period ends.
    expires_at: Instant,
    /// Already given up (and counted).
    given_up: bool,
}

/// What a reader may do at a range of missing positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Step over it.
    Pass,
    /// Stop before it.
    Wait,
    /// First seen now: the caller may look for evidence of its age and call
    /// [`Gaps::age_at_least`].
    New,
}

/// The gaps the readers of one store have met (shared by its clones).
#[derive(Debug, Default)]
pub(crate) struct Gaps {
    ranges: Mutex<BTreeMap<i64, Gap>>,
    stats: Mutex<GapStats>,
    /// Every position up to this one is stored or given up (events are never deleted, so this
    /// only grows): readers that need to know where the first gap is start looking here.
    settled: AtomicI64,
}

impl Gaps {
    /// Every position up to the returned one is stored or given up.
    pub(crate) fn settled(&self) -> i64 {
        self.settled.load(Ordering::Relaxed)
    }

    /// A reader found every position in `from + 1..=to` stored or given up: when that range
    /// continues the settled prefix, the prefix grows to `to`.
    pub(crate) fn settle(&self, from: i64, to: i64) {
        let _ = self.settled.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |settled| {
            (from <= settled && to > settled).then_some(to)
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, Gap>> {
        self.ranges.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The counts so far.
    pub(crate) fn stats(&self) -> GapStats {
        let mut stats = *self.stats.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        stats.in_flight = self.lock().values().filter(|g| !g.given_up).count();
        stats
    }

    /// Positions `lo..=hi` are missing below the counter: may the reader step over them?
    /// Records the range (its grace period starts now for positions not seen missing before).
    pub(crate) fn check(&self, lo: i64, hi: i64, grace: Duration) -> Verdict {
        let now = Instant::now();
        let mut ranges = self.lock();
        let overlapping: Vec<(i64, Gap)> =
            ranges.range(..=hi).filter(|(_, g)| g.hi >= lo).map(|(l, g)| (*l, *g)).collect();
        let covered: i64 = overlapping.iter().map(|(l, g)| g.hi.min(hi) - (*l).max(lo) + 1).sum();
        let fully_covered = covered == hi - lo + 1;
        let given_up = fully_covered && overlapping.iter().all(|(_, g)| g.given_up);
        // The range is as young as its youngest part.
        let expires_at = match overlapping.iter().map(|(_, g)| g.expires_at).max() {
            Some(latest) if fully_covered => latest,
            _ => now + grace,
        };
        for (l, g) in &overlapping {
            ranges.remove(l);
            // Parts outside `lo..=hi` keep their own state.
            if *l < lo {
                ranges.insert(*l, Gap { hi: lo - 1, ..*g });
            }
            if g.hi > hi {
                ranges.insert(hi + 1, *g);
            }
        }
        ranges.insert(lo, Gap { hi, expires_at, given_up });
        if given_up {
            return Verdict::Pass;
        }
        while ranges.len() > MAX_GAPS {
            ranges.pop_first();
        }
        drop(ranges);
        if now >= expires_at {
            self.give_up(lo, hi);
            Verdict::Pass
        } else if fully_covered {
            Verdict::Wait
        } else {
            Verdict::New
        }
    }

    /// Evidence that positions `lo..=hi` have been missing for at least `age`: their grace
    /// period is shortened accordingly. Returns whether the reader may now step over them.
    pub(crate) fn age_at_least(&self, lo: i64, hi: i64, age: Duration, grace: Duration) -> bool {
        let now = Instant::now();
        let mut ranges = self.lock();
        let Some(gap) = ranges.get_mut(&lo).filter(|g| g.hi == hi) else { return false };
        let by_evidence = now + grace.saturating_sub(age);
        gap.expires_at = gap.expires_at.min(by_evidence);
        let expired = now >= gap.expires_at;
        drop(ranges);
        if expired {
            self.give_up(lo, hi);
        }
        expired
    }

    /// A reader scanned positions `lo..=hi` and found exactly the ranges `missing` missing
    /// (each just passed to [`Gaps::check`]): every other remembered gap there was filled.
    pub(crate) fn forget_filled(&self, lo: i64, hi: i64, missing: &[(i64, i64)]) {
        let mut ranges = self.lock();
        if ranges.is_empty() || lo > hi {
            return;
        }
        let overlapping: Vec<(i64, Gap)> =
            ranges.range(..=hi).filter(|(_, g)| g.hi >= lo).map(|(l, g)| (*l, *g)).collect();
        for (l, g) in overlapping {
            if missing.contains(&(l, g.hi)) {
                continue;
            }
            ranges.remove(&l);
            if l < lo {
                ranges.insert(l, Gap { hi: lo - 1, ..g });
            }
            if g.hi > hi {
                ranges.insert(hi + 1, g);
            }
        }
    }

    /// When the earliest in-flight gap's grace period ends, if any gap is in flight.
    pub(crate) fn next_expiry(&self) -> Option<Duration> {
        let now = Instant::now();
        self.lock().values().filter(|g| !g.given_up).map(|g| g.expires_at.saturating_duration_since(now)).min()
    }

    /// Positions `lo..=hi` (a range [`check`](Self::check) just saw) were burnt: readers step
    /// over them from now on, without waiting.
    pub(crate) fn burnt(&self, lo: i64, hi: i64) {
        if let Some(gap) = self.lock().get_mut(&lo).filter(|g| g.hi == hi) {
            if gap.given_up {
                return;
            }
            gap.given_up = true;
        }
        let mut stats = self.stats.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        stats.positions_burnt += (hi - lo + 1) as u64;
    }

    fn give_up(&self, lo: i64, hi: i64) {
        if let Some(gap) = self.lock().get_mut(&lo) {
            if gap.given_up {
                return;
            }
            gap.given_up = true;
        }
        let mut stats = self.stats.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        stats.gaps_given_up += 1;
        stats.positions_given_up += (hi - lo + 1) as u64;
        tracing::warn!(
            from = lo,
            to = hi,
            "positions {lo}..={hi} were taken from the counter but their events never appeared within the grace \
             period; readers step over them (an event inserted there later will not be read by readers past it)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(3600);

    #[test]
    fn a_new_gap_is_waited_for_then_given_up_when_its_grace_is_zero() {
        let gaps = Gaps::default();
        assert_eq!(gaps.check(5, 6, LONG), Verdict::New);
        assert_eq!(gaps.check(5, 6, LONG), Verdict::Wait);
        assert_eq!(gaps.stats().in_flight, 1);
        let fresh = Gaps::default();
        assert_eq!(fresh.check(5, 6, Duration::ZERO), Verdict::Pass);
        assert_eq!(
            fresh.stats(),
            GapStats { in_flight: 0, gaps_given_up: 1, positions_given_up: 2, positions_burnt: 0 }
        );
        // Counted once, however often it is met again.
        assert_eq!(fresh.check(5, 6, Duration::ZERO), Verdict::Pass);
        assert_eq!(fresh.stats().gaps_given_up, 1);
    }

    #[test]
    fn burnt_positions_are_stepped_over_at_once_and_counted_apart() {
        let gaps = Gaps::default();
        assert_eq!(gaps.check(3, 4, LONG), Verdict::New);
        gaps.burnt(3, 4);
        assert_eq!(gaps.check(3, 4, LONG), Verdict::Pass);
        gaps.burnt(3, 4);
        assert_eq!(
            gaps.stats(),
            GapStats { in_flight: 0, gaps_given_up: 0, positions_given_up: 0, positions_burnt: 2 }
        );
    }

    #[test]
    fn evidence_of_age_gives_a_gap_up_and_a_partly_filled_gap_keeps_its_age() {
        let gaps = Gaps::default();
        assert_eq!(gaps.check(10, 12, LONG), Verdict::New);
        assert!(!gaps.age_at_least(10, 12, Duration::from_secs(5), LONG));
        assert!(gaps.age_at_least(10, 12, LONG, LONG));
        // 11 appeared: what is left of the range was given up already.
        assert_eq!(gaps.check(10, 10, LONG), Verdict::Pass);
        assert_eq!(gaps.check(12, 12, LONG), Verdict::Pass);
        gaps.forget_filled(10, 12, &[(10, 10), (12, 12)]);
        assert_eq!(gaps.check(10, 10, LONG), Verdict::Pass, "still given up");
        // A range reaching beyond what was seen starts a new grace period.
        assert_eq!(gaps.check(12, 13, LONG), Verdict::New);
        assert_eq!(gaps.stats().gaps_given_up, 1);
        // Filled: forgotten.
        gaps.forget_filled(12, 13, &[]);
        assert_eq!(gaps.stats().in_flight, 0);
    }
}
