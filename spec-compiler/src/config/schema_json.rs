//! A [`FieldSchema`] read from a JSON document, key by key, so that a problem is reported at the
//! exact key (`schema.fields[3].type`) with serde's message, and no other JSON reader is needed.

use serde::Deserialize;
use serde::de::{Error as _, Unexpected};
use serde_json::{Map, Value};

use super::schema::{FieldDef, FieldSchema};
use crate::error::{ErrorCode, PathSegment, SpecError};

/// The keys of a field, as `deny_unknown_fields` lists them.
const FIELD_KEYS: &[&str] = &["name", "type", "items", "operators", "values", "path", "label"];

fn invalid(at: &[PathSegment], tail: &[PathSegment], message: impl Into<String>) -> SpecError {
    let path = at.iter().chain(tail).cloned().collect();
    SpecError::new(ErrorCode::InvalidOption, path, message)
}

fn key(name: &str) -> PathSegment {
    PathSegment::Key(name.to_owned())
}

/// What serde calls `value` in an "invalid type" message.
fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Unexpected::Unsigned(u),
            (_, Some(i), _) => Unexpected::Signed(i),
            (_, _, f) => Unexpected::Float(f.unwrap_or(f64::NAN)),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// `value` as an object, or serde's "invalid type" message for `expected` at `at`.
fn object<'a>(value: &'a Value, expected: &str, at: &[PathSegment]) -> Result<&'a Map<String, Value>, SpecError> {
    value
        .as_object()
        .ok_or_else(|| invalid(at, &[], serde_json::Error::invalid_type(unexpected(value), &expected).to_string()))
}

fn read<'a, T: Deserialize<'a>>(value: &'a Value, at: &[PathSegment], tail: &[PathSegment]) -> Result<T, SpecError> {
    T::deserialize(value).map_err(|err| invalid(at, tail, err.to_string()))
}

/// One field of the schema at `at` (`…fields[i]`).
fn read_field(value: &Value, at: &[PathSegment]) -> Result<FieldDef, SpecError> {
    let object = object(value, "struct FieldDef", at)?;
    let (mut name, mut field_type) = (None, None);
    let (mut items, mut operators, mut values, mut path, mut label) = (None, None, None, None, None);
    for (k, v) in object {
        let tail = [key(k)];
        // `null` is "not given" for the optional keys, as serde reads an `Option`.
        match k.as_str() {
            "name" => name = Some(read(v, at, &tail)?),
            "type" => field_type = Some(read(v, at, &tail)?),
            "items" => items = read(v, at, &tail)?,
            "operators" => operators = read(v, at, &tail)?,
            "values" => values = read::<Option<Vec<Value>>>(v, at, &tail)?,
            "path" => path = read(v, at, &tail)?,
            "label" => label = read(v, at, &tail)?,
            _ => return Err(invalid(at, &tail, serde_json::Error::unknown_field(k, FIELD_KEYS).to_string())),
        }
    }
    let missing = |field: &'static str| invalid(at, &[], serde_json::Error::missing_field(field).to_string());
    Ok(FieldDef {
        name: name.ok_or_else(|| missing("name"))?,
        field_type: field_type.ok_or_else(|| missing("type"))?,
        items,
        operators,
        values,
        path,
        label,
    })
}

/// The schema document `value`, found at `at`; problems are `invalid_option` below `at`. The
/// schema's consistency ([`FieldSchema::problem`]) is the caller's to check.
pub(crate) fn read_schema(value: &Value, at: &[PathSegment]) -> Result<FieldSchema, SpecError> {
    let object = object(value, "struct FieldSchema", at)?;
    let mut fields = None;
    for (k, v) in object {
        if k != "fields" {
            let message = serde_json::Error::unknown_field(k, &["fields"]).to_string();
            return Err(invalid(at, &[key(k)], message));
        }
        let list = v.as_array().ok_or_else(|| {
            let message = serde_json::Error::invalid_type(unexpected(v), &"a sequence").to_string();
            invalid(at, &[key(k)], message)
        })?;
        let mut defs = Vec::with_capacity(list.len());
        let mut here: Vec<PathSegment> = at.iter().cloned().chain([key(k)]).collect();
        for (index, item) in list.iter().enumerate() {
            here.push(PathSegment::Index(index));
            defs.push(read_field(item, &here)?);
            here.pop();
        }
        fields = Some(defs);
    }
    let fields = fields.ok_or_else(|| invalid(at, &[], serde_json::Error::missing_field("fields").to_string()))?;
    Ok(FieldSchema { fields })
}

impl FieldSchema {
    /// Reads a schema document as the packages receive it; a document that is not a schema, or
    /// an unusable schema, is `invalid_option` at `schema` (and the offending key below it).
    pub fn from_json(value: &Value) -> Result<FieldSchema, SpecError> {
        let at = [key("schema")];
        let schema = read_schema(value, &at)?;
        match schema.problem() {
            Some(problem) => Err(invalid(&at, &[], problem)),
            None => Ok(schema),
        }
    }
}
