//! # cqrs-mongo-nats
//!
//! A [`Publisher`] for the outbox relay that publishes to NATS JetStream.
//!
//! Each message goes to subject `<prefix>.<event_type>` with its message id as `Nats-Msg-Id`
//! and the relay waits for JetStream's acknowledgement before it records the message as
//! published. A relay that crashes after publishing and before recording publishes the
//! message again after its lease; JetStream recognises the id within the stream's duplicate
//! window (`duplicate_window`, two minutes by default) and stores it once, so consumers see
//! no duplicate. Keep the relay's lease well inside that window.
//!
//! The payload is the message's payload as relaxed Extended JSON; the other stored fields
//! travel as headers: `Cqrs-Message-Id` (the id again, for consumers: the server may not
//! deliver `Nats-Msg-Id`), `Cqrs-Event-Type`, `Cqrs-Aggregate-Id`, `Cqrs-Correlation-Id`,
//! `Cqrs-Causation-Id`, `Cqrs-Tenant-Id`, `traceparent`, and `Cqrs-Metadata` (the whole
//! metadata document as relaxed Extended JSON).
//!
//! A round is published as a batch: every message is sent first, then the acknowledgements
//! are awaited together, so a round costs one round trip rather than one per message.
//!
//! Failures are sorted for the relay: a server that cannot be reached (sending fails, no
//! acknowledgement in time, the connection breaks) is [`NatsPublishError::Unavailable`], and
//! the relay backs off without counting an attempt against the message; a message JetStream
//! refuses (no stream for its subject, an expectation that does not hold) is
//! [`NatsPublishError::Refused`], retried by the relay's policy and then parked.

use std::sync::atomic::{AtomicU64, Ordering};

use async_nats::HeaderMap;
use async_nats::jetstream::context::{Publish, PublishError, PublishErrorKind};
use async_nats::jetstream::{self};
use cqrs_mongo_persistence::outbox::{ClaimedMessage, Publisher};
use cqrs_mongo_persistence::runtime::Unavailable;

/// The package README's example, compiled as a doctest so that it keeps to the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Why a message was not published.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsPublishError {
    /// The server could not be reached: sending failed, no acknowledgement came in time, the
    /// connection broke. Its source is an [`Unavailable`], so the relay backs off and counts no
    /// attempt against the message.
    #[error("JetStream is unavailable for {subject}")]
    Unavailable {
        /// The subject.
        subject: String,
        /// The client's error, marked unavailable.
        #[source]
        source: Unavailable,
    },
    /// JetStream refused the message (no stream for its subject, an expectation that does not
    /// hold): the relay's retry policy applies.
    #[error("JetStream refused {subject}")]
    Refused {
        /// The subject.
        subject: String,
        /// The client's error.
        #[source]
        source: PublishError,
    },
}

impl NatsPublishError {
    fn unavailable(subject: &str, source: impl Into<cqrs_mongo_persistence::runtime::BoxError>) -> Self {
        NatsPublishError::Unavailable { subject: subject.to_owned(), source: Unavailable::new(source) }
    }

    /// A failed acknowledgement, sorted by its kind.
    fn of_ack(subject: &str, err: PublishError) -> Self {
        match err.kind() {
            PublishErrorKind::TimedOut | PublishErrorKind::BrokenPipe => NatsPublishError::unavailable(subject, err),
            _ => NatsPublishError::Refused { subject: subject.to_owned(), source: err },
        }
    }
}

/// Publishes outbox messages to JetStream; see the crate docs.
#[derive(Debug)]
pub struct JetStreamPublisher {
    context: jetstream::Context,
    prefix: String,
    duplicates: AtomicU64,
}

impl JetStreamPublisher {
    /// Publishes through `client` to subjects `<prefix>.<event_type>`.
    pub fn new(client: async_nats::Client, prefix: impl Into<String>) -> Self {
        JetStreamPublisher { context: jetstream::new(client), prefix: prefix.into(), duplicates: AtomicU64::new(0) }
    }

    /// Messages JetStream acknowledged as duplicates of one it already stored (published
    /// again after a relay crashed between publishing and recording).
    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    /// The subject of a message.
    pub fn subject(&self, message: &ClaimedMessage) -> String {
        format!("{}.{}", self.prefix, message.event_type)
    }

    fn publication(message: &ClaimedMessage) -> Publish {
        let mut headers = HeaderMap::new();
        headers.insert("Cqrs-Event-Type", message.event_type.as_str());
        headers.insert("Cqrs-Message-Id", message.message_id.as_str());
        let optional = [
            ("Cqrs-Aggregate-Id", &message.aggregate_id),
            ("Cqrs-Correlation-Id", &message.correlation_id),
            ("Cqrs-Causation-Id", &message.causation_id),
            ("Cqrs-Tenant-Id", &message.tenant_id),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                headers.insert(name, value.as_str());
            }
        }
        if let Ok(traceparent) = message.metadata.get_str(cqrs_mongo_persistence::telemetry::TRACEPARENT) {
            headers.insert("traceparent", traceparent);
        }
        let metadata = bson::Bson::Document(message.metadata.clone()).into_relaxed_extjson().to_string();
        headers.insert("Cqrs-Metadata", metadata.as_str());
        let payload = bson::Bson::Document(message.payload.clone()).into_relaxed_extjson().to_string();
        Publish::build().headers(headers).message_id(&message.message_id).payload(payload.into_bytes().into())
    }

    fn acknowledged(
        &self,
        subject: &str,
        ack: Result<jetstream::publish::PublishAck, jetstream::context::PublishError>,
    ) -> Result<(), NatsPublishError> {
        match ack {
            Ok(ack) => {
                if ack.duplicate {
                    self.duplicates.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }
            Err(err) => Err(NatsPublishError::of_ack(subject, err)),
        }
    }
}

impl Publisher for JetStreamPublisher {
    type Error = NatsPublishError;

    async fn publish(&self, message: &ClaimedMessage) -> Result<(), NatsPublishError> {
        let subject = self.subject(message);
        let sent = self.context.send_publish(subject.clone(), Self::publication(message)).await;
        let pending = sent.map_err(|err| NatsPublishError::unavailable(&subject, err))?;
        self.acknowledged(&subject, pending.await)
    }

    async fn publish_batch(&self, messages: &[ClaimedMessage]) -> Vec<Result<(), NatsPublishError>> {
        // Everything sent first, then the acknowledgements awaited together.
        let mut pending = Vec::with_capacity(messages.len());
        for message in messages {
            let subject = self.subject(message);
            let sent = self.context.send_publish(subject.clone(), Self::publication(message)).await;
            pending.push((subject, sent));
        }
        let mut outcomes = Vec::with_capacity(messages.len());
        for (subject, sent) in pending {
            outcomes.push(match sent {
                Ok(ack) => self.acknowledged(&subject, ack.await),
                Err(err) => Err(NatsPublishError::unavailable(&subject, err)),
            });
        }
        outcomes
    }
}
