//! Which class a driver error belongs to: decided once, from what the driver reports (its kind,
//! the server's codes and code names, the error labels), by a pure function the unit tests below
//! drive class by class.
//!
//! The lists follow MongoDB's retryable reads and writes specifications and what mongod labels
//! (the codes it marks `RetryableWriteError` or `TransientTransactionError`), plus the overload
//! and rate-limit answers of newer servers, matched by name too so that a code a server adds
//! under a known name is classified the same way.

use std::collections::HashSet;

use mongodb::error::{ErrorKind, WriteFailure};

/// The class of a driver error (see [`Error`](super::Error)'s variants of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    WriteConflict,
    DuplicateKey,
    Unavailable,
    Refused,
    Client,
}

/// Where the driver error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The server answered (a command or write error).
    Server,
    /// No usable answer: I/O, a cleared pool, server selection, DNS.
    Network,
    /// The driver itself, on this side.
    Client,
}

/// A write lost to a concurrent transaction.
const WRITE_CONFLICT: i32 = 112;
/// A unique index refused the write.
pub(crate) const DUPLICATE_KEY: i32 = 11000;
/// The operation ran out of its `maxTimeMS`: the input asked for too much; not retried, as the
/// driver does not retry an unknown commit result that carries it.
const MAX_TIME_MS_EXPIRED: i32 = 50;

/// Labels meaning "try again": the driver's and the server's.
const UNAVAILABLE_LABELS: [&str; 5] = [
    mongodb::error::TRANSIENT_TRANSACTION_ERROR,
    mongodb::error::UNKNOWN_TRANSACTION_COMMIT_RESULT,
    mongodb::error::RETRYABLE_WRITE_ERROR,
    mongodb::error::SYSTEM_OVERLOADED_ERROR,
    mongodb::error::RETRYABLE_ERROR,
];

/// Server answers meaning "not now": a node that cannot serve (stepping down, shutting down, not
/// primary), a network failure between nodes, a lock or snapshot not available yet, a
/// transaction the server dropped, an overloaded or rate-limited server.
const UNAVAILABLE: [(i32, &str); 35] = [
    (6, "HostUnreachable"),
    (7, "HostNotFound"),
    (24, "LockTimeout"),
    (46, "LockBusy"),
    (63, "StaleShardVersion"),
    (64, "WriteConcernFailed"),
    (89, "NetworkTimeout"),
    (91, "ShutdownInProgress"),
    (133, "FailedToSatisfyReadPreference"),
    (134, "ReadConcernMajorityNotAvailableYet"),
    (150, "StaleEpoch"),
    (189, "PrimarySteppedDown"),
    (239, "SnapshotTooOld"),
    (246, "SnapshotUnavailable"),
    (251, "NoSuchTransaction"),
    (262, "ExceededTimeLimit"),
    (290, "TransactionExceededLifetimeLimitSeconds"),
    (317, "ConnectionPoolExpired"),
    (384, "ConnectionError"),
    (402, "ResourceExhausted"),
    (407, "PooledConnectionAcquisitionExceededTimeLimit"),
    (449, "RateLimitExceeded"),
    (462, "IngressRequestRateLimitExceeded"),
    (9001, "SocketException"),
    (10058, "LegacyNotPrimary"),
    (10107, "NotWritablePrimary"),
    (11600, "InterruptedAtShutdown"),
    (11602, "InterruptedDueToReplStateChange"),
    (13388, "StaleConfig"),
    (13435, "NotPrimaryNoSecondaryOk"),
    (13436, "NotPrimaryOrSecondary"),
    // Named only: codes of newer servers (MongoDB 9.0's limit on open transactions, overload).
    (-1, "TooManyOpenTransactions"),
    (-1, "SystemOverloaded"),
    (-1, "ServerOverloaded"),
    (-1, "AdmissionQueueOverflow"),
];

/// The class of `err`.
pub(crate) fn class_of(err: &mongodb::error::Error) -> Class {
    let codes: Vec<(i32, String)> = codes(err).collect();
    let codes: Vec<(i32, &str)> = codes.iter().map(|(code, name)| (*code, name.as_str())).collect();
    classify(origin(err), &codes, &labels(err))
}

/// The classification itself, over what the driver reported.
pub(crate) fn classify(origin: Origin, codes: &[(i32, &str)], labels: &HashSet<String>) -> Class {
    let has = |code: i32| codes.iter().any(|(c, _)| *c == code);
    if has(WRITE_CONFLICT) {
        return Class::WriteConflict;
    }
    if has(DUPLICATE_KEY) {
        return Class::DuplicateKey;
    }
    if origin == Origin::Network {
        return Class::Unavailable;
    }
    if has(MAX_TIME_MS_EXPIRED) {
        return Class::Refused;
    }
    let not_now = codes.iter().any(|(code, name)| {
        UNAVAILABLE.iter().any(|(known, known_name)| (*known == *code && *code >= 0) || *known_name == *name)
    });
    if not_now || UNAVAILABLE_LABELS.iter().any(|label| labels.contains(*label)) {
        return Class::Unavailable;
    }
    match origin {
        Origin::Server => Class::Refused,
        _ => Class::Client,
    }
}

fn origin(err: &mongodb::error::Error) -> Origin {
    match &*err.kind {
        ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::ServerSelection { .. }
        | ErrorKind::DnsResolve { .. } => Origin::Network,
        ErrorKind::Command(_) | ErrorKind::Write(_) | ErrorKind::InsertMany(_) | ErrorKind::BulkWrite(_) => {
            Origin::Server
        }
        _ => Origin::Client,
    }
}

/// The labels of the error and of the driver errors in its source chain.
fn labels(err: &mongodb::error::Error) -> HashSet<String> {
    driver_chain(err).flat_map(|e| e.labels().iter().cloned()).collect()
}

/// The error and the driver errors it was caused by.
fn driver_chain(err: &mongodb::error::Error) -> impl Iterator<Item = &mongodb::error::Error> {
    std::iter::successors(Some(err), |e| {
        std::error::Error::source(*e).and_then(|s| s.downcast_ref::<mongodb::error::Error>())
    })
}

/// Every server code (with its name) in the error and its source chain: the command's, each
/// write error's and write concern error's.
pub(crate) fn codes(err: &mongodb::error::Error) -> impl Iterator<Item = (i32, String)> + '_ {
    driver_chain(err).flat_map(|e| {
        let mut found: Vec<(i32, String)> = Vec::new();
        match &*e.kind {
            ErrorKind::Command(c) => found.push((c.code, c.code_name.clone())),
            ErrorKind::Write(WriteFailure::WriteError(w)) => {
                found.push((w.code, w.code_name.clone().unwrap_or_default()))
            }
            ErrorKind::Write(WriteFailure::WriteConcernError(w)) => found.push((w.code, w.code_name.clone())),
            ErrorKind::InsertMany(m) => {
                found
                    .extend(m.write_errors.iter().flatten().map(|w| (w.code, w.code_name.clone().unwrap_or_default())));
                found.extend(m.write_concern_error.iter().map(|w| (w.code, w.code_name.clone())));
            }
            ErrorKind::BulkWrite(b) => {
                found.extend(b.write_errors.values().map(|w| (w.code, w.code_name.clone().unwrap_or_default())));
                found.extend(b.write_concern_errors.iter().map(|w| (w.code, w.code_name.clone())));
            }
            _ => {}
        }
        found
    })
}

#[cfg(test)]
mod tests {
    use bson::doc;
    use mongodb::error::CommandError;

    use super::*;

    fn labels(names: &[&str]) -> HashSet<String> {
        names.iter().map(|l| (*l).to_owned()).collect()
    }

    fn server(code: i32, name: &str, with: &[&str]) -> Class {
        classify(Origin::Server, &[(code, name)], &labels(with))
    }

    #[test]
    fn a_lost_write_race_is_a_write_conflict_whatever_its_labels() {
        assert_eq!(server(112, "WriteConflict", &["TransientTransactionError"]), Class::WriteConflict);
        assert_eq!(server(112, "WriteConflict", &[]), Class::WriteConflict);
    }

    #[test]
    fn a_duplicate_key_is_its_own_class() {
        assert_eq!(server(11000, "DuplicateKey", &[]), Class::DuplicateKey);
    }

    #[test]
    fn no_answer_is_unavailable() {
        assert_eq!(classify(Origin::Network, &[], &labels(&[])), Class::Unavailable);
        // Even when the server's code would say otherwise: there was no usable answer.
        assert_eq!(classify(Origin::Network, &[(2, "BadValue")], &labels(&[])), Class::Unavailable);
    }

    #[test]
    fn retry_labels_are_unavailable() {
        for label in UNAVAILABLE_LABELS {
            assert_eq!(server(8, "UnknownError", &[label]), Class::Unavailable, "{label}");
        }
    }

    #[test]
    fn nodes_that_cannot_serve_now_are_unavailable() {
        for (code, name) in [
            (91, "ShutdownInProgress"),
            (189, "PrimarySteppedDown"),
            (10107, "NotWritablePrimary"),
            (11600, "InterruptedAtShutdown"),
            (13436, "NotPrimaryOrSecondary"),
            (262, "ExceededTimeLimit"),
            (462, "IngressRequestRateLimitExceeded"),
            (251, "NoSuchTransaction"),
        ] {
            assert_eq!(server(code, name, &[]), Class::Unavailable, "{name}");
        }
    }

    #[test]
    fn overload_answers_of_newer_servers_are_unavailable_by_name() {
        assert_eq!(server(9999, "TooManyOpenTransactions", &[]), Class::Unavailable);
        assert_eq!(server(9998, "SystemOverloaded", &[]), Class::Unavailable);
    }

    #[test]
    fn what_the_server_refuses_for_its_input_is_refused() {
        for (code, name) in [
            (9, "FailedToParse"),
            (2, "BadValue"),
            (121, "DocumentValidationFailure"),
            (10334, "BSONObjectTooLarge"),
            (51091, "Location51091"),
            (13, "Unauthorized"),
        ] {
            assert_eq!(server(code, name, &[]), Class::Refused, "{name}");
        }
    }

    #[test]
    fn max_time_ms_expired_is_refused_even_with_a_commit_label() {
        assert_eq!(server(50, "MaxTimeMSExpired", &["UnknownTransactionCommitResult"]), Class::Refused);
    }

    #[test]
    fn the_driver_failing_on_this_side_is_a_client_error() {
        assert_eq!(classify(Origin::Client, &[], &labels(&[])), Class::Client);
    }

    #[test]
    fn driver_errors_are_sorted_by_kind_and_code() {
        let command = |code: i32, name: &str| -> mongodb::error::Error {
            let error: CommandError =
                bson::deserialize_from_document(doc! { "code": code, "codeName": name, "errmsg": "no" }).unwrap();
            ErrorKind::Command(error).into()
        };
        assert_eq!(class_of(&command(112, "WriteConflict")), Class::WriteConflict);
        assert_eq!(class_of(&command(189, "PrimarySteppedDown")), Class::Unavailable);
        assert_eq!(class_of(&command(9, "FailedToParse")), Class::Refused);
        let io: mongodb::error::Error = std::io::Error::from(std::io::ErrorKind::ConnectionReset).into();
        assert_eq!(class_of(&io), Class::Unavailable);
        assert_eq!(class_of(&ErrorKind::Shutdown.into()), Class::Client);
    }
}
