//! Python bindings of `cqrs-mongo-spec` (the private module `cqrs_mongo_spec._native`). No
//! compiler logic lives here: only argument conversion (`convert`), results and errors
//! (`error`); `compiler`, `decompile` and `matches` hold the exports. The public API is the small Python
//! package around it.
#![forbid(unsafe_code)]

mod compiler;
mod convert;
mod decompile;
mod error;
mod matches;

use bson::{Document, RawDocumentBuf};
use cqrs_mongo_spec::{
    CompiledQuery, Compiler, CompilerConfig, ErrorCode, PathSegment, SpecError, match_stage, parse_options_json,
    parse_options_json_utf16,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString};
use serde_json::Value;

use crate::error::Failure;

/// Specs with more values than this are compiled with the GIL released.
const DETACH_ABOVE: usize = 2_000;

/// The compiler for the settings, handed to the core as one object
/// ([`CompilerConfig::from_settings`]): every problem, including settings the core refuses
/// ([`Compiler::try_new`]), is `invalid_option` at its key.
pub(crate) fn build_compiler(settings: Option<&Bound<'_, PyDict>>) -> Result<Compiler, Failure> {
    let Some(settings) = settings.filter(|s| !s.is_empty()) else {
        return Ok(Compiler::default());
    };
    let mut nodes = 0;
    let value =
        convert::to_json(settings.as_any(), Some("settings"), &mut nodes, usize::MAX).map_err(
            |failure| match failure {
                Failure::Spec(err) => {
                    Failure::Spec(SpecError::new(ErrorCode::InvalidOption, err.path().to_vec(), err.message()))
                }
                other => other,
            },
        )?;
    Compiler::try_new(CompilerConfig::from_settings(&value)?).map_err(|err| {
        let path = vec![PathSegment::Key("settings".into()), PathSegment::Key(err.setting().into())];
        Failure::Spec(SpecError::new(ErrorCode::InvalidOption, path, err.to_string()))
    })
}

/// Which argument a JSON text is: the spec (parsed by its compiler, which refuses oversized
/// text before parsing it), the options (below `options`, with the compiler's list limit) or
/// another one, below its root key.
#[derive(Clone, Copy)]
pub(crate) enum Arg<'c> {
    Spec(&'c Compiler),
    Options(&'c Compiler),
    Other(&'static str),
}

impl Arg<'_> {
    fn root(self) -> Option<&'static str> {
        match self {
            Arg::Spec(_) => None,
            Arg::Options(_) => Some("options"),
            Arg::Other(root) => Some(root),
        }
    }
}

/// A spec or options argument: JSON text or a Python value; `None` stays `None`.
pub(crate) fn json_arg(
    value: Option<&Bound<'_, PyAny>>,
    arg: Arg<'_>,
    nodes: &mut usize,
) -> Result<Option<Value>, Failure> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if let Ok(text) = value.cast::<PyString>() {
        return json_text(text, arg, nodes).map(Some);
    }
    let max_len = match arg {
        Arg::Spec(compiler) | Arg::Options(compiler) => convert::list_limit(compiler),
        Arg::Other(_) => usize::MAX,
    };
    convert::to_json(value, arg.root(), nodes, max_len).map(Some)
}

/// Parses JSON text; a `str` with lone surrogates (not valid UTF-8) goes in as UTF-16 code units,
/// so they are reported where they are.
fn json_text(text: &Bound<'_, PyString>, arg: Arg<'_>, nodes: &mut usize) -> Result<Value, Failure> {
    let parsed = match text.to_str() {
        Ok(text) => {
            *nodes += text.len() / 16;
            match arg {
                Arg::Spec(compiler) => compiler.parse_spec_json(text),
                Arg::Options(_) | Arg::Other(_) => parse_options_json(text),
            }
        }
        Err(_) => {
            let units = convert::utf16_units(text)?;
            match arg {
                Arg::Spec(compiler) => compiler.parse_spec_json_utf16(&units),
                Arg::Options(_) | Arg::Other(_) => parse_options_json_utf16(&units),
            }
        }
    };
    parsed.map_err(Failure::Spec)
}

/// A `compile_json` argument: JSON text only (anything else is `invalid_json`).
pub(crate) fn text_arg(
    value: Option<&Bound<'_, PyAny>>,
    arg: Arg<'_>,
    nodes: &mut usize,
) -> Result<Option<Value>, Failure> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    match value.cast::<PyString>() {
        Ok(text) => json_text(text, arg, nodes).map(Some),
        Err(_) => {
            let path = arg.root().map(|r| vec![PathSegment::Key(r.to_owned())]).unwrap_or_default();
            let message = "expected JSON text (a str); use compile for dicts";
            Err(Failure::Spec(SpecError::new(ErrorCode::InvalidJson, path, message)))
        }
    }
}

/// A compiled query: the find plan (`filter`, `sort`, `skip`, `limit`, `projection`) and the
/// equivalent aggregation `pipeline` (just the `$match` stage when no options were given).
#[pyclass(frozen, module = "cqrs_mongo_spec", name = "CompiledQuery")]
pub(crate) struct PyCompiledQuery {
    #[pyo3(get)]
    filter: Py<PyAny>,
    #[pyo3(get)]
    sort: Option<Py<PyAny>>,
    #[pyo3(get)]
    skip: Option<u64>,
    #[pyo3(get)]
    limit: Option<u64>,
    #[pyo3(get)]
    projection: Option<Py<PyAny>>,
    /// Without options the pipeline is `[{"$match": filter}]`, built from the filter's bytes on
    /// first access (most callers only use the find plan); with options it is built at once.
    pipeline_source: Option<RawDocumentBuf>,
    pipeline: PyOnceLock<Py<PyAny>>,
}

#[pymethods]
impl PyCompiledQuery {
    /// The aggregation pipeline equivalent to the whole query.
    #[getter]
    fn pipeline(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.pipeline
            .get_or_try_init(py, || {
                let filter = self.pipeline_source.as_ref().ok_or_else(|| PyValueError::new_err("no pipeline"))?;
                let stage = convert::document_to_python(py, &match_stage(filter), convert::classes(py)?)?;
                Ok::<_, PyErr>(PyList::new(py, [stage])?.into_any().unbind())
            })
            .map(|p| p.clone_ref(py))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut parts = vec![format!("filter={}", self.filter.bind(py).repr()?)];
        if let Some(sort) = &self.sort {
            parts.push(format!("sort={}", sort.bind(py).repr()?));
        }
        if let Some(skip) = self.skip {
            parts.push(format!("skip={skip}"));
        }
        if let Some(limit) = self.limit {
            parts.push(format!("limit={limit}"));
        }
        if let Some(projection) = &self.projection {
            parts.push(format!("projection={}", projection.bind(py).repr()?));
        }
        Ok(format!("CompiledQuery({})", parts.join(", ")))
    }

    /// The result as a dict with the keys that are set.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        dict.set_item("filter", &self.filter)?;
        if let Some(sort) = &self.sort {
            dict.set_item("sort", sort)?;
        }
        if let Some(skip) = self.skip {
            dict.set_item("skip", skip)?;
        }
        if let Some(limit) = self.limit {
            dict.set_item("limit", limit)?;
        }
        if let Some(projection) = &self.projection {
            dict.set_item("projection", projection)?;
        }
        dict.set_item("pipeline", self.pipeline(py)?)?;
        Ok(dict)
    }
}

fn py_doc(py: Python<'_>, doc: &Document, classes: &convert::Classes) -> PyResult<Py<PyAny>> {
    let raw = RawDocumentBuf::try_from(doc).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(convert::document_to_python(py, &raw, classes)?.into_any().unbind())
}

pub(crate) fn run(
    py: Python<'_>,
    compiler: &Compiler,
    spec: &Bound<'_, PyAny>,
    options: Option<&Bound<'_, PyAny>>,
) -> Result<PyCompiledQuery, Failure> {
    let mut nodes = 0;
    let spec = json_arg(Some(spec), Arg::Spec(compiler), &mut nodes)?.ok_or_else(|| {
        Failure::Spec(SpecError::new(ErrorCode::InvalidNode, Vec::new(), "the specification is None"))
    })?;
    let options = json_arg(options, Arg::Options(compiler), &mut nodes)?;
    let classes = convert::classes(py)?;
    let Some(options) = options else {
        // The fast path: BSON bytes; the pipeline's $match stage is read from them again on
        // first access, so changing the filter never changes the pipeline.
        let raw = if nodes > DETACH_ABOVE {
            py.detach(|| compiler.compile_raw(&spec))?
        } else {
            compiler.compile_raw(&spec)?
        };
        return Ok(PyCompiledQuery {
            filter: convert::document_to_python(py, &raw, classes)?.into_any().unbind(),
            sort: None,
            skip: None,
            limit: None,
            projection: None,
            pipeline_source: Some(raw),
            pipeline: PyOnceLock::new(),
        });
    };
    let query = if nodes > DETACH_ABOVE {
        py.detach(|| compiler.compile_query(&spec, Some(&options)))?
    } else {
        compiler.compile_query(&spec, Some(&options))?
    };
    let CompiledQuery { filter, sort, skip, limit, projection, pipeline, .. } = query;
    let stages = PyList::empty(py);
    for stage in pipeline.unwrap_or_default() {
        stages.append(py_doc(py, &stage, classes)?)?;
    }
    Ok(PyCompiledQuery {
        filter: py_doc(py, &filter, classes)?,
        sort: sort.map(|d| py_doc(py, &d, classes)).transpose()?,
        skip,
        limit,
        projection: projection.map(|d| py_doc(py, &d, classes)).transpose()?,
        pipeline_source: None,
        pipeline: {
            let cell = PyOnceLock::new();
            let _ = cell.set(py, stages.into_any().unbind());
            cell
        },
    })
}

/// A field schema (a dict or JSON text) as react-querybuilder's `fields`, as JSON text.
#[pyfunction]
fn querybuilder_fields_json(py: Python<'_>, schema: &Bound<'_, PyAny>) -> PyResult<String> {
    let run = || -> Result<String, Failure> {
        let mut nodes = 0;
        let value = json_arg(Some(schema), Arg::Other("schema"), &mut nodes)?.unwrap_or_default();
        Ok(cqrs_mongo_spec::FieldSchema::from_json(&value)?.querybuilder_fields().to_string())
    };
    run().map_err(|f| f.into_py(py))
}

/// Metadata of every operator: name, family, value shape, aliases, support, description.
#[pyfunction]
fn operators(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let list = PyList::empty(py);
    for op in cqrs_mongo_spec::operators() {
        let dict = PyDict::new(py);
        dict.set_item("name", op.name)?;
        dict.set_item("family", serde_json::to_value(op.family).ok().and_then(|v| v.as_str().map(str::to_owned)))?;
        dict.set_item(
            "value_shape",
            serde_json::to_value(op.value_shape).ok().and_then(|v| v.as_str().map(str::to_owned)),
        )?;
        dict.set_item("aliases", PyList::new(py, op.aliases)?)?;
        dict.set_item("supported", op.supported)?;
        dict.set_item("description", op.description)?;
        list.append(dict)?;
    }
    Ok(list)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("SpecError", m.py().get_type::<error::SpecError>())?;
    m.add("DecompileError", m.py().get_type::<error::DecompileError>())?;
    m.add("MatchError", m.py().get_type::<error::MatchError>())?;
    m.add_class::<PyCompiledQuery>()?;
    m.add_class::<compiler::PyCompiler>()?;
    m.add_class::<matches::PyMatcher>()?;
    m.add_function(wrap_pyfunction!(operators, m)?)?;
    m.add_function(wrap_pyfunction!(querybuilder_fields_json, m)?)?;
    m.add_function(wrap_pyfunction!(decompile::decompile, m)?)?;
    m.add_function(wrap_pyfunction!(decompile::decompile_json, m)?)?;
    Ok(())
}
