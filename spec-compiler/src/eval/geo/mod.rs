//! `$geoWithin` (`$geometry` Polygon/MultiPolygon, `$centerSphere`) and `$geoIntersects`
//! (`$geometry` of any GeoJSON type) on stored GeoJSON and legacy `[lng, lat]` points, with
//! spherical geometry (`sphere.rs`). Stored values that are no valid geometry do not match, as
//! on a collection without a geo index. Legacy planar shapes (`$box`, `$polygon`, `$center`),
//! custom CRS (big polygons), and shapes too wide to project are left to the server.

mod sphere;

use bson::{Bson, Document};

use super::error::{At, EvalError, EvalErrorCode, Failure};
use super::value::{ArrRef, DocRef, Val};
use sphere::{Plane, Shape, V3};

/// A geo predicate on one value.
#[derive(Debug)]
pub(crate) struct Geo {
    query: Query,
    /// Where the operator is in the filter, for an error at evaluation.
    path: Vec<crate::error::PathSegment>,
}

#[derive(Debug)]
enum Query {
    /// The value lies within these polygons.
    WithinPolygons(Shape),
    /// The value lies within `radius` radians of `center`.
    WithinCap { center: V3, radius: f64 },
    /// The value shares a point with the shape.
    Intersects(Shape),
}

impl Geo {
    /// `{$geoWithin: …}` or `{$geoIntersects: …}`.
    pub(crate) fn parse(operator: &str, operand: &Bson, at: &At<'_>) -> Result<Geo, EvalError> {
        let Bson::Document(spec) = operand else { return Err(at.invalid(format!("{operator} needs an object"))) };
        let Some((key, value)) = spec.iter().next().filter(|_| spec.len() == 1) else {
            return Err(at.invalid(format!("{operator} takes exactly one shape")));
        };
        let at_shape = at.key(key);
        let needs_server =
            |what: &str| at_shape.error(EvalErrorCode::NeedsServer, format!("{what}: the server evaluates it"));
        let query = match (operator, key.as_str()) {
            (_, "$geometry") => {
                let Bson::Document(geometry) = value else {
                    return Err(at_shape.invalid("$geometry needs a GeoJSON object"));
                };
                if geometry.contains_key("crs") {
                    return Err(needs_server("a geometry with a custom CRS (big polygon)"));
                }
                let shape = geojson(geometry).ok_or_else(|| at_shape.invalid("$geometry is not valid GeoJSON"))?;
                let wide = shape.cap().is_none_or(|(_, radius)| radius > 1.5);
                if wide {
                    return Err(needs_server("a geometry wider than a hemisphere"));
                }
                if operator == "$geoIntersects" {
                    Query::Intersects(shape)
                } else if shape.points.is_empty() && shape.lines.is_empty() && !shape.polygons.is_empty() {
                    Query::WithinPolygons(shape)
                } else {
                    return Err(at_shape.invalid("$geoWithin $geometry must be a Polygon or MultiPolygon"));
                }
            }
            ("$geoWithin", "$centerSphere") => {
                let parsed = match value {
                    Bson::Array(items) if items.len() == 2 => legacy_point(&items[0]).zip(number(&items[1])),
                    _ => None,
                };
                let Some((center, radius)) = parsed.filter(|(_, r)| *r >= 0.0) else {
                    return Err(at_shape.invalid("$centerSphere takes [[lng, lat], radius in radians ≥ 0]"));
                };
                if radius >= 1.5 {
                    return Err(needs_server("a $centerSphere this wide"));
                }
                Query::WithinCap { center, radius }
            }
            ("$geoWithin", "$box" | "$polygon" | "$center") => return Err(needs_server("a legacy planar shape")),
            _ => return Err(at_shape.error(EvalErrorCode::UnknownOperator, format!("unknown geo specifier: {key}"))),
        };
        Ok(Geo { query, path: at.path() })
    }

    /// Whether a stored value satisfies the predicate.
    /// Whether a stored value (at `level`, were it a document or an array) satisfies the
    /// predicate.
    pub(crate) fn matches(&self, value: Option<Val<'_>>, level: usize) -> Result<bool, Failure> {
        let stored = match value {
            Some(Val::Doc(DocRef::Owned(doc))) => stored_document(doc),
            Some(Val::Arr(ArrRef::Owned(items))) => point(items),
            // Read from bytes: decoded first; one nested past MongoDB's limit is no geometry,
            // as it is when borrowed (the shape readers stop long before).
            Some(raw @ (Val::Doc(DocRef::Raw(_)) | Val::Arr(ArrRef::Raw(_)))) => match raw.to_bson(level) {
                Ok(Bson::Document(doc)) => stored_document(&doc),
                Ok(Bson::Array(items)) => point(&items),
                Ok(_) => None,
                Err(err) if err.code() == EvalErrorCode::InvalidDocument => return Err(err),
                Err(_) => None,
            },
            _ => None,
        };
        let Some(stored) = stored else { return Ok(false) };
        let too_wide = || {
            Box::new(EvalError::new(
                EvalErrorCode::NeedsServer,
                self.path.clone(),
                "a stored geometry too wide (or too far from the query's) to evaluate in memory",
            ))
        };
        match &self.query {
            // A cap under a hemisphere is convex: holding the vertices, it holds the edges.
            Query::WithinCap { center, radius } => Ok(stored.vertices().all(|v| center.angle(v) <= *radius)),
            Query::WithinPolygons(region) | Query::Intersects(region) => {
                let (Some((c1, r1)), Some((c2, r2))) = (region.cap(), stored.cap()) else { return Err(too_wide()) };
                if c1.angle(c2) > r1 + r2 + 1e-9 {
                    return Ok(false);
                }
                let plane = Plane::new(c1.add(c2).normalized().ok_or_else(too_wide)?);
                if !plane.holds(&[region, &stored]) {
                    return Err(too_wide());
                }
                Ok(match &self.query {
                    Query::WithinPolygons(_) => plane.within(&stored, region),
                    _ => plane.intersects(region, &stored),
                })
            }
        }
    }
}

/// A finite number (Int32, Int64, Double).
fn number(value: &Bson) -> Option<f64> {
    match value {
        Bson::Int32(n) => Some(f64::from(*n)),
        Bson::Int64(n) => Some(*n as f64),
        Bson::Double(d) if d.is_finite() => Some(*d),
        _ => None,
    }
}

/// A `[lng, lat]` position (more items allowed) in range.
fn position(value: &Bson) -> Option<V3> {
    let Bson::Array(items) = value else { return None };
    position_of(items)
}

/// [`position`] of an array's items.
fn position_of(items: &[Bson]) -> Option<V3> {
    point_of(items.iter())
}

/// The point of the first two values (numbers, a longitude and a latitude in range).
fn point_of<'b>(mut values: impl Iterator<Item = &'b Bson>) -> Option<V3> {
    let (lng, lat) = (number(values.next()?)?, number(values.next()?)?);
    ((-180.0..=180.0).contains(&lng) && (-90.0..=90.0).contains(&lat)).then(|| V3::from_degrees(lng, lat))
}

/// A legacy point: `[lng, lat]` or a document whose first two fields are numbers.
fn legacy_point(value: &Bson) -> Option<V3> {
    match value {
        Bson::Array(_) => position(value),
        Bson::Document(doc) => point_of(doc.values()),
        _ => None,
    }
}

/// A stored document as a shape: GeoJSON, or a legacy point.
fn stored_document(doc: &Document) -> Option<Shape> {
    if doc.contains_key("type") {
        return geojson(doc);
    }
    point_of(doc.values()).map(|p| Shape { points: vec![p], ..Shape::default() })
}

/// A stored `[lng, lat]` array as a shape.
fn point(items: &[Bson]) -> Option<Shape> {
    position_of(items).map(|p| Shape { points: vec![p], ..Shape::default() })
}

/// A GeoJSON geometry (any of the seven types) as a shape; `None` when malformed.
fn geojson(doc: &Document) -> Option<Shape> {
    let mut shape = Shape::default();
    add_geojson(doc, &mut shape, 0)?;
    Some(shape)
}

fn add_geojson(doc: &Document, shape: &mut Shape, depth: usize) -> Option<()> {
    // Borrowed: a copy of a stored array would recurse as deep as the document nests.
    fn list(value: &Bson) -> Option<&[Bson]> {
        match value {
            Bson::Array(items) => Some(items),
            _ => None,
        }
    }
    let kind = doc.get_str("type").ok()?;
    if kind == "GeometryCollection" {
        if depth > 8 {
            return None;
        }
        for item in list(doc.get("geometries")?)? {
            let Bson::Document(inner) = item else { return None };
            add_geojson(inner, shape, depth + 1)?;
        }
        return Some(());
    }
    let coordinates = doc.get("coordinates")?;
    let positions = |value: &Bson| list(value)?.iter().map(position).collect::<Option<Vec<V3>>>();
    let polygon = |value: &Bson| -> Option<Vec<Vec<V3>>> {
        list(value)?
            .iter()
            .map(|ring| {
                let mut ring = positions(ring)?;
                if ring.len() < 4 || ring.first() != ring.last() {
                    return None;
                }
                ring.pop();
                Some(ring)
            })
            .collect::<Option<Vec<_>>>()
            .filter(|rings| !rings.is_empty())
    };
    match kind {
        "Point" => shape.points.push(position(coordinates)?),
        "MultiPoint" => shape.points.extend(positions(coordinates)?),
        "LineString" => shape.lines.push(positions(coordinates).filter(|l| l.len() >= 2)?),
        "MultiLineString" => {
            for line in list(coordinates)? {
                shape.lines.push(positions(line).filter(|l| l.len() >= 2)?);
            }
        }
        "Polygon" => shape.polygons.push(polygon(coordinates)?),
        "MultiPolygon" => {
            for item in list(coordinates)? {
                shape.polygons.push(polygon(item)?);
            }
        }
        _ => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use bson::{bson, doc};

    use super::*;

    fn geo(operator: &str, operand: Bson) -> Geo {
        Geo::parse(operator, &operand, &At::Root).unwrap()
    }

    fn within_paris() -> Geo {
        geo(
            "$geoWithin",
            bson!({"$geometry": {"type": "Polygon", "coordinates": [[[2, 48.5], [2.6, 48.5], [2.6, 49], [2, 49], [2, 48.5]]]}}),
        )
    }

    #[test]
    fn stored_points_geojson_and_legacy() {
        let paris = within_paris();
        let point = |lng: f64, lat: f64| bson!({"type": "Point", "coordinates": [lng, lat]});
        assert!(paris.matches(Some(Val::of(&point(2.3522, 48.8566))), 2).unwrap());
        assert!(!paris.matches(Some(Val::of(&point(4.8357, 45.764))), 2).unwrap());
        assert!(paris.matches(Some(Val::of(&bson!([2.3522, 48.8566]))), 2).unwrap());
        assert!(paris.matches(Some(Val::of(&bson!({"lng": 2.3522, "lat": 48.8566}))), 2).unwrap());
        assert!(!paris.matches(Some(Val::of(&bson!("Paris"))), 2).unwrap());
        assert!(!paris.matches(None, 2).unwrap());
    }

    #[test]
    fn center_sphere_is_a_distance_in_radians() {
        // 5 km around Paris: the Louvre (1 km away) is inside, Versailles (17 km) outside.
        let cap = geo("$geoWithin", bson!({"$centerSphere": [[2.3522, 48.8566], 5000.0 / 6_378_100.0]}));
        assert!(cap.matches(Some(Val::of(&bson!({"type": "Point", "coordinates": [2.3376, 48.8606]}))), 2).unwrap());
        assert!(!cap.matches(Some(Val::of(&bson!({"type": "Point", "coordinates": [2.1301, 48.8049]}))), 2).unwrap());
    }

    #[test]
    fn what_is_left_to_the_server() {
        let code = |operator: &str, operand: Bson| Geo::parse(operator, &operand, &At::Root).unwrap_err().code();
        assert_eq!(code("$geoWithin", bson!({"$box": [[0, 0], [1, 1]]})), EvalErrorCode::NeedsServer);
        let big = doc! {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]], "crs": {"type": "name"}};
        assert_eq!(code("$geoIntersects", bson!({"$geometry": big})), EvalErrorCode::NeedsServer);
        assert_eq!(
            code("$geoWithin", bson!({"$geometry": {"type": "Point", "coordinates": [0, 0]}})),
            EvalErrorCode::InvalidFilter
        );
    }
}
