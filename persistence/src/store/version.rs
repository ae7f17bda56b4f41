//! Optimistic-concurrency versions that change for good only when the unit of work commits.
//!
//! A save inside a transaction gives the aggregate its next version at once (a second save in
//! the same unit of work must expect it), but that version is *provisional*: it belongs to the
//! unit of work's current attempt. If the attempt commits, the version stays; if it is rolled
//! back, dropped, or retried by [`Connection::transaction`](crate::Connection::transaction), the
//! aggregate is back at the version it had before, so the retried attempt or a later save
//! expects what is really stored. Clones share the provisional state, so a copy taken inside
//! the transaction settles the same way as the original.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The version of an aggregate or saga: 0 before the first save, then the stored version.
///
/// Use it as the aggregate's version field (`#[serde(default)] version: Version`). Compare it
/// with integers directly (`order.version == 2`) or read it with [`get`](Self::get).
#[derive(Clone, Default)]
pub struct Version {
    /// The version as of the last committed (or non-transactional) write or load.
    settled: i64,
    /// The version a write inside a still-undecided unit of work gave it.
    provisional: Option<Provisional>,
}

#[derive(Clone, Debug)]
struct Provisional {
    value: i64,
    fate: Arc<Fate>,
}

impl Version {
    /// A settled version.
    pub const fn new(version: i64) -> Self {
        Version { settled: version, provisional: None }
    }

    /// The current version: a provisional one while its unit of work is open or once it has
    /// committed, else the settled one.
    pub fn get(&self) -> i64 {
        match &self.provisional {
            Some(p) if p.fate.get() != Fate::ABANDONED => p.value,
            _ => self.settled,
        }
    }

    /// True while a write of a unit of work that has not committed yet gave this version.
    pub fn is_provisional(&self) -> bool {
        self.provisional.as_ref().is_some_and(|p| p.fate.get() == Fate::OPEN)
    }

    /// Sets the version after a write: settled at once without a unit of work (`fate` is
    /// `None`), provisional inside one.
    pub(crate) fn advance(&mut self, version: i64, fate: Option<&Arc<Fate>>) {
        self.settle();
        match fate {
            None => {
                self.settled = version;
                self.provisional = None;
            }
            Some(fate) => match &mut self.provisional {
                Some(p) if Arc::ptr_eq(&p.fate, fate) => p.value = version,
                slot => *slot = Some(Provisional { value: version, fate: fate.clone() }),
            },
        }
    }

    /// Folds a decided provisional version into the settled one.
    fn settle(&mut self) {
        if let Some(p) = &self.provisional {
            match p.fate.get() {
                Fate::COMMITTED => {
                    self.settled = p.value;
                    self.provisional = None;
                }
                Fate::ABANDONED => self.provisional = None,
                _ => {}
            }
        }
    }
}

impl std::fmt::Debug for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_provisional() { write!(f, "{} (provisional)", self.get()) } else { write!(f, "{}", self.get()) }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.get())
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for Version {}

impl PartialEq<i64> for Version {
    fn eq(&self, other: &i64) -> bool {
        self.get() == *other
    }
}

impl From<i64> for Version {
    fn from(version: i64) -> Self {
        Version::new(version)
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.get())
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Integer;
        impl Visitor<'_> for Integer {
            type Value = Version;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a version number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Version, E> {
                Ok(Version::new(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Version, E> {
                i64::try_from(v).map(Version::new).map_err(|_| E::custom("version out of range"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Version, E> {
                // Either stack may have written a whole double.
                if v.fract() == 0.0 && v.abs() < 9.0e15 {
                    Ok(Version::new(v as i64))
                } else {
                    Err(E::custom(format!("version {v} is not a whole number")))
                }
            }
        }
        deserializer.deserialize_any(Integer)
    }
}

/// Whether a unit of work's attempt committed: open, committed or abandoned (rolled back,
/// dropped, failed, or retried).
#[derive(Debug, Default)]
pub(crate) struct Fate(AtomicU8);

impl Fate {
    const OPEN: u8 = 0;
    const COMMITTED: u8 = 1;
    const ABANDONED: u8 = 2;

    fn get(&self) -> u8 {
        self.0.load(Ordering::Acquire)
    }

    /// The attempt committed (only an open attempt can).
    pub(crate) fn commit(&self) {
        let _ = self.0.compare_exchange(Self::OPEN, Self::COMMITTED, Ordering::AcqRel, Ordering::Acquire);
    }

    /// The attempt will never commit (only an open attempt can be abandoned).
    pub(crate) fn abandon(&self) {
        let _ = self.0.compare_exchange(Self::OPEN, Self::ABANDONED, Ordering::AcqRel, Ordering::Acquire);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provisional_version_stays_when_committed_and_reverts_when_abandoned() {
        let fate = Arc::new(Fate::default());
        let mut version = Version::new(3);
        version.advance(4, Some(&fate));
        version.advance(5, Some(&fate));
        assert_eq!((version.get(), version.is_provisional()), (5, true));
        let copy = version.clone();
        fate.abandon();
        assert_eq!((version.get(), copy.get()), (3, 3), "clones settle the same way");
        fate.commit();
        assert_eq!(version.get(), 3, "an abandoned attempt cannot commit afterwards");

        let next = Arc::new(Fate::default());
        version.advance(4, Some(&next));
        next.commit();
        assert_eq!((version.get(), version.is_provisional()), (4, false));
        version.advance(5, None);
        assert_eq!(version, 5);
    }

    #[test]
    fn versions_read_any_whole_number() {
        let read = |b: bson::Bson| bson::deserialize_from_bson::<Version>(b).map(|v| v.get());
        assert_eq!(read(bson::Bson::Int32(2)).unwrap(), 2);
        assert_eq!(read(bson::Bson::Int64(7)).unwrap(), 7);
        assert_eq!(read(bson::Bson::Double(4.0)).unwrap(), 4);
        assert!(read(bson::Bson::Double(4.5)).is_err());
        assert!(read(bson::Bson::String("4".into())).is_err());
        assert_eq!(bson::serialize_to_bson(&Version::new(9)).unwrap(), bson::Bson::Int64(9));
    }
}
