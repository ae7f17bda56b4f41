//! The `value_type` names of the legacy format.

/// A cast applied to `val` before compiling (legacy `value_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValueType {
    /// `string`, `text`, `str`.
    String,
    /// `integer`, `int`, `biginteger`.
    Integer,
    /// `smallinteger`: an integer in -32768..=32767.
    SmallInteger,
    /// `float`, `double`.
    Float,
    /// `decimal`, `numeric`: Decimal128.
    Decimal,
    /// `boolean`, `bool`.
    Boolean,
    /// `date`: an ISO date (time dropped), midnight UTC.
    Date,
    /// `datetime`: an ISO date-time in UTC.
    DateTime,
    /// `time`: a time of day, kept as an `HH:MM:SS` string.
    Time,
    /// `interval`: a duration, as whole milliseconds.
    Interval,
    /// `uuid`: Binary subtype 4.
    Uuid,
    /// `json`: JSON text parsed into a value.
    Json,
    /// `list`: comma-separated text split into strings.
    List,
    /// `auto`: booleans, numbers and dates recognised in strings.
    Auto,
}

const NAMES: &[(&str, ValueType)] = &[
    ("string", ValueType::String),
    ("text", ValueType::String),
    ("str", ValueType::String),
    ("integer", ValueType::Integer),
    ("int", ValueType::Integer),
    ("smallinteger", ValueType::SmallInteger),
    ("biginteger", ValueType::Integer),
    ("float", ValueType::Float),
    ("double", ValueType::Float),
    ("decimal", ValueType::Decimal),
    ("numeric", ValueType::Decimal),
    ("boolean", ValueType::Boolean),
    ("bool", ValueType::Boolean),
    ("date", ValueType::Date),
    ("datetime", ValueType::DateTime),
    ("time", ValueType::Time),
    ("interval", ValueType::Interval),
    ("uuid", ValueType::Uuid),
    ("json", ValueType::Json),
    ("list", ValueType::List),
    ("auto", ValueType::Auto),
];

impl ValueType {
    /// Every accepted name, aliases included.
    pub const NAMES: [&'static str; 21] = [
        "string",
        "text",
        "str",
        "integer",
        "int",
        "smallinteger",
        "biginteger",
        "float",
        "double",
        "decimal",
        "numeric",
        "boolean",
        "bool",
        "date",
        "datetime",
        "time",
        "interval",
        "uuid",
        "json",
        "list",
        "auto",
    ];

    /// Looks a type up by name or alias, ignoring ASCII case.
    pub fn parse(name: &str) -> Option<ValueType> {
        NAMES.iter().find(|(candidate, _)| candidate.eq_ignore_ascii_case(name)).map(|(_, value_type)| *value_type)
    }

    /// The canonical name, used when a spec is serialised.
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, value_type)| *value_type == self)
            .map(|(name, _)| *name)
            .expect("every value type has a name")
    }

    /// True when a list value is cast item by item (every type but `list` and `json`).
    pub(crate) fn casts_items(self) -> bool {
        !matches!(self, ValueType::List | ValueType::Json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(ValueType::NAMES.len(), NAMES.len());
        for name in ValueType::NAMES {
            let value_type = ValueType::parse(name).unwrap();
            assert_eq!(ValueType::parse(value_type.name()), Some(value_type));
        }
        assert_eq!(ValueType::parse("Integer"), Some(ValueType::Integer));
        assert_eq!(ValueType::parse("money"), None);
    }
}
