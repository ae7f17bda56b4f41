//! GeoJSON operators. Exact MongoDB forms only: `intersects`, `within`, `disjoint`
//! (`$nor` of `$geoIntersects`), `distance_lt`/`dwithin` (`$geoWithin` + `$centerSphere`, legal
//! inside `$or` and aggregation `$match`). The other legacy geo operators are refused before
//! this module runs.

use bson::{Bson, Document};
use serde_json::Value;

use super::group;
use crate::compile::LeafCx;
use crate::diag::{Seg, bson_type_name};
use crate::error::ErrorCode;
use crate::operator::Operator;
use crate::out::Out;

/// Equatorial radius in metres used by MongoDB's documentation to turn distances into radians.
pub(crate) const EARTH_RADIUS_M: f64 = 6_378_100.0;

const TYPES: [&str; 7] =
    ["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"];

pub(crate) fn compile<W: Out>(
    op: Operator,
    field: &str,
    raw: &Value,
    cx: &mut LeafCx<'_, '_, '_>,
    w: &mut W,
) -> Option<()> {
    if matches!(op, Operator::DistanceLt | Operator::Dwithin) {
        return distance(field, cx, w);
    }
    let geometry = match raw {
        Value::Object(map) if map.len() == 1 && map.contains_key("$geometry") => {
            cx.at(Seg::Key("$geometry"), |cx| {
                let value = cx.convert_raw(&map["$geometry"])?;
                geometry(value, cx)
            })?
        }
        _ => {
            let value = cx.value()?;
            geometry(value, cx)?
        }
    };
    let kind = geometry.get_str("type").unwrap_or_default();
    if op == Operator::Within && !matches!(kind, "Polygon" | "MultiPolygon") {
        cx.error(ErrorCode::InvalidValue, format!("\"within\" needs a Polygon or MultiPolygon, got a {kind}"));
        return None;
    }
    let operator = if op == Operator::Within { "$geoWithin" } else { "$geoIntersects" };
    let geometry = Bson::Document(geometry);
    let query = |w: &mut W| {
        w.begin("");
        w.begin(field);
        w.begin(operator);
        w.value("$geometry", &geometry);
        w.end();
        w.end();
        w.end();
    };
    if op == Operator::Disjoint {
        group(w, "$nor", query);
    } else {
        query(w);
    }
    Some(())
}

/// Validates a GeoJSON geometry and re-emits it as `{type, coordinates | geometries}`.
fn geometry(value: Bson, cx: &mut LeafCx<'_, '_, '_>) -> Option<Document> {
    let Bson::Document(map) = value else {
        cx.error(
            ErrorCode::InvalidValue,
            format!("expected a GeoJSON geometry object, got {}", bson_type_name(&value)),
        );
        return None;
    };
    let kind = match map.get("type") {
        Some(Bson::String(kind)) if TYPES.contains(&kind.as_str()) => kind.clone(),
        Some(other) => {
            cx.error(
                ErrorCode::InvalidValue,
                format!("unknown GeoJSON type {other}; expected one of {}", TYPES.join(", ")),
            );
            return None;
        }
        None => {
            cx.error(ErrorCode::InvalidValue, "a GeoJSON geometry needs a \"type\"");
            return None;
        }
    };
    let body_key = if kind == "GeometryCollection" { "geometries" } else { "coordinates" };
    if let Some(extra) = map.keys().find(|k| *k != "type" && *k != body_key) {
        cx.error(ErrorCode::InvalidValue, format!("unexpected key {extra:?} in a GeoJSON {kind}"));
        return None;
    }
    let Some(body) = map.get(body_key) else {
        cx.error(ErrorCode::InvalidValue, format!("a GeoJSON {kind} needs {body_key:?}"));
        return None;
    };
    let body = cx.at(Seg::Key(body_key), |cx| match kind.as_str() {
        "GeometryCollection" => collection(body, cx),
        _ => {
            coordinates(&kind, body, cx)?;
            Some(body.clone())
        }
    })?;
    let mut out = Document::new();
    out.insert("type", kind);
    out.insert(body_key, body);
    Some(out)
}

fn collection(body: &Bson, cx: &mut LeafCx<'_, '_, '_>) -> Option<Bson> {
    let Bson::Array(items) = body else {
        cx.error(ErrorCode::InvalidValue, "\"geometries\" must be a list");
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        out.push(Bson::Document(cx.at(Seg::Index(index), |cx| geometry(item.clone(), cx))?));
    }
    Some(Bson::Array(out))
}

/// Checks the nesting of `coordinates` for a geometry type.
fn coordinates(kind: &str, body: &Bson, cx: &mut LeafCx<'_, '_, '_>) -> Option<()> {
    match kind {
        "Point" => position(body, cx),
        "MultiPoint" => each(body, 1, cx, position),
        "LineString" => line(body, cx),
        "MultiLineString" => each(body, 1, cx, line),
        "Polygon" => polygon(body, cx),
        _ => each(body, 1, cx, polygon),
    }
}

fn each(
    body: &Bson,
    min: usize,
    cx: &mut LeafCx<'_, '_, '_>,
    check: fn(&Bson, &mut LeafCx<'_, '_, '_>) -> Option<()>,
) -> Option<()> {
    let Bson::Array(items) = body else {
        cx.error(ErrorCode::InvalidValue, format!("expected a list, got {}", bson_type_name(body)));
        return None;
    };
    if items.len() < min {
        cx.error(ErrorCode::InvalidValue, format!("expected at least {min} items, got {}", items.len()));
        return None;
    }
    for (index, item) in items.iter().enumerate() {
        cx.at(Seg::Index(index), |cx| check(item, cx))?;
    }
    Some(())
}

fn line(body: &Bson, cx: &mut LeafCx<'_, '_, '_>) -> Option<()> {
    each(body, 2, cx, position)
}

fn polygon(body: &Bson, cx: &mut LeafCx<'_, '_, '_>) -> Option<()> {
    each(body, 1, cx, ring)
}

fn ring(body: &Bson, cx: &mut LeafCx<'_, '_, '_>) -> Option<()> {
    each(body, 4, cx, position)?;
    let Bson::Array(points) = body else { return None };
    if points.first() != points.last() {
        cx.error(ErrorCode::InvalidValue, "a polygon ring must end at its first position (closed ring)");
        return None;
    }
    Some(())
}

/// `[longitude, latitude]` (an optional third number, altitude, is allowed).
fn position(body: &Bson, cx: &mut LeafCx<'_, '_, '_>) -> Option<()> {
    let numbers = match body {
        Bson::Array(items) if (2..=3).contains(&items.len()) => items,
        other => {
            cx.error(ErrorCode::InvalidValue, format!("a position is [longitude, latitude], got {}", describe(other)));
            return None;
        }
    };
    for (index, (item, limit)) in numbers.iter().zip([180.0, 90.0, f64::MAX]).enumerate() {
        let ok = number(item).is_some_and(|n| n.is_finite() && n.abs() <= limit);
        if !ok {
            let what = ["longitude", "latitude", "altitude"][index];
            cx.error_at(
                Seg::Index(index),
                ErrorCode::InvalidValue,
                format!("{what} must be a number within ±{limit}, got {item}"),
            );
            return None;
        }
    }
    Some(())
}

fn number(value: &Bson) -> Option<f64> {
    match value {
        Bson::Int32(i) => Some(f64::from(*i)),
        Bson::Int64(i) => Some(*i as f64),
        Bson::Double(d) => Some(*d),
        _ => None,
    }
}

fn describe(value: &Bson) -> String {
    match value {
        Bson::Array(items) => format!("a list of {} items", items.len()),
        other => bson_type_name(other).to_owned(),
    }
}

/// `[point, metres]` or `{"point": point, "distance": metres}`.
fn distance<W: Out>(field: &str, cx: &mut LeafCx<'_, '_, '_>, w: &mut W) -> Option<()> {
    let value = cx.value()?;
    let (point, metres, point_key, metres_key): (Bson, Bson, Seg<'static>, Seg<'static>) = match value {
        Bson::Array(items) if items.len() == 2 => {
            let [point, metres]: [Bson; 2] = items.try_into().expect("checked length");
            (point, metres, Seg::Index(0), Seg::Index(1))
        }
        Bson::Document(mut map) if map.len() == 2 && map.contains_key("point") && map.contains_key("distance") => {
            let point = map.remove("point").expect("checked key");
            let metres = map.remove("distance").expect("checked key");
            (point, metres, Seg::Key("point"), Seg::Key("distance"))
        }
        other => {
            cx.error(
                ErrorCode::InvalidValue,
                format!("expected [point, metres] or {{\"point\", \"distance\"}}, got {}", describe(&other)),
            );
            return None;
        }
    };
    let center = cx.at(point_key, |cx| center(point, cx))?;
    let radians = match number(&metres) {
        Some(m) if m.is_finite() && m >= 0.0 => m / EARTH_RADIUS_M,
        _ => {
            cx.error_at(
                metres_key,
                ErrorCode::InvalidValue,
                format!("the distance must be a number of metres ≥ 0, got {metres}"),
            );
            return None;
        }
    };
    w.begin("");
    w.begin(field);
    w.begin("$geoWithin");
    w.begin_array("$centerSphere");
    w.value("", &center);
    w.value("", &Bson::Double(radians));
    w.end();
    w.end();
    w.end();
    w.end();
    Some(())
}

/// A GeoJSON Point or `[lng, lat]`, returned as the `[lng, lat]` array.
fn center(point: Bson, cx: &mut LeafCx<'_, '_, '_>) -> Option<Bson> {
    match point {
        Bson::Document(_) => {
            let geometry = geometry(point, cx)?;
            if geometry.get_str("type").ok() != Some("Point") {
                cx.error(ErrorCode::InvalidValue, "the centre must be a Point");
                return None;
            }
            geometry.get("coordinates").cloned()
        }
        other => {
            position(&other, cx)?;
            Some(other)
        }
    }
}
