//! `decompile`: a MongoDB filter back into a specification ([`cqrs_mongo_spec::decompile_json`]).
//! The filter is a dict (Extended JSON wrappers, or the Python values `compile` reads: `datetime`,
//! `bson.Int64`, `ObjectId`, …) or JSON text; the specification comes back as a dict of JSON
//! values (its typed values as Extended JSON wrappers), or as JSON text.

use cqrs_mongo_spec::{
    DecompileError, DecompileErrorCode, Spec, decompile_json as from_json, decompile_str, decompile_utf16,
};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyList, PyString};
use serde_json::Value;

use crate::convert;
use crate::error;

/// Filters with more values than this are decompiled with the GIL released.
const DETACH_ABOVE: usize = 2_000;

/// The filter as a specification dict.
#[pyfunction]
pub(crate) fn decompile<'py>(py: Python<'py>, filter: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let spec = match filter.cast::<PyString>() {
        Ok(text) => from_text(text)?,
        Err(_) => {
            let mut nodes = 0;
            let value = convert::filter_to_json(filter, &mut nodes).map_err(|f| f.into_decompile_py(py))?;
            let spec = if nodes > DETACH_ABOVE { py.detach(|| from_json(&value)) } else { from_json(&value) };
            spec.map_err(|err| error::decompile_to_py(py, &err))?
        }
    };
    json_to_python(py, &spec.to_json())
}

/// Filter JSON text to the specification's JSON text (anything but a `str` is `invalid_json`).
#[pyfunction]
pub(crate) fn decompile_json(py: Python<'_>, filter_json: &Bound<'_, PyAny>) -> PyResult<String> {
    let Ok(text) = filter_json.cast::<PyString>() else {
        let message = "expected JSON text (a str); use decompile for dicts";
        let err = DecompileError::new(DecompileErrorCode::InvalidJson, Vec::new(), message);
        return Err(error::decompile_to_py(py, &err));
    };
    Ok(from_text(text)?.to_json().to_string())
}

/// Decompiles JSON text; a `str` with lone surrogates (not valid UTF-8) goes in as UTF-16 code
/// units, so they are reported where they are.
fn from_text(text: &Bound<'_, PyString>) -> PyResult<Spec<'static>> {
    let py = text.py();
    let spec = match text.to_str() {
        Ok(text) if text.len() > DETACH_ABOVE * 16 => py.detach(|| decompile_str(text)),
        Ok(text) => decompile_str(text),
        Err(_) => {
            let units = convert::utf16_units(text)?;
            decompile_utf16(&units)
        }
    };
    spec.map_err(|err| error::decompile_to_py(py, &err))
}

/// A JSON value as Python's `json.loads` would give it: `int` for integers, `float` for numbers
/// with a fraction or exponent, dicts in key order.
fn json_to_python<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(int), _) => int.into_pyobject(py)?.into_any(),
            (None, Some(int)) => int.into_pyobject(py)?.into_any(),
            (None, None) => PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any(),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_python(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, json_to_python(py, item)?)?;
            }
            dict.into_any()
        }
    })
}
