//! The shared measuring of the persistence benches: two operations timed in interleaved rounds
//! after a warm-up, and their ratio against the 1.10 goal.

use std::time::{Duration, Instant};

const ROUNDS: usize = 5;

/// Mean duration of `iterations` calls of each of two closures, interleaved in rounds.
pub async fn pair<A, B>(iterations: usize, mut ours: A, mut raw: B) -> (Duration, Duration)
where
    A: AsyncFnMut(usize),
    B: AsyncFnMut(usize),
{
    // One untimed round warms the server, the pool and the caches.
    for i in 0..iterations / 4 {
        ours(ROUNDS * iterations + i).await;
        raw(ROUNDS * iterations + i).await;
    }
    let (mut t_ours, mut t_raw) = (Duration::ZERO, Duration::ZERO);
    for round in 0..ROUNDS {
        let start = Instant::now();
        for i in 0..iterations {
            ours(round * iterations + i).await;
        }
        t_ours += start.elapsed();
        let start = Instant::now();
        for i in 0..iterations {
            raw(round * iterations + i).await;
        }
        t_raw += start.elapsed();
    }
    let n = (ROUNDS * iterations) as u32;
    (t_ours / n, t_raw / n)
}

pub fn report(name: &str, (ours, raw): (Duration, Duration)) {
    let ratio = ours.as_secs_f64() / raw.as_secs_f64();
    let verdict = if ratio <= 1.10 { "ok" } else { "ABOVE 1.10" };
    println!("{name:<52} ours {:>8.1} µs   raw {:>8.1} µs   ratio {ratio:.3}  {verdict}", micros(ours), micros(raw));
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
