//! Running a compiled query (from `cqrs-mongo-spec`): its find plan, or its aggregation
//! pipeline when the options group (`distinct`, `group_by`), within a tenant scope, through the
//! unit of work's session when there is one.

use std::time::Duration;

use bson::Document;
use cqrs_mongo_spec::{CompiledQuery, QueryOptions};
use futures::{StreamExt, TryStreamExt};
use mongodb::action::Action;
use mongodb::options::FindOptions;
use mongodb::{ClientSession, Collection, SessionCursor};

use crate::error::Result;
use crate::store::tenancy::{self, Tenant};

/// The find options of a compiled query's plan: sort, skip, limit and projection.
pub(crate) fn find_options(query: &CompiledQuery, max_time: Option<Duration>) -> FindOptions {
    let mut options = FindOptions::default();
    options.max_time = max_time;
    options.sort = query.sort.clone();
    options.skip = query.skip;
    options.limit = query.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
    options.projection = query.projection.clone();
    options
}

/// The documents of `query`, compiled with `options`, within `tenant`'s scope.
pub(crate) async fn run(
    collection: &Collection<Document>,
    tenant: Option<&Tenant>,
    query: CompiledQuery,
    options: &QueryOptions,
    max_time: Option<Duration>,
    session: Option<&mut ClientSession>,
) -> Result<Vec<Document>> {
    if options.needs_aggregation() {
        let pipeline = query.pipeline.unwrap_or_default();
        let pipeline = match tenant {
            Some(tenant) => tenant.scope_pipeline(pipeline),
            None => pipeline,
        };
        let aggregate = collection.aggregate(pipeline).optional(max_time, |a, limit| a.max_time(limit));
        return match session {
            Some(session) => collect_in_session(aggregate.session(&mut *session).await?, session).await,
            None => Ok(aggregate.await?.try_collect().await?),
        };
    }
    let find =
        collection.find(tenancy::scoped(tenant, query.filter.clone())).with_options(find_options(&query, max_time));
    match session {
        Some(session) => collect_in_session(find.session(&mut *session).await?, session).await,
        None => Ok(find.await?.try_collect().await?),
    }
}

/// [`Error::Unsupported`](crate::Error::Unsupported) for query options that make rows other
/// than whole documents (`distinct` and `group_by` make groups, `select_fields` partial
/// documents), for `operation`, whose rows are `whole` (and `instead` is the call that takes
/// them).
pub(crate) fn refuse_reshaping(
    options: &QueryOptions,
    operation: &'static str,
    whole: &str,
    instead: &str,
) -> crate::error::Result<()> {
    let refuse = |option, what: &str| crate::error::Error::Unsupported {
        operation,
        option,
        reason: format!("{what}, not {whole}; use {instead}"),
    };
    // Grouping first: `distinct` comes with the fields it groups by.
    if options.distinct {
        return Err(refuse("distinct", "distinct produces groups"));
    }
    if !options.group_by.is_empty() {
        return Err(refuse("group_by", "group_by produces groups"));
    }
    if !options.select_fields.is_empty() {
        return Err(refuse("select_fields", "selected fields make partial documents"));
    }
    Ok(())
}

/// Every document of a cursor that reads through `session`.
pub(crate) async fn collect_in_session(
    mut cursor: SessionCursor<Document>,
    session: &mut ClientSession,
) -> Result<Vec<Document>> {
    let mut out = Vec::new();
    let mut stream = cursor.stream(session);
    while let Some(document) = stream.next().await {
        out.push(document?);
    }
    Ok(out)
}
