//! Conversion between Python values and the compiler's JSON / BSON values.
//!
//! In: `dict` (string keys), `list`/`tuple`, `str`, `int` (within Int64), finite `float`, `bool`,
//! `None`, and the types pymongo users hold: `datetime`/`date`, `uuid.UUID`, `decimal.Decimal`,
//! `bytes`, and (when pymongo is installed) `bson.Int64`, `bson.ObjectId`, `bson.Decimal128`,
//! `bson.Binary`. Typed values become Extended JSON wrappers the compiler decodes. Anything
//! else is a `SpecError` at the value's path, and so is an exception raised by the value while
//! it is read (a `__str__` that raises; the exception is kept as `__cause__`). Containers are
//! read through the C API, never through overridden `__iter__` methods. Filters (`decompile`)
//! and documents (`matches`) are read the same way, except that NaN and infinities are
//! `$numberDouble` wrappers there, and a document's dates are milliseconds.
//!
//! Out (read straight from the compiled BSON bytes): what pymongo itself sends — `datetime` (UTC, tz-aware), `bson.Int64`, `bson.ObjectId`,
//! `bson.Decimal128`, `uuid.UUID` (binary subtype 4), `bson.Binary`; without pymongo, `int`,
//! `str`, `decimal.Decimal` and `bytes`.

use bson::raw::{RawBsonRef, RawDocument};
use bson::spec::BinarySubtype;
use cqrs_mongo_spec::input::{MAX_JSON_DEPTH, first_lone_surrogate, integer_out_of_range, lone_surrogate, too_deep};
use cqrs_mongo_spec::{ErrorCode, PathSegment, SpecError};
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDate, PyDateTime, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use serde_json::{Map, Number, Value};

use crate::error::Failure;

/// Python classes looked up once per interpreter.
pub(crate) struct Classes {
    uuid: Py<PyType>,
    decimal: Py<PyType>,
    timedelta: Py<PyAny>,
    epoch: Py<PyAny>,
    b64encode: Py<PyAny>,
    /// `bson.Int64`, `ObjectId`, `Decimal128`, `Binary` when pymongo is installed.
    bson: Option<BsonClasses>,
}

struct BsonClasses {
    int64: Py<PyType>,
    object_id: Py<PyType>,
    decimal128: Py<PyType>,
    binary: Py<PyType>,
    datetime_ms: Py<PyType>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

pub(crate) fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES.get_or_try_init(py, || {
        let class = |module: &str, name: &str| -> PyResult<Py<PyType>> {
            Ok(py.import(module)?.getattr(name)?.cast_into::<PyType>()?.unbind())
        };
        let datetime = py.import("datetime")?;
        let utc = datetime.getattr("timezone")?.getattr("utc")?;
        let epoch = datetime.getattr("datetime")?.call1((1970, 1, 1, 0, 0, 0, 0, utc))?;
        let bson = match py.import("bson") {
            Ok(module) if module.hasattr("ObjectId")? => Some(BsonClasses {
                int64: class("bson", "Int64")?,
                object_id: class("bson", "ObjectId")?,
                decimal128: class("bson", "Decimal128")?,
                binary: class("bson", "Binary")?,
                datetime_ms: class("bson", "DatetimeMS")?,
            }),
            _ => None,
        };
        Ok(Classes {
            uuid: class("uuid", "UUID")?,
            decimal: class("decimal", "Decimal")?,
            timedelta: datetime.getattr("timedelta")?.unbind(),
            epoch: epoch.unbind(),
            b64encode: py.import("base64")?.getattr("b64encode")?.unbind(),
            bson,
        })
    })
}

/// Converts a Python value to JSON; `root` starts the error path (`"options"` for options).
/// `nodes` counts the values converted (the caller releases the GIL for large specs). A list
/// or tuple longer than `max_len` is `list_too_long` at its path before one item is read (for
/// specs and options, [`list_limit`]: longer than any specification can hold).
pub(crate) fn to_json(
    obj: &Bound<'_, PyAny>,
    root: Option<&str>,
    nodes: &mut usize,
    max_len: usize,
) -> Result<Value, Failure> {
    let classes = classes(obj.py())?;
    let path: Vec<PathSegment> = root.map(|r| PathSegment::Key(r.to_owned())).into_iter().collect();
    Reader { classes, base: path.len(), path, nodes, max_len, mode: Mode::Spec, keep: None }.value(obj)
}

/// Converts a MongoDB filter to JSON as [`to_json`] converts a spec, except that a `float` NaN or
/// infinity, which a filter may hold, is `{"$numberDouble": "NaN"}` (or `"Infinity"`,
/// `"-Infinity"`) rather than refused: what `compile` returns for such a value reads back.
pub(crate) fn filter_to_json(obj: &Bound<'_, PyAny>, nodes: &mut usize) -> Result<Value, Failure> {
    let classes = classes(obj.py())?;
    Reader { classes, base: 0, path: Vec::new(), nodes, max_len: usize::MAX, mode: Mode::Filter, keep: None }.value(obj)
}

/// Converts a document to Extended JSON for [`document`], its error paths below `path`: as a
/// filter is converted, except that a `datetime` is `{"$date": {"$numberLong": ms}}` (a naive
/// one read as UTC, as pymongo stores it; a `date` is its midnight UTC).
///
/// With `keep` (sorted), a dict keeps only its top-level keys in `keep` and those starting with
/// `$` (what a prepared matcher reads of a document): the other values are not read at all.
pub(crate) fn document_to_json(
    obj: &Bound<'_, PyAny>,
    path: Vec<PathSegment>,
    nodes: &mut usize,
    keep: Option<&[String]>,
) -> Result<Value, Failure> {
    let classes = classes(obj.py())?;
    Reader { classes, base: path.len(), path, nodes, max_len: usize::MAX, mode: Mode::Document, keep }.value(obj)
}

/// What a conversion reads: a spec, a filter or a document.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Spec,
    Filter,
    Document,
}

/// One conversion: the path of the value being read (for errors), and how much of it is the
/// root (`"options"`).
struct Reader<'c, 'n> {
    classes: &'c Classes,
    path: Vec<PathSegment>,
    base: usize,
    nodes: &'n mut usize,
    max_len: usize,
    /// Specs refuse NaN and infinities; filters and documents hold them as `$numberDouble`
    /// wrappers, and documents hold dates as milliseconds.
    mode: Mode,
    /// The top-level keys to read (sorted), besides `$` keys; `None` for all.
    keep: Option<&'c [String]>,
}

/// The longest list a spec or its options may hold under `compiler`'s settings: a value list
/// longer than `max_list_len` is `list_too_long`, a `conditions` list longer than `max_nodes`
/// is `too_many_nodes`, so a list longer than both is refused before it is converted.
pub(crate) fn list_limit(compiler: &cqrs_mongo_spec::Compiler) -> usize {
    compiler.config().max_list_len.max(compiler.config().max_nodes)
}

fn wrapper(key: &str, value: Value) -> Value {
    let mut map = Map::with_capacity(1);
    map.insert(key.to_owned(), value);
    Value::Object(map)
}

/// The UTF-16 code units of a Python string, lone surrogates included (`str.encode` with
/// `surrogatepass`): the lossless form of a string that is not valid Unicode.
pub(crate) fn utf16_units(text: &Bound<'_, PyString>) -> PyResult<Vec<u16>> {
    let encoded = text.call_method1("encode", ("utf-16-le", "surrogatepass"))?;
    let bytes = encoded.cast::<PyBytes>()?.as_bytes();
    Ok(bytes.chunks_exact(2).map(|pair| u16::from_le_bytes([pair[0], pair[1]])).collect())
}

/// "TypeError: message" for an exception raised by the input, without trusting its `__str__`.
fn describe(py: Python<'_>, err: &PyErr) -> String {
    let kind = err.get_type(py).name().map(|name| name.to_string()).unwrap_or_else(|_| "an exception".into());
    match err.value(py).str().ok().and_then(|text| text.to_str().ok().map(str::to_owned)) {
        Some(text) if !text.is_empty() => format!("{kind}: {text}"),
        _ => kind,
    }
}

impl Reader<'_, '_> {
    fn fail(&self, code: ErrorCode, message: impl Into<String>) -> Failure {
        Failure::Spec(SpecError::new(code, self.path.clone(), message))
    }

    /// A string as Rust text. One that UTF-8 cannot hold has surrogate code points: a high
    /// and a low one in a row are read as the pair they form (as in JSON text and in JS), a
    /// lone one is `invalid_value` (a key's at its dict).
    fn string(&self, text: &Bound<'_, PyString>, in_key: bool) -> Result<String, Failure> {
        if let Ok(text) = text.to_str() {
            return Ok(text.to_owned());
        }
        let units = utf16_units(text)?;
        String::from_utf16(&units).map_err(|_| {
            let unit = first_lone_surrogate(&units).unwrap_or(0xFFFD);
            Failure::Spec(lone_surrogate(self.path.clone(), unit, in_key))
        })
    }

    /// Entering a dict or list: inside [`MAX_JSON_DEPTH`] others it is `too_deep`, exactly as
    /// the same value written as JSON text (this also stops cyclic containers).
    fn open(&self) -> Result<(), Failure> {
        if self.path.len() - self.base >= MAX_JSON_DEPTH {
            return Err(Failure::Spec(too_deep(self.path.clone())));
        }
        Ok(())
    }

    /// Converts `item` one step below the current path.
    fn child(&mut self, segment: PathSegment, item: &Bound<'_, PyAny>) -> Result<Value, Failure> {
        self.path.push(segment);
        let value = self.value(item);
        self.path.pop();
        value
    }

    /// Converts one value; an exception raised while reading it becomes `invalid_value` at its
    /// path (`KeyboardInterrupt` and other non-`Exception`s still propagate).
    fn value(&mut self, obj: &Bound<'_, PyAny>) -> Result<Value, Failure> {
        *self.nodes += 1;
        self.read(obj).map_err(|failure| match failure {
            Failure::Python(err) if err.is_instance_of::<PyException>(obj.py()) => {
                let message = format!("reading the value raised {}", describe(obj.py(), &err));
                Failure::Raised(SpecError::new(ErrorCode::InvalidValue, self.path.clone(), message), err)
            }
            other => other,
        })
    }

    fn read(&mut self, obj: &Bound<'_, PyAny>) -> Result<Value, Failure> {
        if let Ok(text) = obj.cast::<PyString>() {
            return self.string(text, false).map(Value::String);
        }
        if obj.is_none() {
            return Ok(Value::Null);
        }
        if let Ok(dict) = obj.cast::<PyDict>() {
            return self.dict(dict);
        }
        if let Ok(b) = obj.cast::<PyBool>() {
            return Ok(Value::Bool(b.is_true()));
        }
        if obj.is_instance_of::<PyInt>() {
            // `int.__repr__` itself, so an int subclass cannot change the text.
            let Ok(value) = obj.extract::<i64>() else {
                let literal = obj.py().get_type::<PyInt>().call_method1("__repr__", (obj,))?;
                return Err(Failure::Spec(integer_out_of_range(self.path.clone(), &literal.extract::<String>()?)));
            };
            if let Some(bson) = &self.classes.bson
                && obj.is_instance(bson.int64.bind(obj.py()))?
            {
                return Ok(wrapper("$numberLong", Value::String(value.to_string())));
            }
            return Ok(Value::Number(Number::from(value)));
        }
        if let Ok(float) = obj.cast::<PyFloat>() {
            let value = float.value();
            return match Number::from_f64(value) {
                Some(number) => Ok(Value::Number(number)),
                None if self.mode != Mode::Spec => {
                    let text = if value.is_nan() {
                        "NaN"
                    } else if value > 0.0 {
                        "Infinity"
                    } else {
                        "-Infinity"
                    };
                    Ok(wrapper("$numberDouble", Value::String(text.into())))
                }
                None => Err(self.fail(ErrorCode::InvalidValue, format!("{value} is not a finite number"))),
            };
        }
        if let Ok(list) = obj.cast::<PyList>() {
            return self.array(list.len(), list.iter());
        }
        if let Ok(tuple) = obj.cast::<PyTuple>() {
            return self.array(tuple.len(), tuple.iter());
        }
        self.typed(obj)
    }

    /// A list or tuple as a JSON array, each item at its index.
    fn array<'py>(&mut self, len: usize, items: impl Iterator<Item = Bound<'py, PyAny>>) -> Result<Value, Failure> {
        self.open()?;
        if len > self.max_len {
            let message = format!("a list of {len} items is longer than any specification may hold ({})", self.max_len);
            return Err(self.fail(ErrorCode::ListTooLong, message));
        }
        let mut out = Vec::with_capacity(len);
        // At most the items counted when the length was checked: a value read on the way may
        // grow the list (Python code runs inside `str()`), which must not grow the walk.
        for (index, item) in items.take(len).enumerate() {
            out.push(self.child(PathSegment::Index(index), &item)?);
        }
        Ok(Value::Array(out))
    }

    /// A dict with string keys. Its size is checked before every step: reading a value may run
    /// Python code that changes the dict, which pyo3's iterator would answer with a panic.
    fn dict(&mut self, dict: &Bound<'_, PyDict>) -> Result<Value, Failure> {
        self.open()?;
        let len = dict.len();
        let mut map = Map::with_capacity(len);
        let mut entries = dict.iter();
        for _ in 0..len {
            if dict.len() != len {
                return Err(self.fail(ErrorCode::InvalidValue, "the dictionary changed while it was read"));
            }
            let Some((key, item)) = entries.next() else { break };
            let Ok(key) = key.cast::<PyString>() else {
                let shown = key.repr().map(|r| r.to_string()).unwrap_or_else(|_| "a key that cannot be shown".into());
                let message = format!("dictionary keys must be strings, got {shown}");
                return Err(self.fail(ErrorCode::InvalidValue, message));
            };
            if let Some(keep) = self.keep.filter(|_| self.path.len() == self.base) {
                let read = key
                    .to_str()
                    .is_ok_and(|k| k.starts_with('$') || keep.binary_search_by(|f| f.as_str().cmp(k)).is_ok());
                if !read {
                    continue;
                }
            }
            let key = self.string(key, true)?;
            let value = self.child(PathSegment::Key(key.clone()), &item)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }

    /// Dates, UUIDs, decimals, bytes and bson types as Extended JSON wrappers.
    fn typed(&self, obj: &Bound<'_, PyAny>) -> Result<Value, Failure> {
        let py = obj.py();
        let classes = self.classes;
        let text = || -> PyResult<Value> { Ok(Value::String(obj.str()?.to_str()?.to_owned())) };
        if self.mode == Mode::Document && (obj.is_instance_of::<PyDateTime>() || obj.is_instance_of::<PyDate>()) {
            return Ok(wrapper("$date", wrapper("$numberLong", Value::String(date_millis(obj, classes)?.to_string()))));
        }
        if obj.is_instance_of::<PyDateTime>() || obj.is_instance_of::<PyDate>() {
            // isoformat keeps the offset of aware datetimes; the compiler treats naive ones as UTC.
            let iso: String = obj.call_method0("isoformat")?.extract()?;
            return Ok(wrapper("$date", Value::String(iso)));
        }
        if obj.is_instance(classes.uuid.bind(py))? {
            return Ok(wrapper("$uuid", text()?));
        }
        if obj.is_instance(classes.decimal.bind(py))? {
            return Ok(wrapper("$numberDecimal", text()?));
        }
        if let Some(bson) = &classes.bson {
            if obj.is_instance(bson.object_id.bind(py))? {
                return Ok(wrapper("$oid", text()?));
            }
            if obj.is_instance(bson.decimal128.bind(py))? {
                return Ok(wrapper("$numberDecimal", text()?));
            }
            if obj.is_instance(bson.binary.bind(py))? {
                let subtype: u8 = obj.getattr("subtype")?.extract()?;
                return Ok(binary(obj, subtype, classes)?);
            }
        }
        if obj.is_instance_of::<PyBytes>() {
            return Ok(binary(obj, 0, classes)?);
        }
        let kind = obj.get_type().name()?;
        Err(self.fail(ErrorCode::InvalidValue, format!("a {kind} is not a specification value")))
    }
}

/// Milliseconds since the epoch of a `datetime` (naive: UTC) or `date` (midnight UTC), rounded
/// down as pymongo rounds them.
fn date_millis(obj: &Bound<'_, PyAny>, classes: &Classes) -> PyResult<i64> {
    let py = obj.py();
    let epoch = classes.epoch.bind(py);
    let utc = epoch.getattr("tzinfo")?;
    let moment = if !obj.is_instance_of::<PyDateTime>() {
        let day = [("year", obj.getattr("year")?), ("month", obj.getattr("month")?), ("day", obj.getattr("day")?)];
        epoch.call_method("replace", (), Some(&day.into_py_dict(py)?))?
    } else if obj.getattr("tzinfo")?.is_none() {
        obj.call_method("replace", (), Some(&[("tzinfo", utc)].into_py_dict(py)?))?
    } else {
        obj.clone()
    };
    let millisecond = classes.timedelta.bind(py).call((), Some(&[("milliseconds", 1)].into_py_dict(py)?))?;
    moment.call_method1("__sub__", (epoch,))?.call_method1("__floordiv__", (millisecond,))?.extract()
}

fn binary(obj: &Bound<'_, PyAny>, subtype: u8, classes: &Classes) -> PyResult<Value> {
    let encoded = classes.b64encode.bind(obj.py()).call1((obj,))?;
    let base64: String = encoded.call_method1("decode", ("ascii",))?.extract()?;
    let mut body = Map::with_capacity(2);
    body.insert("base64".into(), Value::String(base64));
    body.insert("subType".into(), Value::String(format!("{subtype:02x}")));
    Ok(wrapper("$binary", Value::Object(body)))
}

/// Keys that compiled filters use over and over, created once as Python strings.
const COMMON_KEYS: [&str; 40] = [
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$all",
    "$and",
    "$or",
    "$nor",
    "$not",
    "$regex",
    "$options",
    "$exists",
    "$size",
    "$type",
    "$elemMatch",
    "$geoWithin",
    "$geoIntersects",
    "$geometry",
    "$centerSphere",
    "$text",
    "$search",
    "$match",
    "$sort",
    "$skip",
    "$limit",
    "$project",
    "$group",
    "$sum",
    "_id",
    "count",
    "type",
    "coordinates",
    "geometries",
    "f0",
    "f1",
    "f2",
];

static KEY_CACHE: PyOnceLock<Vec<Py<PyString>>> = PyOnceLock::new();

fn key<'py>(py: Python<'py>, name: &str) -> Bound<'py, PyString> {
    let cache = KEY_CACHE.get_or_init(py, || COMMON_KEYS.iter().map(|k| PyString::intern(py, k).unbind()).collect());
    match COMMON_KEYS.iter().position(|k| *k == name) {
        Some(index) => cache[index].bind(py).clone(),
        None => PyString::new(py, name),
    }
}

/// A BSON document (as bytes) as the Python dict pymongo would send.
pub(crate) fn document_to_python<'py>(
    py: Python<'py>,
    doc: &RawDocument,
    classes: &Classes,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for element in doc.iter() {
        let (name, value) = element.map_err(|e| PyValueError::new_err(e.to_string()))?;
        dict.set_item(key(py, name.as_str()), to_python(py, value, classes)?)?;
    }
    Ok(dict)
}

/// A BSON value as the Python value pymongo would send.
fn to_python<'py>(py: Python<'py>, value: RawBsonRef<'_>, classes: &Classes) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        RawBsonRef::Document(doc) => document_to_python(py, doc, classes)?.into_any(),
        RawBsonRef::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item.map_err(|e| PyValueError::new_err(e.to_string()))?, classes)?)?;
            }
            list.into_any()
        }
        RawBsonRef::String(s) => PyString::new(py, s).into_any(),
        RawBsonRef::Int32(i) => i.into_pyobject(py)?.into_any(),
        RawBsonRef::Int64(i) => match &classes.bson {
            Some(bson) => bson.int64.bind(py).call1((i,))?,
            None => i.into_pyobject(py)?.into_any(),
        },
        RawBsonRef::Double(d) => PyFloat::new(py, d).into_any(),
        RawBsonRef::Boolean(b) => PyBool::new(py, b).to_owned().into_any(),
        RawBsonRef::Null => py.None().into_bound(py),
        RawBsonRef::DateTime(date) => {
            let ms = date.timestamp_millis();
            let delta = classes.timedelta.bind(py).call((), Some(&[("milliseconds", ms)].into_py_dict(py)?))?;
            match classes.epoch.bind(py).call_method1("__add__", (delta,)) {
                Ok(datetime) => datetime,
                // Beyond datetime's years 1..=9999: pymongo's own type for such dates, if present.
                Err(err) => match &classes.bson {
                    Some(bson) => bson.datetime_ms.bind(py).call1((ms,))?,
                    None => return Err(err),
                },
            }
        }
        RawBsonRef::Decimal128(d) => match &classes.bson {
            Some(bson) => bson.decimal128.bind(py).call1((d.to_string(),))?,
            None => classes.decimal.bind(py).call1((d.to_string(),))?,
        },
        RawBsonRef::ObjectId(oid) => match &classes.bson {
            Some(bson) => bson.object_id.bind(py).call1((oid.to_hex(),))?,
            None => PyString::new(py, &oid.to_hex()).into_any(),
        },
        RawBsonRef::Binary(binary) if binary.subtype == BinarySubtype::Uuid && binary.bytes.len() == 16 => {
            let bytes = PyBytes::new(py, binary.bytes);
            classes.uuid.bind(py).call((), Some(&[("bytes", bytes)].into_py_dict(py)?))?
        }
        RawBsonRef::Binary(binary) => {
            let bytes = PyBytes::new(py, binary.bytes);
            match &classes.bson {
                Some(bson) => bson.binary.bind(py).call1((bytes, u8::from(binary.subtype)))?,
                None => bytes.into_any(),
            }
        }
        // Compiled filters hold only the types above (values are literals of those types).
        _ => py.None().into_bound(py),
    })
}

use pyo3::types::IntoPyDict;
