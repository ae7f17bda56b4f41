//! `Compiler`: the settings prepared once (the field schema's index, the operator sets, the
//! regex policy), then any number of compiles, like Rust's `Compiler::new` and jsonschema's
//! `Validator`. The module's functions are shortcuts that build one per call.

use cqrs_mongo_spec::{Compiler, ErrorCode, ExtJsonFormat, PathSegment, SpecError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde_json::Value;

use crate::error::{self, Failure};
use crate::matches::{self, PyMatcher};
use crate::{Arg, PyCompiledQuery, build_compiler, json_arg, run, text_arg};

/// A compiler prepared from its settings (refused settings raise `SpecError` here, with
/// `invalid_option` at `settings.<name>`). Immutable, so one instance serves every thread.
#[pyclass(frozen, module = "cqrs_mongo_spec._native", name = "Compiler")]
pub(crate) struct PyCompiler {
    inner: Compiler,
}

#[pymethods]
impl PyCompiler {
    #[new]
    #[pyo3(signature = (settings=None))]
    fn new(py: Python<'_>, settings: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        build_compiler(settings).map(|inner| PyCompiler { inner }).map_err(|f| f.into_py(py))
    }

    /// Compiles a spec (dict/list/… or JSON text) and optional options (dict or JSON text).
    #[pyo3(signature = (spec, options=None))]
    fn compile(
        &self,
        py: Python<'_>,
        spec: &Bound<'_, PyAny>,
        options: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyCompiledQuery> {
        run(py, &self.inner, spec, options).map_err(|f| f.into_py(py))
    }

    /// JSON text in, canonical Extended JSON text out.
    #[pyo3(signature = (spec_json, options_json=None))]
    fn compile_json(
        &self,
        py: Python<'_>,
        spec_json: &Bound<'_, PyAny>,
        options_json: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let run = || -> Result<String, Failure> {
            let mut nodes = 0;
            let spec = text_arg(Some(spec_json), Arg::Spec(&self.inner), &mut nodes)?.ok_or_else(|| {
                let message = "expected JSON text (a str), got None";
                Failure::Spec(SpecError::new(ErrorCode::InvalidJson, Vec::new(), message))
            })?;
            let options = text_arg(options_json, Arg::Options(&self.inner), &mut nodes)?;
            Ok(self.inner.compile_query_extjson(&spec, options.as_ref(), ExtJsonFormat::Canonical)?)
        };
        run().map_err(|f| f.into_py(py))
    }

    /// Every error of a spec and its options as `{"code", "path", "message"}` dicts.
    #[pyo3(signature = (spec, options=None))]
    fn validate<'py>(
        &self,
        py: Python<'py>,
        spec: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut nodes = 0;
        let parsed = (|| -> Result<(Option<Value>, Option<Value>), Failure> {
            Ok((
                json_arg(Some(spec), Arg::Spec(&self.inner), &mut nodes)?,
                json_arg(options, Arg::Options(&self.inner), &mut nodes)?,
            ))
        })();
        let errors = match parsed {
            Ok((Some(spec), options)) => self.inner.validate_query(&spec, options.as_ref()),
            Ok((None, _)) => vec![SpecError::new(ErrorCode::InvalidNode, Vec::new(), "the specification is None")],
            Err(Failure::Spec(err) | Failure::Raised(err, _)) => vec![err],
            Err(Failure::Python(err)) => return Err(err),
        };
        let list = PyList::empty(py);
        for err in &errors {
            list.append(error::to_dict(py, err)?)?;
        }
        Ok(list)
    }

    /// Whether `find` with the spec's filter would return the document (a dict), evaluated in
    /// memory.
    fn matches(&self, py: Python<'_>, spec: &Bound<'_, PyAny>, document: &Bound<'_, PyAny>) -> PyResult<bool> {
        matches::matcher(py, &self.inner, spec)?.matches(py, document)
    }

    /// The documents (a list or tuple of dicts) the spec's filter keeps, in order.
    fn filter<'py>(
        &self,
        py: Python<'py>,
        spec: &Bound<'py, PyAny>,
        documents: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        matches::matcher(py, &self.inner, spec)?.filter(py, documents)
    }

    /// The spec compiled and its filter prepared once, for any number of documents.
    fn matcher(&self, py: Python<'_>, spec: &Bound<'_, PyAny>) -> PyResult<PyMatcher> {
        matches::matcher(py, &self.inner, spec)
    }

    /// The compiler's field schema as react-querybuilder's `fields` (JSON text); a compiler
    /// without a schema is `invalid_option` at `settings.schema`.
    fn querybuilder_fields_json(&self, py: Python<'_>) -> PyResult<String> {
        match &self.inner.config().schema {
            Some(schema) => Ok(schema.querybuilder_fields().to_string()),
            None => {
                let path = vec![PathSegment::Key("settings".into()), PathSegment::Key("schema".into())];
                let err = SpecError::new(ErrorCode::InvalidOption, path, "this compiler has no field schema");
                Err(error::to_py(py, &err))
            }
        }
    }
}
