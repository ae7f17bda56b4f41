//! The compiled result: a find plan and the equivalent aggregation pipeline.

use bson::{Bson, Document, RawDocument, RawDocumentBuf, doc};

use crate::options::QueryOptions;
use crate::out::json::{ExtJsonFormat, write_bson_document};
use crate::values::int;

/// A compiled query.
///
/// `sort`, `skip`, `limit` and `projection` form the *find plan*; they are `None` when
/// `distinct` or `group_by` is used, because `find` cannot express those. `pipeline` is set
/// whenever options were given and is always equivalent to the whole query.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CompiledQuery {
    /// The filter document.
    pub filter: Document,
    /// `{field: 1 | -1}` in priority order.
    pub sort: Option<Document>,
    /// Documents to skip.
    pub skip: Option<u64>,
    /// Most documents to return.
    pub limit: Option<u64>,
    /// `{field: 1}` for each selected field.
    pub projection: Option<Document>,
    /// The aggregation pipeline equivalent to the query (present when options were given).
    pub pipeline: Option<Vec<Document>>,
}

impl CompiledQuery {
    /// A query with only a filter.
    pub fn filter_only(filter: Document) -> Self {
        CompiledQuery { filter, sort: None, skip: None, limit: None, projection: None, pipeline: None }
    }

    /// Builds the plan for already checked options.
    pub(crate) fn plan(filter: Document, options: &QueryOptions) -> Self {
        let sort = (!options.order_by.is_empty()).then(|| {
            let mut sort = Document::new();
            for key in &options.order_by {
                sort.insert(key.field.clone(), Bson::Int32(if key.descending { -1 } else { 1 }));
            }
            sort
        });
        let skip = options.offset.filter(|offset| *offset > 0);
        let limit = options.limit;
        let mut pipeline = vec![doc! { "$match": filter.clone() }];
        let tail = |pipeline: &mut Vec<Document>| {
            if let Some(sort) = &sort {
                pipeline.push(doc! { "$sort": sort.clone() });
            }
            if let Some(skip) = skip {
                pipeline.push(doc! { "$skip": count(skip) });
            }
            if let Some(limit) = limit {
                pipeline.push(doc! { "$limit": count(limit) });
            }
        };
        if options.needs_aggregation() {
            let grouping = !options.group_by.is_empty();
            let keys = if grouping { &options.group_by } else { &options.select_fields };
            let (group, project) = grouped(keys, &options.select_fields, grouping);
            pipeline.push(doc! { "$group": group });
            pipeline.push(doc! { "$project": project });
            tail(&mut pipeline);
            return CompiledQuery {
                filter,
                sort: None,
                skip: None,
                limit: None,
                projection: None,
                pipeline: Some(pipeline),
            };
        }
        let projection = (!options.select_fields.is_empty()).then(|| {
            let mut projection = Document::new();
            for field in &options.select_fields {
                projection.insert(field.clone(), Bson::Int32(1));
            }
            projection
        });
        tail(&mut pipeline);
        if let Some(projection) = &projection {
            pipeline.push(doc! { "$project": projection.clone() });
        }
        CompiledQuery { filter, sort, skip, limit, projection, pipeline: Some(pipeline) }
    }

    /// The whole result as one document: `filter`, then `sort`, `skip`, `limit`, `projection`
    /// and `pipeline` when present. Integers follow the pymongo rule (Int32 when they fit).
    pub fn to_document(&self) -> Document {
        let mut out = doc! { "filter": self.filter.clone() };
        if let Some(sort) = &self.sort {
            out.insert("sort", sort.clone());
        }
        if let Some(skip) = self.skip {
            out.insert("skip", count(skip));
        }
        if let Some(limit) = self.limit {
            out.insert("limit", count(limit));
        }
        if let Some(projection) = &self.projection {
            out.insert("projection", projection.clone());
        }
        if let Some(pipeline) = &self.pipeline {
            out.insert("pipeline", pipeline.iter().cloned().map(Bson::Document).collect::<Vec<_>>());
        }
        out
    }

    /// [`to_document`](Self::to_document) as Extended JSON text, written without building a
    /// `serde_json::Value` (several times faster than the methods below).
    pub fn to_extjson_string(&self, format: ExtJsonFormat) -> String {
        let mut out = Vec::with_capacity(1024);
        write_bson_document(&self.to_document(), format, &mut out);
        String::from_utf8(out).expect("the writer emits UTF-8")
    }

    /// [`to_document`](Self::to_document) as canonical Extended JSON (every type explicit).
    pub fn to_canonical_extjson(&self) -> serde_json::Value {
        Bson::Document(self.to_document()).into_canonical_extjson()
    }

    /// [`to_document`](Self::to_document) as relaxed Extended JSON (plain JSON numbers).
    pub fn to_relaxed_extjson(&self) -> serde_json::Value {
        Bson::Document(self.to_document()).into_relaxed_extjson()
    }
}

/// The one stage of the pipeline of a query without options, `{"$match": filter}`, from the
/// filter's BSON bytes (what [`Compiler::compile_raw`](crate::Compiler::compile_raw) returns).
///
/// ```
/// let filter = cqrs_mongo_spec::compile_raw(&serde_json::json!({"op": "=", "attr": "a", "val": 1})).unwrap();
/// let stage = bson::Document::try_from(cqrs_mongo_spec::match_stage(&filter)).unwrap();
/// assert_eq!(stage, bson::doc! {"$match": {"a": {"$eq": 1}}});
/// ```
pub fn match_stage(filter: &RawDocument) -> RawDocumentBuf {
    let mut stage = RawDocumentBuf::new();
    stage.append(bson::cstr!("$match"), filter);
    stage
}

fn count(value: u64) -> Bson {
    int(i64::try_from(value).unwrap_or(i64::MAX))
}

/// `$group` by positional keys `f0, f1, …` (dotted paths are not allowed as group keys) and the
/// `$project` that names them back; `count` per group when grouping.
fn grouped(keys: &[String], selected: &[String], with_count: bool) -> (Document, Document) {
    let mut id = Document::new();
    for (index, field) in keys.iter().enumerate() {
        id.insert(format!("f{index}"), format!("${field}"));
    }
    let mut group = doc! { "_id": id };
    if with_count {
        group.insert("count", doc! { "$sum": 1 });
    }
    let mut project = doc! { "_id": 0 };
    let output: Vec<&str> = if with_count && !selected.is_empty() {
        selected.iter().map(String::as_str).collect()
    } else {
        keys.iter().map(String::as_str).chain(with_count.then_some("count")).collect()
    };
    for field in output {
        match keys.iter().position(|key| key == field) {
            Some(index) => project.insert(field, format!("$_id.f{index}")),
            None => project.insert(field, 1),
        };
    }
    (group, project)
}
