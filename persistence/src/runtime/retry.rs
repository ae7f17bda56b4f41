//! How every loop of the runtime retries, in one place: [`Backoff`] (the waits), [`RetryPolicy`]
//! (attempts, backoff, then park or stop) and [`Unavailable`] (a handler's or publisher's way to
//! say "not this item's fault: the thing I talk to is down").
//!
//! The rule every loop follows (the projection runner, subscriptions, the outbox relay and the
//! job worker):
//!
//! - **unavailable** — the database is unreachable or overloaded ([`Error::is_unavailable`]), or
//!   a handler or publisher failed with an error whose chain holds an [`Unavailable`] (or an
//!   unavailable [`Error`]): the loop backs off ([`Backoff`], growing while it lasts) and tries
//!   the same item again, **without counting an attempt against it**;
//! - **anything else an item causes** — a write the server refuses, a payload that does not
//!   decode, a handler's error, a message the publisher refuses: the item's [`RetryPolicy`]
//!   (retried with backoff up to its attempts, then parked, or the run stops), and the loop goes
//!   on with the next item;
//! - anything else (a misconfiguration, an invalid argument) ends the run with the error.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// A boxed error with its source chain, as handlers and publishers return them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Waits that grow between attempts: `initial × factor^(attempt − 1)`, at most `max`, with
/// optional full jitter (a uniformly random part of that, as the driver does between
/// transaction attempts, so that competing retries spread out).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    factor: f64,
    jitter: bool,
}

impl Backoff {
    /// Doubling from `initial` up to `max`, no jitter.
    pub const fn new(initial: Duration, max: Duration) -> Self {
        Backoff { initial, max, factor: 2.0, jitter: false }
    }

    /// No wait at all (retry at once).
    pub const fn none() -> Self {
        Backoff::new(Duration::ZERO, Duration::ZERO)
    }

    /// The growth factor between attempts (at least 1).
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = if factor.is_finite() { factor.max(1.0) } else { 1.0 };
        self
    }

    /// Each wait is a uniformly random part of the computed one ("full jitter").
    pub fn with_jitter(mut self) -> Self {
        self.jitter = true;
        self
    }

    /// The driver's transaction backoff: 5 ms × 1.5^n, at most 500 ms, full jitter.
    pub const fn transactions() -> Self {
        Backoff { initial: Duration::from_millis(5), max: Duration::from_millis(500), factor: 1.5, jitter: true }
    }

    /// The first wait.
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// The longest wait.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The wait after failed attempt `attempt` (1-based; 0 is treated as 1).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(64) as i32;
        let computed = self.initial.as_secs_f64() * self.factor.powi(exponent);
        let capped = computed.min(self.max.as_secs_f64());
        let scaled = if self.jitter { capped * rand::random::<f64>() } else { capped };
        Duration::try_from_secs_f64(scaled).unwrap_or(self.max).min(self.max)
    }
}

/// What to do once an item's attempts are used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AfterRetries {
    /// Park the item (`dead_letters` for events, status `failed` for outbox messages, `FAILED`
    /// for jobs) and go on with the next one.
    Park,
    /// Stop: the run ends with [`Error::Handler`]; the item stays where it was (the checkpoint
    /// before the event, the message or job pending with its attempts counted).
    Stop,
}

/// Attempts, the backoff between them, and what happens after the last one: the one failure
/// policy of the projection runner, subscriptions, the outbox relay and the job queue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    attempts: u32,
    backoff: Backoff,
    then: AfterRetries,
}

impl Default for RetryPolicy {
    /// Three attempts (100 ms, then 200 ms apart), then park.
    fn default() -> Self {
        RetryPolicy::park_after(3)
    }
}

impl RetryPolicy {
    /// Up to `attempts` attempts (at least 1), then park the item and go on.
    pub fn park_after(attempts: u32) -> Self {
        RetryPolicy {
            attempts,
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(10)),
            then: AfterRetries::Park,
        }
    }

    /// Up to `attempts` attempts (at least 1), then stop with the error.
    pub fn stop_after(attempts: u32) -> Self {
        RetryPolicy { then: AfterRetries::Stop, ..RetryPolicy::park_after(attempts) }
    }

    /// The waits between attempts (default 100 ms doubling up to 10 s).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The number of attempts.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The waits between attempts.
    pub fn waits(&self) -> Backoff {
        self.backoff
    }

    /// What happens after the last attempt.
    pub fn then(&self) -> AfterRetries {
        self.then
    }

    /// [`Error::InvalidArgument`] for zero attempts.
    pub(crate) fn check(&self, operation: &'static str) -> Result<()> {
        Error::at_least_one(operation, "attempts", i64::from(self.attempts))
    }

    /// The wait after failed attempt `attempt` (1-based).
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        self.backoff.delay(attempt)
    }
}

/// The default backoff of a loop while the database (or a handler's or publisher's
/// destination) is unavailable: 100 ms doubling up to 10 s, with jitter.
pub const fn unavailable_backoff() -> Backoff {
    Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(10), factor: 2.0, jitter: true }
}

/// A failure that says nothing about the item being handled: the thing a handler or publisher
/// talks to is down or overloaded. Wrap such errors in it (`Err(Unavailable::new(err))`, or
/// `.map_err(Unavailable::new)`), and the loop backs off and tries the item again without
/// counting an attempt against it. Other errors count as the item's failures.
#[derive(Debug, thiserror::Error)]
#[error("unavailable: {source}")]
pub struct Unavailable {
    #[source]
    source: BoxError,
}

impl Unavailable {
    /// Marks `error` as "unavailable, try again later".
    pub fn new(error: impl Into<BoxError>) -> Self {
        Unavailable { source: error.into() }
    }
}

/// True when `error`, or an error in its source chain, is an [`Unavailable`] or an unavailable
/// [`Error`] of this crate.
pub fn is_unavailable(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(current) = next {
        if current.is::<Unavailable>() {
            return true;
        }
        if let Some(ours) = current.downcast_ref::<Error>() {
            return ours.is_unavailable();
        }
        next = current.source();
    }
    false
}

/// The item a loop keeps failing on, its attempts so far and when it may be tried again (the
/// runner and subscriptions retry the event at their head this way, between catch-ups).
#[derive(Debug, Default)]
pub(crate) struct Failing {
    current: Option<(String, u32, Instant)>,
}

/// What a failure of an item leads to under a [`RetryPolicy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Try it again after this wait (this was attempt `attempts`).
    RetryIn(Duration, u32),
    /// Its attempts are used up (this many): park it or stop, as the policy says.
    GiveUp(u32),
}

impl Failing {
    /// How long until `item` may be tried again (`None`: now).
    pub(crate) fn wait_for(&self, item: &str) -> Option<Duration> {
        match &self.current {
            Some((failing, _, at)) if failing == item => {
                at.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())
            }
            _ => None,
        }
    }

    /// Records a failed attempt of `item`.
    pub(crate) fn failed(&mut self, item: &str, policy: &RetryPolicy) -> Verdict {
        let attempts = match &self.current {
            Some((failing, attempts, _)) if failing == item => attempts.saturating_add(1),
            _ => 1,
        };
        if attempts >= policy.attempts() {
            self.current = None;
            return Verdict::GiveUp(attempts);
        }
        let wait = policy.delay(attempts);
        self.current = Some((item.to_owned(), attempts, Instant::now() + wait));
        Verdict::RetryIn(wait, attempts)
    }

    /// `item` went through (or was parked): forget its failures.
    pub(crate) fn done(&mut self, item: &str) {
        if self.current.as_ref().is_some_and(|(failing, ..)| failing == item) {
            self.current = None;
        }
    }
}

/// A loop's run of waits while something is unavailable: counted, logged when it starts (with
/// the error chain) and when it ends, each wait a step longer.
#[derive(Debug)]
pub(crate) struct Streak {
    kind: &'static str,
    name: String,
    backoff: Backoff,
    waits: u32,
}

impl Streak {
    pub(crate) fn new(kind: &'static str, name: &str, backoff: Backoff) -> Self {
        Streak { kind, name: name.to_owned(), backoff, waits: 0 }
    }

    /// One more wait because of `error`: how long.
    pub(crate) fn wait(&mut self, error: &(dyn std::error::Error + 'static)) -> Duration {
        self.waits = self.waits.saturating_add(1);
        let wait = self.backoff.delay(self.waits);
        crate::telemetry::backoff(self.kind, &self.name);
        if self.waits == 1 {
            tracing::warn!(loop_kind = self.kind, name = %self.name, error = %chain(error), "unavailable; backing off");
        } else {
            tracing::debug!(loop_kind = self.kind, name = %self.name, waits = self.waits, wait_ms = wait.as_millis() as u64, error = %chain(error), "still unavailable; backing off");
        }
        wait
    }

    /// The thing is back: ends the streak (logged if there was one).
    pub(crate) fn ok(&mut self) {
        if self.waits > 0 {
            tracing::info!(loop_kind = self.kind, name = %self.name, waits = self.waits, "available again; resumed");
            self.waits = 0;
        }
    }

    /// Waits so far in this streak.
    pub(crate) fn waits(&self) -> u32 {
        self.waits
    }
}

/// Logs and counts a run that ends with `error`.
pub(crate) fn log_stop(kind: &'static str, name: &str, error: &Error) {
    crate::telemetry::stopped(kind, name);
    tracing::error!(loop_kind = kind, name, error = %chain(error), "stopped");
}

/// The error and its sources, `: `-separated, for logs.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(source) = next {
        // A driver error's own text is long (it repeats the server's whole reply): its one-line
        // form, which this crate's errors already show.
        let more = match source.downcast_ref::<mongodb::error::Error>() {
            Some(driver) => crate::error::describe(driver),
            None => source.to_string(),
        };
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        next = source.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_maximum() {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let waits: Vec<u128> = (1..=6).map(|n| backoff.delay(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.delay(0), Duration::from_millis(100));
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(1), "no overflow");
        assert_eq!(Backoff::none().delay(7), Duration::ZERO);
    }

    #[test]
    fn jitter_stays_within_the_computed_wait() {
        let backoff = Backoff::transactions();
        for attempt in 1..40 {
            let bound = (5.0 * 1.5_f64.powi(attempt as i32 - 1)).min(500.0);
            let wait = backoff.delay(attempt).as_secs_f64() * 1000.0;
            assert!((0.0..=bound + 1e-9).contains(&wait), "attempt {attempt}: {wait} ms > {bound} ms");
        }
        // Full jitter spreads the waits: 200 draws of the capped wait are not all equal.
        let draws: std::collections::HashSet<u128> = (0..200).map(|_| backoff.delay(30).as_micros()).collect();
        assert!(draws.len() > 1);
    }

    #[test]
    fn a_factor_below_one_or_not_finite_is_one() {
        let flat = Backoff::new(Duration::from_millis(10), Duration::from_secs(1)).factor(0.5);
        assert_eq!(flat.delay(5), Duration::from_millis(10));
        assert_eq!(flat.factor(f64::NAN).delay(5), Duration::from_millis(10));
    }

    #[test]
    fn an_item_is_retried_after_its_backoff_then_given_up() {
        let policy = RetryPolicy::park_after(3).backoff(Backoff::new(Duration::from_secs(60), Duration::from_secs(60)));
        let mut failing = Failing::default();
        assert_eq!(failing.wait_for("e1"), None);
        assert!(matches!(failing.failed("e1", &policy), Verdict::RetryIn(_, 1)));
        assert!(failing.wait_for("e1").is_some(), "waits its backoff");
        assert_eq!(failing.wait_for("e2"), None, "other items do not wait");
        assert!(matches!(failing.failed("e1", &policy), Verdict::RetryIn(_, 2)));
        assert_eq!(failing.failed("e1", &policy), Verdict::GiveUp(3));
        assert_eq!(failing.wait_for("e1"), None, "forgotten once given up");
        assert!(matches!(failing.failed("e2", &policy), Verdict::RetryIn(_, 1)));
        failing.done("e2");
        assert!(matches!(failing.failed("e2", &policy), Verdict::RetryIn(_, 1)), "counts afresh after success");
        assert_eq!(Failing::default().failed("x", &RetryPolicy::park_after(1)), Verdict::GiveUp(1));
    }

    #[test]
    fn unavailable_is_found_anywhere_in_the_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("publish failed")]
        struct Outer(#[source] Unavailable);
        let plain: BoxError = "refused".into();
        assert!(!is_unavailable(plain.as_ref()));
        let marked: BoxError = Box::new(Unavailable::new("broker down"));
        assert!(is_unavailable(marked.as_ref()));
        let nested: BoxError = Box::new(Outer(Unavailable::new("connection reset")));
        assert!(is_unavailable(nested.as_ref()));
        assert_eq!(chain(nested.as_ref()), "publish failed: unavailable: connection reset");
        let ours: BoxError = Box::new(Error::InvalidArgument { operation: "x", argument: "y", message: "z".into() });
        assert!(!is_unavailable(ours.as_ref()));
    }
}
