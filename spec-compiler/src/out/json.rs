//! Extended JSON text straight from BSON bytes.
//!
//! The bson crate's `into_relaxed_extjson`/`into_canonical_extjson` build a `serde_json::Value`
//! tree first; for a compiled query that costs several times the compile itself. The bindings
//! return JSON text, so this writer walks a `RawDocument` and appends the text directly. Its
//! output is checked against the bson crate's for every golden case.

use std::io::Write;

use bson::RawDocumentBuf;
use bson::raw::{RawArray, RawBsonRef, RawDocument};

/// Which Extended JSON flavour to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtJsonFormat {
    /// Plain JSON numbers and ISO dates where that loses nothing essential.
    Relaxed,
    /// Every type explicit: `{"$numberInt": "1"}`, `{"$date": {"$numberLong": "…"}}`.
    Canonical,
}

/// Appends `doc` as Extended JSON text.
pub fn write_document(doc: &RawDocument, format: ExtJsonFormat, out: &mut Vec<u8>) {
    out.push(b'{');
    for (index, element) in doc.iter().flatten().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        string(element.0.as_str(), out);
        out.push(b':');
        value(element.1, format, out);
    }
    out.push(b'}');
}

/// `doc` as Extended JSON text.
pub fn to_extjson_string(doc: &RawDocument, format: ExtJsonFormat) -> String {
    let mut out = Vec::with_capacity(doc.as_bytes().len() * 2);
    write_document(doc, format, &mut out);
    String::from_utf8(out).expect("the writer emits UTF-8")
}

fn array(items: &RawArray, format: ExtJsonFormat, out: &mut Vec<u8>) {
    out.push(b'[');
    for (index, item) in items.into_iter().flatten().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        value(item, format, out);
    }
    out.push(b']');
}

fn value(item: RawBsonRef<'_>, format: ExtJsonFormat, out: &mut Vec<u8>) {
    let canonical = format == ExtJsonFormat::Canonical;
    match item {
        RawBsonRef::Document(doc) => write_document(doc, format, out),
        RawBsonRef::Array(items) => array(items, format, out),
        RawBsonRef::String(s) => string(s, out),
        RawBsonRef::Boolean(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        RawBsonRef::Null => out.extend_from_slice(b"null"),
        RawBsonRef::Int32(i) if canonical => wrapped_text("$numberInt", &i.to_string(), out),
        RawBsonRef::Int32(i) => {
            let _ = write!(out, "{i}");
        }
        RawBsonRef::Int64(i) if canonical => wrapped_text("$numberLong", &i.to_string(), out),
        RawBsonRef::Int64(i) => {
            let _ = write!(out, "{i}");
        }
        RawBsonRef::Double(d) if d.is_finite() && !canonical => {
            let _ = serde_json::to_writer(&mut *out, &d);
        }
        RawBsonRef::Double(d) => wrapped_text("$numberDouble", &canonical_double(d), out),
        RawBsonRef::DateTime(date) => {
            let ms = date.timestamp_millis();
            out.extend_from_slice(b"{\"$date\":");
            if !canonical && (0..253_402_300_800_000).contains(&ms) {
                string(&iso_millis(ms), out);
            } else {
                wrapped_text("$numberLong", &ms.to_string(), out);
            }
            out.push(b'}');
        }
        RawBsonRef::Decimal128(d) => wrapped_text("$numberDecimal", &d.to_string(), out),
        RawBsonRef::ObjectId(oid) => wrapped_text("$oid", &oid.to_hex(), out),
        RawBsonRef::Binary(binary) => {
            out.extend_from_slice(b"{\"$binary\":{\"base64\":\"");
            base64(binary.bytes, out);
            let _ = write!(out, "\",\"subType\":\"{:02x}\"}}}}", u8::from(binary.subtype));
        }
        // Regular expressions, timestamps, code, min/max keys …: compiled filters never hold them
        // (values are literals of the types above), so they are not worth the code size here.
        _ => out.extend_from_slice(b"null"),
    }
}

/// Standard base64 with padding.
fn base64(bytes: &[u8], out: &mut Vec<u8>) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
}

/// `{"key":"text"}`.
fn wrapped_text(key: &str, text: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    string(text, out);
    out.push(b'}');
}

fn string(s: &str, out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(&mut *out, s);
}

/// The bson crate's canonical spelling: `1.0`, `-0.0`, `Infinity`, `NaN`.
fn canonical_double(d: f64) -> String {
    if d.is_nan() {
        return if d.is_sign_negative() { "-NaN" } else { "NaN" }.to_owned();
    }
    if d.is_infinite() {
        return if d.is_sign_negative() { "-Infinity" } else { "Infinity" }.to_owned();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    let mut text = d.to_string();
    if d.fract() == 0.0 && d.is_normal() {
        text.push_str(".0");
    }
    text
}

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z` for milliseconds since the epoch (years 1970–9999).
fn iso_millis(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s, milli) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000);
    let mut text = format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}");
    if milli != 0 {
        let fraction = format!("{milli:03}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Encodes a `Document` (built by the plan) and writes it. Encoding only fails for keys with
/// NUL bytes, which compiled documents never have.
pub(crate) fn write_bson_document(doc: &bson::Document, format: ExtJsonFormat, out: &mut Vec<u8>) {
    match RawDocumentBuf::try_from(doc) {
        Ok(raw) => write_document(&raw, format, out),
        Err(_) => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use bson::{Binary, DateTime, Decimal128, doc, oid::ObjectId, spec::BinarySubtype};

    use bson::Bson;

    use super::*;

    /// Our text must equal the bson crate's, flavour by flavour.
    fn agrees(doc: bson::Document) {
        let raw = RawDocumentBuf::try_from(&doc).unwrap();
        for (format, expected) in [
            (ExtJsonFormat::Relaxed, Bson::Document(doc.clone()).into_relaxed_extjson()),
            (ExtJsonFormat::Canonical, Bson::Document(doc.clone()).into_canonical_extjson()),
        ] {
            assert_eq!(to_extjson_string(&raw, format), expected.to_string(), "{format:?}");
        }
    }

    #[test]
    fn matches_the_bson_crate() {
        agrees(doc! {
            "i": 5, "l": 5_000_000_000_i64, "small_long": 7_i64, "d": 1.0, "f": 0.1, "neg0": -0.0, "big": 1e20,
            "tiny": 1.5e-10, "inf": f64::INFINITY, "nan": f64::NAN, "s": "q\"u\\o\n\u{1}é", "b": false, "n": Bson::Null,
            "dates": [DateTime::from_millis(0), DateTime::from_millis(1_709_208_000_123), DateTime::from_millis(1_678_459_530_250),
                      DateTime::from_millis(-1), DateTime::from_millis(253_402_300_799_999)],
            "m": "10.00".parse::<Decimal128>().unwrap(), "o": ObjectId::parse_str("65a1b2c3d4e5f60718293a01").unwrap(),
            "u": Binary { subtype: BinarySubtype::Uuid, bytes: vec![0x12; 16] },
            "b1": Binary { subtype: BinarySubtype::Generic, bytes: vec![1] },
            "b2": Binary { subtype: BinarySubtype::UserDefined(0x80), bytes: vec![1, 2] },
            "b0": Binary { subtype: BinarySubtype::Generic, bytes: vec![] },
            "nested": {"a": [1, {"b": []}, {}]},
        });
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(iso_millis(1_709_208_000_120), "2024-02-29T12:00:00.12Z");
    }
}
