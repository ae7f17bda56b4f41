//! The store itself: [`SagaRepository`](crate::SagaRepository).

use std::time::Duration;

use bson::{Bson, DateTime, Document, doc};
use mongodb::Collection;

use crate::error::{Error, Result, is_duplicate_key};
use crate::store::connection::Connection;
use crate::store::indexes::IndexSpec;
use crate::store::page::PageRequest;
use crate::store::tenancy::{self, TENANT_FIELD, Tenant};
use crate::store::uow::{Alone, On, collect_with_session, with_session};
use crate::store::version::Version;
use crate::telemetry::spans::traced;

/// The legacy collection.
pub const SAGAS: &str = "sagas";

/// Fields the store owns; a saga's own state cannot use these names.
const RESERVED: [&str; 9] =
    ["_id", "saga_type", "correlation_id", "status", "version", "created_at", "updated_at", "timeout_at", TENANT_FIELD];

/// A saga's status, stored as the legacy upper-case names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SagaStatus {
    /// Created, no step run yet.
    Pending,
    /// Steps are running.
    Running,
    /// Waiting for something outside (resumable).
    Suspended,
    /// Finished successfully (terminal).
    Completed,
    /// Failed for good (terminal).
    Failed,
    /// Undoing its steps.
    Compensating,
    /// Undone (terminal).
    Compensated,
}

impl SagaStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SagaStatus::Pending => "PENDING",
            SagaStatus::Running => "RUNNING",
            SagaStatus::Suspended => "SUSPENDED",
            SagaStatus::Completed => "COMPLETED",
            SagaStatus::Failed => "FAILED",
            SagaStatus::Compensating => "COMPENSATING",
            SagaStatus::Compensated => "COMPENSATED",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            SagaStatus::Pending,
            SagaStatus::Running,
            SagaStatus::Suspended,
            SagaStatus::Completed,
            SagaStatus::Failed,
            SagaStatus::Compensating,
            SagaStatus::Compensated,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// True for the statuses nothing leaves.
    pub fn is_terminal(self) -> bool {
        matches!(self, SagaStatus::Completed | SagaStatus::Failed | SagaStatus::Compensated)
    }

    /// The allowed changes: forward through the life cycle; `Suspended` back to `Running`
    /// (resume); compensation from any live status; nothing out of a terminal status.
    pub fn can_become(self, to: SagaStatus) -> bool {
        use SagaStatus::*;
        match self {
            Pending => matches!(to, Running | Suspended | Completed | Failed | Compensating),
            Running => matches!(to, Suspended | Completed | Failed | Compensating),
            Suspended => matches!(to, Running | Failed | Compensating),
            Compensating => matches!(to, Compensated | Failed),
            Completed | Failed | Compensated => false,
        }
    }
}

/// A saga as stored.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Saga {
    /// Saga id (`_id`).
    pub id: String,
    /// The saga's type (what the supervisor queries filter on).
    pub saga_type: String,
    /// The correlation id: unique per saga type (and tenant) when set. `None` for sagas
    /// without one (the legacy `SagaState` default, stored as null).
    pub correlation_id: Option<String>,
    /// The saga's own state, stored at the top level of the document as the legacy store did.
    pub state: Document,
    /// When the saga times out, if it does.
    pub timeout_at: Option<DateTime>,
    status: SagaStatus,
    version: Version,
    created_at: DateTime,
    updated_at: DateTime,
    tenant_id: Option<String>,
}

impl Saga {
    /// A new saga, `Pending`, not stored yet.
    pub fn new(
        id: impl Into<String>,
        saga_type: impl Into<String>,
        correlation_id: impl Into<String>,
        state: Document,
    ) -> Self {
        Saga { correlation_id: Some(correlation_id.into()), ..Saga::uncorrelated(id, saga_type, state) }
    }

    /// A new saga without a correlation id (any number of them may exist per type), `Pending`,
    /// not stored yet.
    pub fn uncorrelated(id: impl Into<String>, saga_type: impl Into<String>, state: Document) -> Self {
        Saga {
            id: id.into(),
            saga_type: saga_type.into(),
            correlation_id: None,
            state,
            timeout_at: None,
            status: SagaStatus::Pending,
            version: Version::new(0),
            created_at: DateTime::from_millis(0),
            updated_at: DateTime::from_millis(0),
            tenant_id: None,
        }
    }

    /// Sets the time-out.
    pub fn with_timeout_at(mut self, at: DateTime) -> Self {
        self.timeout_at = Some(at);
        self
    }

    /// The status.
    pub fn status(&self) -> SagaStatus {
        self.status
    }

    /// The stored version (0 before the first save; provisional inside a unit of work until it
    /// commits, see [`Version`]).
    pub fn version(&self) -> i64 {
        self.version.get()
    }

    /// When it was last saved (server-side write time).
    pub fn updated_at(&self) -> DateTime {
        self.updated_at
    }

    /// The tenant it belongs to (set by a [tenant-scoped](SagaRepository::for_tenant) store).
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant_id.as_deref()
    }

    /// Changes the status if the change is allowed; [`SagaRepository::save`] then stores it,
    /// guarded by the version, so the change is made from the status that is stored.
    pub fn transition(&mut self, to: SagaStatus) -> Result<()> {
        if !self.status.can_become(to) {
            return Err(Error::InvalidTransition {
                collection: SAGAS.into(),
                id: self.id.clone(),
                from: self.status.as_str().into(),
                to: to.as_str().into(),
            });
        }
        self.status = to;
        Ok(())
    }
}

/// What [`SagaRepository::start`] does when the saga type and correlation id are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfStarted {
    /// Return [`Error::AlreadyExists`].
    Error,
    /// Return the stored saga.
    ReturnExisting,
}

/// Saga state storage.
#[derive(Debug, Clone)]
pub struct SagaRepository {
    connection: Connection,
    collection: Collection<Document>,
    tenant: Option<Tenant>,
}

impl SagaRepository {
    /// The repository on the legacy collection.
    pub fn new(connection: &Connection) -> Self {
        SagaRepository {
            connection: connection.clone(),
            collection: connection.database().collection(SAGAS),
            tenant: None,
        }
    }

    /// This repository scoped to `tenant`: sagas it starts carry the tenant, a saga type and
    /// correlation id are unique within the tenant (two tenants may each run `Checkout/c-1`),
    /// every query sees only the tenant's sagas, and reading or saving another tenant's saga by
    /// id is [`Error::CrossTenant`].
    pub fn for_tenant(&self, tenant: &Tenant) -> Self {
        SagaRepository { tenant: Some(tenant.clone()), ..self.clone() }
    }

    fn scoped(&self, filter: Document) -> Document {
        tenancy::scoped(self.tenant.as_ref(), filter)
    }

    /// The cross-tenant error when saga `id` belongs to another tenant.
    async fn foreign(&self, id: &str) -> Result<Option<Error>> {
        tenancy::foreign(self.tenant.as_ref(), &self.collection, &Bson::String(id.into())).await
    }

    /// Unique `(saga_type, correlation_id)` per tenant for sagas that have a correlation id (a
    /// partial index: sagas whose `correlation_id` is null or missing, as the legacy package
    /// saves them by default, are not constrained), and the supervisor queries' indexes.
    pub fn indexes() -> Vec<IndexSpec> {
        vec![
            IndexSpec::new(SAGAS, doc! { "saga_type": 1, "correlation_id": 1, TENANT_FIELD: 1 })
                .unique()
                .partial(doc! { "correlation_id": { "$type": "string" } }),
            IndexSpec::new(SAGAS, doc! { "saga_type": 1, "status": 1, "updated_at": 1 }),
            IndexSpec::new(SAGAS, doc! { "saga_type": 1, "status": 1, "timeout_at": 1 }),
        ]
    }

    /// Stores a new saga. When one with the same type and correlation id exists, fails with
    /// [`Error::AlreadyExists`] or returns it, as `if_started` says.
    pub async fn start(&self, mut saga: Saga, if_started: IfStarted, on: impl Into<On<'_>>) -> Result<Saga> {
        let on = on.into();
        traced(SAGAS, "start", async {
            let fate = on.fate().cloned();
            saga.updated_at = self.connection.server_time().await?;
            saga.created_at = saga.updated_at;
            saga.tenant_id = self.tenant.as_ref().map(|t| t.id().to_owned());
            let document = to_document(&saga, 1)?;
            let insert = self.collection.insert_one(document);
            let inserted = match on.session().await.get() {
                Some(session) => insert.session(session).await,
                None => insert.await,
            };
            match inserted {
                Ok(_) => {
                    saga.version.advance(1, fate.as_ref());
                    Ok(saga)
                }
                Err(err) if is_duplicate_key(&err) => {
                    if let Some(cross) = self.foreign(&saga.id).await? {
                        return Err(cross);
                    }
                    let existing = match &saga.correlation_id {
                        Some(correlation_id) => {
                            self.find_by_correlation(&saga.saga_type, correlation_id, Alone).await?
                        }
                        None => None,
                    };
                    match (if_started, existing) {
                        (IfStarted::ReturnExisting, Some(existing)) => Ok(existing),
                        (_, existing) => Err(Error::AlreadyExists {
                            collection: SAGAS.into(),
                            key: match &saga.correlation_id {
                                Some(correlation_id) => format!("{}/{correlation_id}", saga.saga_type),
                                None => format!("saga {}", saga.id),
                            },
                            existing_id: existing.map_or(saga.id.clone(), |e| e.id),
                        }),
                    }
                }
                Err(err) => Err(err.into()),
            }
        })
        .await
    }

    /// Saves the saga (replacing the stored document) if nobody saved it since it was loaded
    /// (else [`Error::Concurrency`]); bumps its version.
    pub async fn save(&self, saga: &mut Saga, on: impl Into<On<'_>>) -> Result<()> {
        let on = on.into();
        traced(SAGAS, "save", async {
            let fate = on.fate().cloned();
            let now = self.connection.server_time().await?;
            let expected = saga.version();
            let mut next = saga.clone();
            next.updated_at = now;
            let mut document = to_document(&next, expected + 1)?;
            if let Some(tenant) = &self.tenant {
                tenant.stamp(SAGAS, &mut document)?;
            }
            let filter = self.scoped(doc! { "_id": saga.id.as_str(), "version": expected });
            let action = self.collection.replace_one(filter, document);
            let result = match on.session().await.get() {
                Some(session) => action.session(session).await?,
                None => action.await?,
            };
            if result.matched_count == 0 {
                if let Some(cross) = self.foreign(&saga.id).await? {
                    return Err(cross);
                }
                let actual = self.get(&saga.id, Alone).await?.map(|s| s.version());
                return Err(Error::Concurrency { collection: SAGAS.into(), id: saga.id.clone(), expected, actual });
            }
            saga.updated_at = now;
            saga.version.advance(expected + 1, fate.as_ref());
            Ok(())
        })
        .await
    }

    /// The saga with this id, read in `on`.
    pub async fn get(&self, id: &str, on: impl Into<On<'_>>) -> Result<Option<Saga>> {
        let on = on.into();
        let found = with_session!(self.collection.find_one(self.scoped(doc! { "_id": id })), on)?;
        if found.is_none()
            && let Some(cross) = self.foreign(id).await?
        {
            return Err(cross);
        }
        found.map(from_document).transpose()
    }

    /// The saga of this type with this correlation id, read in `on`.
    pub async fn find_by_correlation(
        &self,
        saga_type: &str,
        correlation_id: &str,
        on: impl Into<On<'_>>,
    ) -> Result<Option<Saga>> {
        let on = on.into();
        let filter = self.scoped(doc! { "saga_type": saga_type, "correlation_id": correlation_id });
        with_session!(self.collection.find_one(filter), on)?.map(from_document).transpose()
    }

    /// Running sagas of `saga_type` not saved for longer than `idle` (server clock), least
    /// recently saved first, read in `on`.
    pub async fn stalled(
        &self,
        saga_type: &str,
        idle: Duration,
        page: PageRequest,
        on: impl Into<On<'_>>,
    ) -> Result<Vec<Saga>> {
        let now = self.connection.server_time().await?;
        let before = DateTime::from_millis(now.timestamp_millis() - idle.as_millis() as i64);
        let filter = doc! { "saga_type": saga_type, "status": "RUNNING", "updated_at": { "$lt": before } };
        self.query(filter, doc! { "updated_at": 1, "_id": 1 }, page, on.into()).await
    }

    /// Suspended sagas of `saga_type`, least recently saved first, read in `on`.
    pub async fn suspended(&self, saga_type: &str, page: PageRequest, on: impl Into<On<'_>>) -> Result<Vec<Saga>> {
        let filter = doc! { "saga_type": saga_type, "status": "SUSPENDED" };
        self.query(filter, doc! { "updated_at": 1, "_id": 1 }, page, on.into()).await
    }

    /// Live (not terminal) sagas of `saga_type` whose time-out has passed (server clock),
    /// earliest time-out first, read in `on`.
    pub async fn timed_out(&self, saga_type: &str, page: PageRequest, on: impl Into<On<'_>>) -> Result<Vec<Saga>> {
        let now = self.connection.server_time().await?;
        let live: Vec<&str> = ["PENDING", "RUNNING", "SUSPENDED", "COMPENSATING"].to_vec();
        let filter = doc! { "saga_type": saga_type, "status": { "$in": live }, "timeout_at": { "$lte": now } };
        self.query(filter, doc! { "timeout_at": 1, "_id": 1 }, page, on.into()).await
    }

    async fn query(&self, filter: Document, sort: Document, page: PageRequest, on: On<'_>) -> Result<Vec<Saga>> {
        Error::at_least_one("SagaRepository", "page.limit", page.limit)?;
        let find = self.collection.find(self.scoped(filter)).sort(sort).skip(page.skip).limit(page.limit);
        let found: Vec<Document> = collect_with_session!(find, on)?;
        found.into_iter().map(from_document).collect()
    }
}

/// The stored document of `saga` at `version`.
fn to_document(saga: &Saga, version: i64) -> Result<Document> {
    if let Some(key) = saga.state.keys().find(|k| RESERVED.contains(&k.as_str())) {
        return Err(Error::InvalidArgument {
            operation: "SagaRepository::save",
            argument: "state",
            message: format!("saga {}: the state field {key:?} is a name the saga store owns", saga.id),
        });
    }
    let mut document = doc! {
        "_id": saga.id.as_str(),
        "saga_type": saga.saga_type.as_str(),
        // Null when there is none, as the legacy package stores it.
        "correlation_id": saga.correlation_id.as_deref(),
        "status": saga.status.as_str(),
        "version": version,
        "created_at": saga.created_at,
        "updated_at": saga.updated_at,
        // Null when there is none, as the legacy package stores it.
        "timeout_at": saga.timeout_at,
    };
    if let Some(tenant) = &saga.tenant_id {
        document.insert(TENANT_FIELD, tenant.as_str());
    }
    document.extend(saga.state.clone());
    Ok(document)
}

fn from_document(mut document: Document) -> Result<Saga> {
    let mut text = |key: &str| match document.remove(key) {
        Some(Bson::String(value)) => Ok(value),
        other => Err(Error::InvalidDocument {
            collection: SAGAS.into(),
            id: String::new(),
            problem: format!("{key} is {other:?}, not a string"),
        }),
    };
    let (id, saga_type, status) = (text("_id")?, text("saga_type")?, text("status")?);
    let correlation_id = match document.remove("correlation_id") {
        Some(Bson::String(value)) => Some(value),
        None | Some(Bson::Null) => None,
        Some(other) => {
            return Err(Error::InvalidDocument {
                collection: SAGAS.into(),
                id,
                problem: format!("correlation_id is {other:?}, not a string or null"),
            });
        }
    };
    let Some(status) = SagaStatus::parse(&status) else {
        return Err(Error::InvalidDocument {
            collection: SAGAS.into(),
            id,
            problem: format!("unknown status {status:?}"),
        });
    };
    let version = crate::store::fields::int(document.remove("version").as_ref());
    let date = |value: Option<Bson>| match value {
        Some(Bson::DateTime(at)) => Some(at),
        _ => None,
    };
    let updated_at = date(document.remove("updated_at")).unwrap_or(DateTime::from_millis(0));
    let created_at = date(document.remove("created_at")).unwrap_or(updated_at);
    let timeout_at = date(document.remove("timeout_at"));
    let tenant_id = match document.remove(TENANT_FIELD) {
        Some(Bson::String(tenant)) => Some(tenant),
        _ => None,
    };
    let version = Version::new(version);
    Ok(Saga {
        id,
        saga_type,
        correlation_id,
        state: document,
        timeout_at,
        status,
        version,
        created_at,
        updated_at,
        tenant_id,
    })
}
