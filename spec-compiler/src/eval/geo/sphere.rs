//! Shapes on the unit sphere with geodesic edges, as MongoDB's `2dsphere` geometry reads
//! GeoJSON: intersection and containment decided in the gnomonic projection around a centre,
//! which maps every geodesic to a straight line, so the planar tests are the spherical ones.
//! Only shapes within a hemisphere of that centre are decided (the caller refuses wider ones);
//! points exactly on a boundary count as on the shape.

/// A unit vector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct V3(pub(super) f64, pub(super) f64, pub(super) f64);

impl V3 {
    pub(super) fn from_degrees(lng: f64, lat: f64) -> V3 {
        let (lng, lat) = (lng.to_radians(), lat.to_radians());
        V3(lat.cos() * lng.cos(), lat.cos() * lng.sin(), lat.sin())
    }

    pub(super) fn dot(self, o: V3) -> f64 {
        self.0 * o.0 + self.1 * o.1 + self.2 * o.2
    }

    fn cross(self, o: V3) -> V3 {
        V3(self.1 * o.2 - self.2 * o.1, self.2 * o.0 - self.0 * o.2, self.0 * o.1 - self.1 * o.0)
    }

    fn norm(self) -> f64 {
        self.dot(self).sqrt()
    }

    pub(super) fn normalized(self) -> Option<V3> {
        let n = self.norm();
        (n > 1e-12).then(|| V3(self.0 / n, self.1 / n, self.2 / n))
    }

    pub(super) fn add(self, o: V3) -> V3 {
        V3(self.0 + o.0, self.1 + o.1, self.2 + o.2)
    }

    /// The angle between two unit vectors, in radians.
    pub(super) fn angle(self, o: V3) -> f64 {
        self.cross(o).norm().atan2(self.dot(o))
    }
}

/// A shape: its points, its polylines and its polygons (each a list of rings, the first the
/// outer one, each ring without its closing repeat).
#[derive(Debug, Clone, Default)]
pub(super) struct Shape {
    pub(super) points: Vec<V3>,
    pub(super) lines: Vec<Vec<V3>>,
    pub(super) polygons: Vec<Vec<Vec<V3>>>,
}

impl Shape {
    pub(super) fn vertices(&self) -> impl Iterator<Item = V3> + '_ {
        self.points
            .iter()
            .copied()
            .chain(self.lines.iter().flatten().copied())
            .chain(self.polygons.iter().flatten().flatten().copied())
    }

    /// A centre and an angular radius holding every vertex (and, being under a hemisphere, the
    /// edges and interiors between them).
    pub(super) fn cap(&self) -> Option<(V3, f64)> {
        let center = self.vertices().fold(V3(0.0, 0.0, 0.0), V3::add).normalized()?;
        let radius = self.vertices().map(|v| center.angle(v)).fold(0.0, f64::max);
        Some((center, radius))
    }
}

/// A plane tangent at a centre; points project along rays from the sphere's centre.
pub(super) struct Plane {
    center: V3,
    e1: V3,
    e2: V3,
}

/// The most a projected vertex may be from the centre (89°): beyond, the projection is unstable.
const MIN_DOT: f64 = 0.017;

impl Plane {
    pub(super) fn new(center: V3) -> Plane {
        let helper = if center.0.abs() < 0.9 { V3(1.0, 0.0, 0.0) } else { V3(0.0, 1.0, 0.0) };
        let e1 = helper.cross(center).normalized().expect("the helper is not parallel to the centre");
        let e2 = center.cross(e1);
        Plane { center, e1, e2 }
    }

    /// Whether every vertex of the shapes projects well.
    pub(super) fn holds(&self, shapes: &[&Shape]) -> bool {
        shapes.iter().all(|s| s.vertices().all(|v| v.dot(self.center) > MIN_DOT))
    }

    fn project(&self, v: V3) -> P2 {
        let d = v.dot(self.center);
        P2(v.dot(self.e1) / d, v.dot(self.e2) / d)
    }

    fn shape(&self, shape: &Shape) -> Flat {
        let ring = |r: &Vec<V3>| r.iter().map(|&v| self.project(v)).collect::<Vec<_>>();
        Flat {
            points: shape.points.iter().map(|&v| self.project(v)).collect(),
            lines: shape.lines.iter().map(ring).collect(),
            polygons: shape.polygons.iter().map(|rings| rings.iter().map(ring).collect()).collect(),
        }
    }

    /// Whether the shapes share a point.
    pub(super) fn intersects(&self, a: &Shape, b: &Shape) -> bool {
        let (a, b) = (self.shape(a), self.shape(b));
        let vertex_in = |x: &Flat, y: &Flat| x.all_vertices().any(|p| y.covers(p));
        a.segments().any(|s| b.segments().any(|t| segments_meet(s, t)))
            || vertex_in(&a, &b)
            || vertex_in(&b, &a)
            || a.points.iter().any(|p| b.on_points(*p))
    }

    /// Whether `inner` lies within the polygons of `outer`.
    pub(super) fn within(&self, inner: &Shape, outer: &Shape) -> bool {
        let (inner, outer) = (self.shape(inner), self.shape(outer));
        // Each part must lie inside one polygon: its vertices covered and no edge crossing a
        // boundary properly.
        let polygon_holds = |polygon: &Vec<Vec<P2>>, vertices: &[P2], edges: &[(P2, P2)]| {
            let flat = Flat { polygons: vec![polygon.clone()], ..Flat::default() };
            vertices.iter().all(|&p| flat.covers(p))
                && !edges.iter().any(|&e| flat.segments().any(|t| segments_cross(e, t)))
                && polygon.iter().skip(1).all(|hole| hole.iter().all(|&h| !inner_interior_contains(&inner, h)))
        };
        let part_holds = |vertices: Vec<P2>, edges: Vec<(P2, P2)>| {
            outer.polygons.iter().any(|polygon| polygon_holds(polygon, &vertices, &edges))
        };
        inner.points.iter().all(|&p| part_holds(vec![p], Vec::new()))
            && inner.lines.iter().all(|line| part_holds(line.clone(), ring_edges(line, false).collect()))
            && inner.polygons.iter().all(|rings| {
                part_holds(
                    rings.iter().flatten().copied().collect(),
                    rings.iter().flat_map(|r| ring_edges(r, true)).collect(),
                )
            })
    }
}

/// Whether a point lies strictly inside one of the polygons of `shape` (holes excluded).
fn inner_interior_contains(shape: &Flat, p: P2) -> bool {
    shape.polygons.iter().any(|rings| {
        rings.first().is_some_and(|outer| ring_contains(outer, p) && !on_ring(outer, p))
            && rings.iter().skip(1).all(|hole| !ring_contains(hole, p))
    })
}

/// A projected point.
#[derive(Debug, Clone, Copy, PartialEq)]
struct P2(f64, f64);

#[derive(Debug, Default)]
struct Flat {
    points: Vec<P2>,
    lines: Vec<Vec<P2>>,
    polygons: Vec<Vec<Vec<P2>>>,
}

impl Flat {
    fn all_vertices(&self) -> impl Iterator<Item = P2> + '_ {
        self.points.iter().chain(self.lines.iter().flatten()).chain(self.polygons.iter().flatten().flatten()).copied()
    }

    fn segments(&self) -> impl Iterator<Item = (P2, P2)> + '_ {
        self.lines
            .iter()
            .flat_map(|l| ring_edges(l, false))
            .chain(self.polygons.iter().flatten().flat_map(|r| ring_edges(r, true)))
    }

    /// Whether `p` is on a line or in (or on the boundary of) a polygon.
    fn covers(&self, p: P2) -> bool {
        self.lines.iter().any(|l| ring_edges(l, false).any(|s| on_segment(p, s)))
            || self.polygons.iter().any(|rings| {
                rings.iter().any(|r| on_ring(r, p))
                    || (rings.first().is_some_and(|outer| ring_contains(outer, p))
                        && rings.iter().skip(1).all(|hole| !ring_contains(hole, p)))
            })
    }

    fn on_points(&self, p: P2) -> bool {
        self.points.iter().any(|&q| close(p, q))
    }
}

fn ring_edges(ring: &[P2], closed: bool) -> impl Iterator<Item = (P2, P2)> + '_ {
    let count = if closed { ring.len() } else { ring.len().saturating_sub(1) };
    (0..count).map(move |i| (ring[i], ring[(i + 1) % ring.len()]))
}

const EPS: f64 = 1e-12;

fn close(a: P2, b: P2) -> bool {
    (a.0 - b.0).abs() <= EPS && (a.1 - b.1).abs() <= EPS
}

fn orient(a: P2, b: P2, c: P2) -> f64 {
    (b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0)
}

fn on_segment(p: P2, (a, b): (P2, P2)) -> bool {
    let scale = (b.0 - a.0).abs().max((b.1 - a.1).abs()).max(EPS);
    orient(a, b, p).abs() <= EPS * scale
        && p.0 >= a.0.min(b.0) - EPS
        && p.0 <= a.0.max(b.0) + EPS
        && p.1 >= a.1.min(b.1) - EPS
        && p.1 <= a.1.max(b.1) + EPS
}

fn on_ring(ring: &[P2], p: P2) -> bool {
    ring_edges(ring, true).any(|s| on_segment(p, s))
}

/// Even-odd ray casting (boundary points may fall either way: test `on_ring` first).
fn ring_contains(ring: &[P2], p: P2) -> bool {
    let mut inside = false;
    for (a, b) in ring_edges(ring, true) {
        if (a.1 > p.1) != (b.1 > p.1) && p.0 < a.0 + (p.1 - a.1) * (b.0 - a.0) / (b.1 - a.1) {
            inside = !inside;
        }
    }
    inside
}

/// Whether two segments share a point (touching included).
fn segments_meet(s: (P2, P2), t: (P2, P2)) -> bool {
    segments_cross(s, t) || on_segment(s.0, t) || on_segment(s.1, t) || on_segment(t.0, s) || on_segment(t.1, s)
}

/// Whether two segments cross at a point inside both.
fn segments_cross((a, b): (P2, P2), (c, d): (P2, P2)) -> bool {
    let (d1, d2) = (orient(a, b, c), orient(a, b, d));
    let (d3, d4) = (orient(c, d, a), orient(c, d, b));
    ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0)) && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(lng0: f64, lat0: f64, lng1: f64, lat1: f64) -> Shape {
        let ring = [(lng0, lat0), (lng1, lat0), (lng1, lat1), (lng0, lat1)];
        Shape { polygons: vec![vec![ring.iter().map(|&(x, y)| V3::from_degrees(x, y)).collect()]], ..Shape::default() }
    }

    fn point(lng: f64, lat: f64) -> Shape {
        Shape { points: vec![V3::from_degrees(lng, lat)], ..Shape::default() }
    }

    fn plane(a: &Shape, b: &Shape) -> Plane {
        let (ca, _) = a.cap().unwrap();
        let (cb, _) = b.cap().unwrap();
        Plane::new(ca.add(cb).normalized().unwrap())
    }

    #[test]
    fn points_in_and_out_of_a_polygon() {
        let paris = square(2.0, 48.5, 2.6, 49.0);
        let inside = point(2.3522, 48.8566);
        let outside = point(4.8357, 45.764);
        assert!(plane(&inside, &paris).within(&inside, &paris));
        assert!(!plane(&outside, &paris).within(&outside, &paris));
        assert!(plane(&inside, &paris).intersects(&inside, &paris));
    }

    #[test]
    fn geodesic_edges_bulge_towards_the_pole() {
        // The edge at latitude 60 between longitudes 0 and 90 is a great circle arc, which passes
        // latitude 67.8 at longitude 45: (45, 61) is inside (a planar reading would put it
        // outside), (45, 75) outside.
        let big = square(0.0, 10.0, 90.0, 60.0);
        let north = point(45.0, 61.0);
        let center = big.cap().unwrap().0;
        assert!(Plane::new(center).within(&point(45.0, 59.0), &big));
        assert!(Plane::new(center).within(&north, &big));
        assert!(!Plane::new(center).within(&point(45.0, 75.0), &big));
    }

    #[test]
    fn polygons_within_and_crossing() {
        let outer = square(2.1, 48.7, 2.3, 48.9);
        let inside = square(2.2, 48.78, 2.28, 48.86);
        let crossing = square(2.25, 48.81, 2.42, 48.9);
        assert!(plane(&inside, &outer).within(&inside, &outer));
        assert!(!plane(&crossing, &outer).within(&crossing, &outer));
        assert!(plane(&crossing, &outer).intersects(&crossing, &outer));
        let line = Shape {
            lines: vec![vec![V3::from_degrees(2.3522, 48.8566), V3::from_degrees(2.1301, 48.8049)]],
            ..Shape::default()
        };
        assert!(plane(&line, &inside).intersects(&line, &inside));
        assert!(!plane(&line, &square(2.25, 48.6, 2.4, 48.7)).intersects(&line, &square(2.25, 48.6, 2.4, 48.7)));
    }
}
