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

use std::sync::atomic::{AtomicU64, Ordering};

use async_nats::HeaderMap;
use async_nats::jetstream::{self, context::Publish};
use cqrs_mongo_persistence::{ClaimedMessage, Publisher};

/// Why a message was not published.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsPublishError {
    /// Sending to the server failed.
    #[error("cannot publish to {subject}: {message}")]
    Send {
        /// The subject.
        subject: String,
        /// The client's error.
        message: String,
    },
    /// JetStream did not acknowledge the message (no stream for the subject, a timeout).
    #[error("no acknowledgement for {subject}: {message}")]
    Ack {
        /// The subject.
        subject: String,
        /// The client's error.
        message: String,
    },
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
            Err(err) => Err(NatsPublishError::Ack { subject: subject.to_owned(), message: err.to_string() }),
        }
    }
}

impl Publisher for JetStreamPublisher {
    type Error = NatsPublishError;

    async fn publish(&self, message: &ClaimedMessage) -> Result<(), NatsPublishError> {
        let subject = self.subject(message);
        let sent = self.context.send_publish(subject.clone(), Self::publication(message)).await;
        let pending =
            sent.map_err(|err| NatsPublishError::Send { subject: subject.clone(), message: err.to_string() })?;
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
                Err(err) => Err(NatsPublishError::Send { subject, message: err.to_string() }),
            });
        }
        outcomes
    }
}
