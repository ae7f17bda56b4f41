//! `matches` and `filter`: a spec compiled once and its filter evaluated in memory on documents
//! ([`Matcher`]), per call (`Compiler.matches`, `Compiler.filter`) or prepared once
//! (`Compiler.matcher` → the `Matcher` class). A document is a dict in Extended JSON holding the
//! values `compile` reads (`datetime`, `bson.Int64`, `ObjectId`, ...), converted to Extended
//! JSON by the reader of specs and then to BSON by the core's reader
//! ([`cqrs_mongo_spec::bson_from_json`]).

use bson::{Bson, Document};
use cqrs_mongo_spec::{Compiler, ErrorCode, EvalError, Matcher, PathSegment, SpecError, bson_from_json};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::error::{self, Failure};
use crate::{Arg, convert, json_arg};

/// Documents with more values than this are evaluated with the GIL released.
const DETACH_ABOVE: usize = 2_000;

/// A spec's filter prepared once (made by `Compiler.matcher`): `matches(document)` and
/// `filter(documents)` read only the documents. Immutable, so one instance serves every thread.
#[pyclass(frozen, module = "cqrs_mongo_spec._native", name = "Matcher")]
pub(crate) struct PyMatcher {
    inner: Matcher,
    /// The top-level fields the filter reads ([`Matcher::fields`], sorted), `None` for any: the
    /// other values of a document are not converted.
    fields: Option<Vec<String>>,
}

#[pymethods]
impl PyMatcher {
    /// Whether `find` with the filter would return the document (a dict).
    pub(crate) fn matches(&self, py: Python<'_>, document: &Bound<'_, PyAny>) -> PyResult<bool> {
        let root = vec![PathSegment::Key("document".into())];
        let mut nodes = 0;
        let document = read(document, root, &mut nodes, self.fields.as_deref()).map_err(|f| f.into_py(py))?;
        let matcher = &self.inner;
        let verdict =
            if nodes > DETACH_ABOVE { py.detach(|| matcher.matches(&document)) } else { matcher.matches(&document) };
        verdict.map_err(|err| error::match_to_py(py, &err))
    }

    /// The documents (a list or tuple of dicts) the filter keeps, in order: the very objects
    /// given.
    pub(crate) fn filter<'py>(&self, py: Python<'py>, documents: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
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
            read_all.push(read(item, path, &mut nodes, self.fields.as_deref()).map_err(|f| f.into_py(py))?);
        }
        let matcher = &self.inner;
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
}

/// The spec compiled and its filter prepared for evaluation.
pub(crate) fn matcher(py: Python<'_>, compiler: &Compiler, spec: &Bound<'_, PyAny>) -> PyResult<PyMatcher> {
    let mut nodes = 0;
    let Some(spec) = json_arg(Some(spec), Arg::Spec(compiler), &mut nodes).map_err(|f| f.into_py(py))? else {
        return Err(error::to_py(py, &SpecError::new(ErrorCode::InvalidNode, Vec::new(), "the specification is None")));
    };
    let filter = compiler.compile(&spec).map_err(|err| error::to_py(py, &err))?;
    let inner = Matcher::new(&filter).map_err(|err| error::match_to_py(py, &err))?;
    let fields = inner.fields().map(|fields| fields.into_iter().map(str::to_owned).collect());
    Ok(PyMatcher { inner, fields })
}

/// One document (a dict, at `path`) as BSON: of its top-level keys, only those in `keep` (and
/// `$` keys), when given.
fn read(
    document: &Bound<'_, PyAny>,
    path: Vec<PathSegment>,
    nodes: &mut usize,
    keep: Option<&[String]>,
) -> Result<Document, Failure> {
    if !document.is_instance_of::<PyDict>() {
        let kind = document.get_type().name()?;
        return Err(Failure::Spec(SpecError::new(
            ErrorCode::InvalidValue,
            path,
            format!("a document is a dict, got a {kind}"),
        )));
    }
    let value = convert::document_to_json(document, path.clone(), nodes, keep)?;
    match bson_from_json(&value) {
        Ok(Bson::Document(document)) => Ok(document),
        Ok(_) => Err(Failure::Spec(SpecError::new(ErrorCode::InvalidValue, path, "a document is a dict"))),
        Err(err) => {
            let at = path.into_iter().chain(err.path().iter().cloned()).collect();
            Err(Failure::Spec(SpecError::new(err.code(), at, err.message())))
        }
    }
}
