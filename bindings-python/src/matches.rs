//! `matches` and `filter`: a spec compiled once and its filter evaluated in memory on documents
//! ([`Matcher`]). A document is a dict in Extended JSON holding the values `compile` reads
//! (`datetime`, `bson.Int64`, `ObjectId`, ...), converted to Extended JSON by the reader of
//! specs and then to BSON as the `bson` crate reads Extended JSON.

use bson::{Bson, Document};
use cqrs_mongo_spec::{Compiler, ErrorCode, EvalError, Matcher, PathSegment, SpecError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use serde_json::Value;

use crate::error::{self, Failure};
use crate::{Arg, convert, json_arg};

/// Documents with more values than this are evaluated with the GIL released.
const DETACH_ABOVE: usize = 2_000;

/// Whether `find` with the spec's filter would return the document.
pub(crate) fn matches(
    py: Python<'_>,
    compiler: &Compiler,
    spec: &Bound<'_, PyAny>,
    document: &Bound<'_, PyAny>,
) -> PyResult<bool> {
    let matcher = matcher(py, compiler, spec)?;
    let root = vec![PathSegment::Key("document".into())];
    let mut nodes = 0;
    let document = read(document, root, &mut nodes).map_err(|f| f.into_py(py))?;
    let verdict =
        if nodes > DETACH_ABOVE { py.detach(|| matcher.matches(&document)) } else { matcher.matches(&document) };
    verdict.map_err(|err| error::match_to_py(py, &err))
}

/// The documents (a list or tuple) the spec's filter keeps, in order: the very objects given.
pub(crate) fn filter<'py>(
    py: Python<'py>,
    compiler: &Compiler,
    spec: &Bound<'py, PyAny>,
    documents: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let matcher = matcher(py, compiler, spec)?;
    let items: Vec<Bound<'py, PyAny>> = if let Ok(list) = documents.cast::<PyList>() {
        list.iter().collect()
    } else if let Ok(tuple) = documents.cast::<PyTuple>() {
        tuple.iter().collect()
    } else {
        let kind = documents.get_type().name()?;
        let message = format!("documents must be a list or tuple of documents, got a {kind}");
        let err = SpecError::new(ErrorCode::InvalidValue, vec![PathSegment::Key("documents".into())], message);
        return Err(error::to_py(py, &err));
    };
    let mut nodes = 0;
    let mut read_all = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let path = vec![PathSegment::Key("documents".into()), PathSegment::Index(index)];
        read_all.push(read(item, path, &mut nodes).map_err(|f| f.into_py(py))?);
    }
    let keep =
        |docs: &[Document]| -> Result<Vec<bool>, EvalError> { docs.iter().map(|d| matcher.matches(d)).collect() };
    let kept = if nodes > DETACH_ABOVE { py.detach(|| keep(&read_all)) } else { keep(&read_all) };
    let kept = kept.map_err(|err| error::match_to_py(py, &err))?;
    let out = PyList::empty(py);
    for (item, keep) in items.iter().zip(kept) {
        if keep {
            out.append(item)?;
        }
    }
    Ok(out)
}

/// The spec compiled and its filter prepared for evaluation.
fn matcher(py: Python<'_>, compiler: &Compiler, spec: &Bound<'_, PyAny>) -> PyResult<Matcher> {
    let mut nodes = 0;
    let Some(spec) = json_arg(Some(spec), Arg::Spec(compiler), &mut nodes).map_err(|f| f.into_py(py))? else {
        return Err(error::to_py(py, &SpecError::new(ErrorCode::InvalidNode, Vec::new(), "the specification is None")));
    };
    let filter = compiler.compile(&spec).map_err(|err| error::to_py(py, &err))?;
    Matcher::new(&filter).map_err(|err| error::match_to_py(py, &err))
}

/// One document (a dict, at `path`) as BSON.
fn read(document: &Bound<'_, PyAny>, path: Vec<PathSegment>, nodes: &mut usize) -> Result<Document, Failure> {
    if !document.is_instance_of::<PyDict>() {
        let kind = document.get_type().name()?;
        return Err(Failure::Spec(SpecError::new(
            ErrorCode::InvalidValue,
            path,
            format!("a document is a dict, got a {kind}"),
        )));
    }
    let value = convert::document_to_json(document, path.clone(), nodes)?;
    Ok(to_document(value, path)?)
}

/// A document given as Extended JSON (canonical or relaxed, read as the `bson` crate reads it:
/// an integer is Int32, or Int64 beyond 32 bits, a fraction Double), at `path` for errors: a
/// malformed wrapper is `invalid_extended_json` at the path of its object.
fn to_document(value: Value, path: Vec<PathSegment>) -> Result<Document, SpecError> {
    match to_bson(value, &mut path.clone())? {
        Bson::Document(doc) => Ok(doc),
        _ => Err(SpecError::new(ErrorCode::InvalidValue, path, "a document is a dict")),
    }
}

fn to_bson(value: Value, path: &mut Vec<PathSegment>) -> Result<Bson, SpecError> {
    Ok(match value {
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                path.push(PathSegment::Index(index));
                out.push(to_bson(item, path)?);
                path.pop();
            }
            Bson::Array(out)
        }
        Value::Object(map) if map.keys().any(|key| key.starts_with('$')) => Bson::try_from(Value::Object(map))
            .map_err(|err| {
                let message = format!("malformed Extended JSON: {err}");
                SpecError::new(ErrorCode::InvalidExtendedJson, path.clone(), message)
            })?,
        Value::Object(map) => {
            let mut out = Document::new();
            for (key, item) in map {
                path.push(PathSegment::Key(key.clone()));
                out.insert(key, to_bson(item, path)?);
                path.pop();
            }
            Bson::Document(out)
        }
        scalar => Bson::try_from(scalar)
            .map_err(|err| SpecError::new(ErrorCode::InvalidValue, path.clone(), format!("not a BSON value: {err}")))?,
    })
}
