//! A request mix: weighted entries (method, path with `{key}`, key distribution, range, body
//! size), and the deterministic draws a connection makes from it.
//!
//! Each request's draw (entry, key, body size) is a function of the scenario's seed, the
//! worker's index and the request's number in that worker ([`stream_seed`]): in open loop its
//! slot in the schedule, so two runs of one plan send the same requests at the same offsets
//! whichever connection takes each; in closed loop, where no slots exist, the connection's own
//! count, so each connection sends the same sequence.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// The placeholder a path's key goes in.
pub const KEY: &str = "{key}";

/// Largest write body: the worker holds one shared buffer of the largest body, per process.
pub const MAX_BODY: u64 = 256 << 20;

/// A request mix, as the plan carries it to every worker (local or remote).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Mix {
    /// The key space every `{key}` is drawn from: `0..keys`.
    pub keys: u64,
    /// The scenario's seed; each connection's stream derives from it.
    pub seed: u64,
    pub entries: Vec<MixEntry>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Put,
    Post,
}

impl Method {
    pub const NAMES: &'static str = "GET, PUT or POST";

    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "GET" => Some(Method::Get),
            "PUT" => Some(Method::Put),
            "POST" => Some(Method::Post),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
        }
    }

    pub fn is_write(self) -> bool {
        self != Method::Get
    }
}

/// How an entry's keys are spread over the key space.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum KeyDist {
    Uniform,
    /// Key `k` (0-based) drawn with probability proportional to `1 / (k+1)^s`.
    Zipf(f64),
    /// This fraction of the entry's requests on key 0, the rest uniform over the others.
    Hot(f64),
}

impl KeyDist {
    /// `uniform`, `zipf:S` (S > 0) or `hot:F` (0 < F ≤ 1); the error says what was expected.
    pub fn parse(s: &str) -> Result<KeyDist, String> {
        let num = |v: &str| v.trim().parse::<f64>().ok();
        match s.trim().split_once(':') {
            None if s.trim() == "uniform" => Ok(KeyDist::Uniform),
            Some(("zipf", v)) => match num(v).map(KeyDist::Zipf) {
                Some(k) if k.is_valid() => Ok(k),
                _ => Err(format!("expected zipf:S with an exponent S > 0, got {s:?}")),
            },
            Some(("hot", v)) => match num(v).map(KeyDist::Hot) {
                Some(k) if k.is_valid() => Ok(k),
                _ => Err(format!(
                    "expected hot:F with a fraction F in (0, 1] of requests on key 0, got {s:?}"
                )),
            },
            _ => Err(format!(
                "expected \"uniform\", \"zipf:S\" (S > 0) or \"hot:F\" (0 < F <= 1), got {s:?}"
            )),
        }
    }

    /// Whether a draw can use its parameter: a finite S > 0, an F in (0, 1]. The one rule for
    /// a scenario's (parsed here) and for a plan a worker receives (`limits.rs`).
    pub fn is_valid(&self) -> bool {
        match *self {
            KeyDist::Uniform => true,
            KeyDist::Zipf(s) => s.is_finite() && s > 0.0,
            KeyDist::Hot(f) => f > 0.0 && f <= 1.0,
        }
    }

    /// As a scenario writes it.
    pub fn label(&self) -> String {
        match self {
            KeyDist::Uniform => "uniform".into(),
            KeyDist::Zipf(s) => format!("zipf:{s}"),
            KeyDist::Hot(f) => format!("hot:{f}"),
        }
    }
}

/// One `[[load.request]]`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MixEntry {
    pub weight: u32,
    pub method: Method,
    /// The request path; `{key}` (if present) is replaced by the drawn key.
    pub path: String,
    pub keys: KeyDist,
    /// First and last byte requested (a `Range` header); `None`: no `Range`, a 2xx is ok.
    pub range: Option<(u64, u64)>,
    /// Writes: the body size is drawn uniformly from this inclusive range.
    pub body: Option<(u64, u64)>,
}

/// The seed of request `number` of worker `worker`: SplitMix64 of the three, so that
/// neighbouring numbers give unrelated draws.
pub fn stream_seed(seed: u64, worker: usize, number: u64) -> u64 {
    let mut z = seed
        .wrapping_add((worker as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(number.wrapping_add(1).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One request drawn from the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Draw {
    pub entry: usize,
    pub key: u64,
    /// Writes: the body's size; 0 for reads.
    pub body: u64,
}

/// A worker's draws: the mix's weights and key samplers, and where each request's draw is
/// seeded from.
pub struct Drawer {
    seed: u64,
    worker: usize,
    /// Cumulative weights, for picking an entry.
    cumulative: Vec<u64>,
    samplers: Vec<KeySampler>,
    bodies: Vec<Option<(u64, u64)>>,
}

impl Drawer {
    pub fn new(mix: &Mix, worker: usize) -> Drawer {
        let mut total = 0u64;
        let cumulative = mix
            .entries
            .iter()
            .map(|e| {
                total += u64::from(e.weight);
                total
            })
            .collect();
        Drawer {
            seed: mix.seed,
            worker,
            cumulative,
            samplers: mix
                .entries
                .iter()
                .map(|e| KeySampler::new(e.keys, mix.keys))
                .collect(),
            bodies: mix.entries.iter().map(|e| e.body).collect(),
        }
    }

    /// The draw of this worker's request `number`: the same every time it is asked.
    pub fn draw(&self, number: u64) -> Draw {
        // Seeding a small generator is a few nanoseconds: cheaper than keeping the draws of a
        // request tied to whichever connection happened to send it.
        let mut rng = SmallRng::seed_from_u64(stream_seed(self.seed, self.worker, number));
        let total = self.cumulative.last().copied().unwrap_or(1).max(1);
        let w = rng.random_range(0..total);
        let entry = self.cumulative.partition_point(|&c| c <= w);
        let key = self.samplers[entry].sample(&mut rng);
        let body = self.bodies[entry].map_or(0, |(lo, hi)| rng.random_range(lo..=hi));
        Draw { entry, key, body }
    }
}

/// Draws keys in `0..n` under one distribution.
enum KeySampler {
    Uniform(u64),
    Hot(f64, u64),
    Zipf(Zipf),
}

impl KeySampler {
    fn new(dist: KeyDist, n: u64) -> KeySampler {
        let n = n.max(1);
        match dist {
            KeyDist::Uniform => KeySampler::Uniform(n),
            KeyDist::Hot(f) => KeySampler::Hot(f, n),
            KeyDist::Zipf(s) => KeySampler::Zipf(Zipf::new(n, s)),
        }
    }

    fn sample(&self, rng: &mut SmallRng) -> u64 {
        match *self {
            KeySampler::Uniform(n) => rng.random_range(0..n),
            // The cold share is uniform over keys 1..n; with one key every request is on it.
            KeySampler::Hot(f, n) => {
                if n == 1 || rng.random::<f64>() < f {
                    0
                } else {
                    rng.random_range(1..n)
                }
            }
            KeySampler::Zipf(ref z) => z.sample(rng) - 1,
        }
    }
}

/// Zipf over ranks `1..=n` with exponent `s > 0` by rejection-inversion (Hörmann and
/// Derflinger 1996, as in Apache Commons' `RejectionInversionZipfSampler`): constant time and
/// memory whatever `n`, where a table of the CDF would cost 8 bytes a key.
struct Zipf {
    n: f64,
    s: f64,
    h_x1: f64,
    h_n: f64,
    s_val: f64,
}

impl Zipf {
    fn new(n: u64, s: f64) -> Zipf {
        let mut z = Zipf {
            n: n as f64,
            s,
            h_x1: 0.0,
            h_n: 0.0,
            s_val: 0.0,
        };
        z.h_x1 = z.h_integral(1.5) - 1.0;
        z.h_n = z.h_integral(z.n + 0.5);
        z.s_val = 2.0 - z.h_integral_inverse(z.h_integral(2.5) - z.h(2.0));
        z
    }

    fn sample(&self, rng: &mut SmallRng) -> u64 {
        loop {
            let u = self.h_n + rng.random::<f64>() * (self.h_x1 - self.h_n);
            let x = self.h_integral_inverse(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.s_val || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
    }

    fn h(&self, x: f64) -> f64 {
        (-self.s * x.ln()).exp()
    }

    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        helper2((1.0 - self.s) * log_x) * log_x
    }

    fn h_integral_inverse(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.s)).max(-1.0);
        (helper1(t) * x).exp()
    }
}

/// `ln(1+x)/x`, accurate near 0.
fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// `(e^x - 1)/x`, accurate near 0.
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix(entries: Vec<MixEntry>, keys: u64) -> Mix {
        Mix {
            keys,
            seed: 7,
            entries,
        }
    }

    fn get(weight: u32, keys: KeyDist) -> MixEntry {
        MixEntry {
            weight,
            method: Method::Get,
            path: "/files/{key}".into(),
            keys,
            range: None,
            body: None,
        }
    }

    fn draws(m: &Mix, n: usize) -> Vec<Draw> {
        let d = Drawer::new(m, 0);
        (0..n as u64).map(|i| d.draw(i)).collect()
    }

    const N: usize = 100_000;

    #[test]
    fn hot_puts_its_fraction_on_key_zero() {
        let m = mix(vec![get(1, KeyDist::Hot(0.9))], 10_000);
        let d = draws(&m, N);
        let hot = d.iter().filter(|d| d.key == 0).count();
        // Binomial(100000, 0.9): sd = sqrt(N * 0.9 * 0.1) ≈ 95; 5 sd is ±475. The cold share
        // never lands on key 0, so this is the hot share alone. Fixed seed: this count is fixed.
        assert!((90_000 - 475..=90_000 + 475).contains(&hot), "{hot}");
        assert!(d.iter().all(|d| d.key < 10_000));
        // The rest is spread: no cold key takes more than a handful of the 10,000 draws.
        let mut per_key = vec![0u32; 10_000];
        d.iter().for_each(|d| per_key[d.key as usize] += 1);
        assert!(
            per_key[1..].iter().all(|&c| c < 12),
            "{:?}",
            per_key.iter().max()
        );
        assert_eq!(draws(&m, N), d, "same seed, same draws");
        let all = draws(&mix(vec![get(1, KeyDist::Hot(1.0))], 10), 1000);
        assert!(all.iter().all(|d| d.key == 0));
    }

    #[test]
    fn uniform_covers_the_key_space_evenly() {
        let d = draws(&mix(vec![get(1, KeyDist::Uniform)], 10), N);
        let mut per_key = [0usize; 10];
        d.iter().for_each(|d| per_key[d.key as usize] += 1);
        // Binomial(100000, 0.1): sd ≈ 95, 5 sd ≈ 475.
        assert!(
            per_key.iter().all(|&c| c.abs_diff(10_000) <= 475),
            "{per_key:?}"
        );
    }

    #[test]
    fn zipf_follows_its_power_law() {
        let n = 1000u64;
        let d = draws(&mix(vec![get(1, KeyDist::Zipf(1.0))], n), N);
        let mut per_key = vec![0usize; n as usize];
        d.iter().for_each(|d| per_key[d.key as usize] += 1);
        // P(key 0) = 1 / H(1000) ≈ 0.1336, P(key 1) half of it.
        let h: f64 = (1..=n).map(|k| 1.0 / k as f64).sum();
        let expect0 = N as f64 / h;
        // sd ≈ sqrt(N p (1-p)) ≈ 108; 5 sd.
        assert!(
            (per_key[0] as f64 - expect0).abs() < 540.0,
            "{}",
            per_key[0]
        );
        assert!(
            (per_key[1] as f64 - expect0 / 2.0).abs() < 400.0,
            "{}",
            per_key[1]
        );
        assert!(per_key[0] > per_key[9] && per_key[9] > per_key[99]);
        // A steeper exponent concentrates more on the first key.
        let steep = draws(&mix(vec![get(1, KeyDist::Zipf(2.0))], n), 10_000);
        let first = steep.iter().filter(|d| d.key == 0).count();
        // 1/ζ(2) ≈ 0.608 of 10,000; sd ≈ 49.
        assert!(first.abs_diff(6_080) < 250, "{first}");
    }

    #[test]
    fn entries_are_picked_by_weight_and_writes_get_body_sizes() {
        let mut put = get(1, KeyDist::Uniform);
        put.method = Method::Put;
        put.body = Some((4096, 8192));
        let m = mix(vec![get(9, KeyDist::Uniform), put], 100);
        let d = draws(&m, N);
        let writes: Vec<_> = d.iter().filter(|d| d.entry == 1).collect();
        // Binomial(100000, 0.1): 5 sd ≈ 475.
        assert!(writes.len().abs_diff(10_000) <= 475, "{}", writes.len());
        assert!(writes.iter().all(|d| (4096..=8192).contains(&d.body)));
        assert!(d.iter().filter(|d| d.entry == 0).all(|d| d.body == 0));
        // Another worker draws otherwise; a request's draw is its own, asked in any order.
        let other = Drawer::new(&m, 1);
        let o: Vec<Draw> = (0..20).map(|i| other.draw(i)).collect();
        assert_ne!(o, d[..20]);
        let mine = Drawer::new(&m, 0);
        assert_eq!(mine.draw(19), d[19]);
        assert_eq!(mine.draw(3), d[3]);
    }

    #[test]
    fn distributions_parse_and_refuse() {
        assert_eq!(KeyDist::parse("uniform"), Ok(KeyDist::Uniform));
        assert_eq!(KeyDist::parse("zipf:1.1"), Ok(KeyDist::Zipf(1.1)));
        assert_eq!(KeyDist::parse("hot:0.9"), Ok(KeyDist::Hot(0.9)));
        assert_eq!(KeyDist::parse("hot:1"), Ok(KeyDist::Hot(1.0)));
        for bad in [
            "zipf:0", "zipf:-1", "hot:0", "hot:1.5", "hot:x", "normal", "zipf",
        ] {
            assert!(KeyDist::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(KeyDist::Hot(0.9).label(), "hot:0.9");
    }
}
