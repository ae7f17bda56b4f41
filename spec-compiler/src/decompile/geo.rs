//! `$geoIntersects` and `$geoWithin` back into `intersects`, `within` and `distance_lt`.
//! (`disjoint`, the `$nor` of `$geoIntersects`, is recognised with the other shapes.)

use bson::Bson;
use serde_json::Value;

use super::error::{Loc, Result};
use super::leaf;
use super::value::to_spec;
use crate::operator::Operator;
use crate::ops::geo::EARTH_RADIUS_M;
use crate::spec::Spec;

/// `{"$geoIntersects"|"$geoWithin": {"$geometry": G}}` or `{"$geoWithin": {"$centerSphere": [c, r]}}`.
pub(crate) fn clause(field: &str, key: &str, value: &Bson, loc: &Loc<'_>) -> Result<Spec<'static>> {
    let Bson::Document(query) = value else {
        return Err(loc.invalid(format!("{key} needs a document such as {{\"$geometry\": …}}")));
    };
    loc.check_depth()?;
    let mut entries = query.iter();
    let (shape, body) = match (entries.next(), entries.next()) {
        (Some(entry), None) => entry,
        _ => {
            return Err(
                loc.unsupported(format!("{key} is decompiled with exactly one shape ($geometry or $centerSphere)"))
            );
        }
    };
    let here = loc.key(shape);
    match (key, shape.as_str()) {
        (_, "$geometry") => {
            let op = if key == "$geoWithin" { Operator::Within } else { Operator::Intersects };
            match body {
                Bson::Document(_) => Ok(leaf(op, field, Some(to_spec(body, &here)?))),
                _ => Err(here.invalid("$geometry needs a GeoJSON document")),
            }
        }
        ("$geoWithin", "$centerSphere") => center_sphere(field, body, &here),
        (_, "$box" | "$polygon" | "$center") => {
            Err(here.unsupported(format!("{shape} (legacy flat coordinates) has no specification form")))
        }
        _ => Err(here.unsupported(format!("{key} with {shape} has no specification form"))),
    }
}

/// `[[lng, lat], radians]` → `distance_lt` with `[[lng, lat], metres]`.
fn center_sphere(field: &str, body: &Bson, loc: &Loc<'_>) -> Result<Spec<'static>> {
    let refuse = || loc.unsupported("$centerSphere is decompiled from [[longitude, latitude], radians]");
    let Bson::Array(parts) = body else { return Err(refuse()) };
    let [center @ Bson::Array(_), radius] = parts.as_slice() else { return Err(refuse()) };
    let radians = match radius {
        Bson::Double(r) => *r,
        Bson::Int32(r) => f64::from(*r),
        Bson::Int64(r) => *r as f64,
        _ => return Err(refuse()),
    };
    if !radians.is_finite() || radians < 0.0 {
        return Err(loc.index(1).invalid("the $centerSphere radius must be a finite number ≥ 0"));
    }
    let center = to_spec(center, &loc.index(0))?;
    let metres = Value::from(metres_for(radians));
    Ok(leaf(Operator::DistanceLt, field, Some(Value::Array(vec![center, metres]))))
}

/// The metres whose radius in radians (metres / equatorial radius, as compiled) is `radians`:
/// `radians * R`, moved by a few units in the last place when that divides back exactly.
fn metres_for(radians: f64) -> f64 {
    let guess = radians * EARTH_RADIUS_M;
    let mut below = guess;
    let mut above = guess;
    for _ in 0..4 {
        for candidate in [below, above] {
            if candidate / EARTH_RADIUS_M == radians {
                return candidate;
            }
        }
        below = below.next_down();
        above = above.next_up();
    }
    guess
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metres_divide_back_to_the_radius() {
        for metres in [0.0, 1.0, 1500.0, 12_345.678, 1e-9, 6_378_100.0, 20_000_000.0] {
            let radians = metres / EARTH_RADIUS_M;
            assert_eq!(metres_for(radians) / EARTH_RADIUS_M, radians, "{metres}");
        }
    }
}
