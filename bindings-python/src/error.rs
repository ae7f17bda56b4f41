//! `SpecError(ValueError)` with `.code` and `.path`, raised for every specification error, and
//! `DecompileError(ValueError)` for a filter `decompile` cannot turn into a specification.

use cqrs_mongo_spec::DecompileError as CoreDecompileError;
use cqrs_mongo_spec::EvalError;
use cqrs_mongo_spec::SpecError as CoreError;
use cqrs_mongo_spec::{DecompileErrorCode, ErrorCode, PathSegment};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

create_exception!(
    cqrs_mongo_spec,
    SpecError,
    PyValueError,
    "A specification error: `code` is stable across Rust, JS and Python; `path` points at the node."
);

create_exception!(
    cqrs_mongo_spec,
    DecompileError,
    PyValueError,
    "A filter that cannot be turned into a specification: `code` is stable across Rust, JS and \
     Python; `path` points into the filter."
);

create_exception!(
    cqrs_mongo_spec,
    MatchError,
    PyValueError,
    "A compiled filter that cannot be evaluated in memory (`needs_server` for a text search, a \
     regular expression the matcher refuses or that runs out of steps): `code` is stable across \
     Rust, JS and Python; `path` points into the compiled filter."
);

/// A spec problem; a spec problem caused by an exception the input raised while it was read
/// (kept as the `SpecError`'s `__cause__`); or a Python exception to pass on as it is.
pub(crate) enum Failure {
    Spec(CoreError),
    Raised(CoreError, PyErr),
    Python(PyErr),
}

impl From<CoreError> for Failure {
    fn from(err: CoreError) -> Self {
        Failure::Spec(err)
    }
}

impl From<PyErr> for Failure {
    fn from(err: PyErr) -> Self {
        Failure::Python(err)
    }
}

impl Failure {
    pub(crate) fn into_py(self, py: Python<'_>) -> PyErr {
        match self {
            Failure::Python(err) => err,
            Failure::Spec(err) => to_py(py, &err),
            Failure::Raised(err, cause) => {
                let exception = to_py(py, &err);
                exception.set_cause(py, Some(cause));
                exception
            }
        }
    }
}

impl Failure {
    /// A failure to read a *filter* as the `DecompileError` the decompiler reports for the same
    /// problem in JSON text: `invalid_json` and `too_deep` keep their code, anything else the
    /// value reader refuses (a non-`str` key, an integer beyond Int64, a type JSON cannot hold) is
    /// `invalid_filter`, at the same path.
    pub(crate) fn into_decompile_py(self, py: Python<'_>) -> PyErr {
        let as_decompile = |err: &CoreError| {
            let code = match err.code() {
                ErrorCode::InvalidJson => DecompileErrorCode::InvalidJson,
                ErrorCode::TooDeep => DecompileErrorCode::TooDeep,
                _ => DecompileErrorCode::InvalidFilter,
            };
            decompile_to_py(py, &CoreDecompileError::new(code, err.path().to_vec(), err.message()))
        };
        match self {
            Failure::Python(err) => err,
            Failure::Spec(err) => as_decompile(&err),
            Failure::Raised(err, cause) => {
                let exception = as_decompile(&err);
                exception.set_cause(py, Some(cause));
                exception
            }
        }
    }
}

/// A `DecompileError` exception instance with `code` and `path` (into the filter) set.
pub(crate) fn decompile_to_py(py: Python<'_>, err: &CoreDecompileError) -> PyErr {
    let exception = DecompileError::new_err(err.to_string());
    let value = exception.value(py);
    let _ = value.setattr("code", err.code().as_str());
    if let Ok(path) = path_list(py, err.path()) {
        let _ = value.setattr("path", path);
    }
    exception
}

/// A `MatchError` exception instance with `code` and `path` (into the compiled filter) set.
pub(crate) fn match_to_py(py: Python<'_>, err: &EvalError) -> PyErr {
    let exception = MatchError::new_err(err.to_string());
    let value = exception.value(py);
    let _ = value.setattr("code", err.code().as_str());
    if let Ok(path) = path_list(py, err.path()) {
        let _ = value.setattr("path", path);
    }
    exception
}

/// The path as a Python list of `str` and `int`.
pub(crate) fn path_list<'py>(py: Python<'py>, path: &[PathSegment]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for segment in path {
        match segment {
            PathSegment::Key(key) => list.append(key)?,
            PathSegment::Index(index) => list.append(index)?,
        }
    }
    Ok(list)
}

/// A `SpecError` exception instance with `code` and `path` set.
pub(crate) fn to_py(py: Python<'_>, err: &CoreError) -> PyErr {
    let exception = SpecError::new_err(err.to_string());
    let value = exception.value(py);
    let _ = value.setattr("code", err.code().as_str());
    if let Ok(path) = path_list(py, err.path()) {
        let _ = value.setattr("path", path);
    }
    exception
}

/// `{"code", "path", "message"}` for `validate`.
pub(crate) fn to_dict<'py>(py: Python<'py>, err: &CoreError) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("code", err.code().as_str())?;
    dict.set_item("path", path_list(py, err.path())?)?;
    dict.set_item("message", err.message())?;
    Ok(dict)
}
