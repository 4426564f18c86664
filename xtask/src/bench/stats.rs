//! The figures: a phase's throughput and percentiles, and the ratios between phases that are
//! the benchmark's result (absolute numbers on a shared, noisy machine are not).
//!
//! Two kinds of ratio: a **throughput** ratio (`x / base` in requests or rows a second:
//! how much of the baseline's rate `x` reaches; higher is better), and a **cost** ratio
//! (`base / x`: how many times the baseline's cost one `x` request costs at the same
//! concurrency; lower is better), which is how the issue states its page targets.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// A phase's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Answers received, failures included.
    pub requests: u64,
    /// Failures by kind (an HTTP status, or `no answer`); empty when all succeeded.
    pub failures: BTreeMap<String, u64>,
    pub seconds: f64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Summary {
    /// Figures from latencies in microseconds.
    pub fn new(
        latencies: &Histogram<u64>,
        requests: u64,
        failures: BTreeMap<String, u64>,
        elapsed: Duration,
    ) -> Summary {
        Summary {
            requests,
            failures,
            seconds: elapsed.as_secs_f64(),
            per_second: per_second(requests, elapsed),
            p50_ms: percentile_ms(latencies, 0.50),
            p99_ms: percentile_ms(latencies, 0.99),
            max_ms: millis(latencies.max()),
        }
    }

    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }
}

/// `count` a second over `elapsed`; 0 for no time at all.
pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// The latency at `quantile` (0..=1) in milliseconds; 0 when nothing was recorded.
pub fn percentile_ms(latencies: &Histogram<u64>, quantile: f64) -> f64 {
    if latencies.is_empty() {
        return 0.0;
    }
    millis(latencies.value_at_quantile(quantile))
}

fn millis(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// Which side of its target a ratio must be on.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    AtLeast,
    AtMost,
}

/// A target the issue sets: the ratio (or figure) must be at least or at most `value`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Target {
    pub bound: Bound,
    pub value: f64,
}

impl Target {
    pub const fn at_least(value: f64) -> Target {
        Target {
            bound: Bound::AtLeast,
            value,
        }
    }

    pub const fn at_most(value: f64) -> Target {
        Target {
            bound: Bound::AtMost,
            value,
        }
    }

    pub fn met_by(&self, value: f64) -> bool {
        match self.bound {
            Bound::AtLeast => value >= self.value,
            Bound::AtMost => value <= self.value,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = match self.bound {
            Bound::AtLeast => "≥",
            Bound::AtMost => "≤",
        };
        write!(f, "{sign} {}", self.value)
    }
}

/// One line of the result: a ratio (or a figure with a target), and whether it meets it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ratio {
    pub name: String,
    /// `None` when the baseline measured nothing.
    pub value: Option<f64>,
    pub target: Option<Target>,
    /// Whether `value` meets `target`; `None` without either.
    pub met: Option<bool>,
}

impl Ratio {
    pub fn new(name: impl Into<String>, value: Option<f64>, target: Option<Target>) -> Ratio {
        let met = value
            .zip(target)
            .map(|(value, target)| target.met_by(value));
        Ratio {
            name: name.into(),
            value,
            target,
            met,
        }
    }
}

/// `x / base`: how much of the baseline's rate `x` reaches. `None` if `base` is not positive.
pub fn throughput_ratio(x: f64, base: f64) -> Option<f64> {
    (base > 0.0 && x.is_finite()).then(|| x / base)
}

/// `base / x`: what one `x` costs in baselines, at the same concurrency. `None` if `x` is not
/// positive.
pub fn cost_ratio(x: f64, base: f64) -> Option<f64> {
    (x > 0.0 && base.is_finite()).then(|| base / x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latencies(millis: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut histogram = Histogram::new_with_bounds(1, 60_000_000, 3).unwrap();
        for value in millis {
            histogram.record(value * 1000).unwrap();
        }
        histogram
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        let histogram = latencies(1..=1000);
        // 3 significant digits: within 0.1 %.
        assert!((percentile_ms(&histogram, 0.50) - 500.0).abs() <= 0.5);
        assert!((percentile_ms(&histogram, 0.99) - 990.0).abs() <= 1.0);
        assert!((percentile_ms(&histogram, 1.0) - 1000.0).abs() <= 1.0);
    }

    #[test]
    fn one_slow_request_in_a_hundred_sets_p99_not_p50() {
        let histogram = latencies(std::iter::repeat_n(2, 98).chain([2, 300]));
        assert!((percentile_ms(&histogram, 0.50) - 2.0).abs() < 0.01);
        assert!((percentile_ms(&histogram, 0.99) - 2.0).abs() < 0.01);
        assert!((percentile_ms(&histogram, 0.999) - 300.0).abs() <= 0.3);
    }

    #[test]
    fn nothing_recorded_gives_zeros_not_a_panic() {
        let summary = Summary::new(&latencies([]), 0, BTreeMap::new(), Duration::from_secs(10));
        assert_eq!(
            (summary.per_second, summary.p50_ms, summary.p99_ms),
            (0.0, 0.0, 0.0)
        );
        assert_eq!(per_second(5, Duration::ZERO), 0.0);
    }

    #[test]
    fn a_summary_counts_rate_and_failures() {
        let failures = BTreeMap::from([("500 Internal Server Error".to_owned(), 3)]);
        let summary = Summary::new(&latencies([1, 2, 3]), 300, failures, Duration::from_secs(2));
        assert_eq!(summary.per_second, 150.0);
        assert_eq!(summary.failed(), 3);
    }

    #[test]
    fn throughput_and_cost_ratios() {
        // view at 14,900 req/s against /health at 26,100: 0.57 of it.
        let view = throughput_ratio(14_900.0, 26_100.0).unwrap();
        assert!((view - 0.571).abs() < 0.001);
        // The depth ratio: first page 1,990 req/s, deep 1,830: a deep page costs 1.09.
        let depth = cost_ratio(1_830.0, 1_990.0).unwrap();
        assert!((depth - 1.087).abs() < 0.001);
        assert_eq!(throughput_ratio(1.0, 0.0), None);
        assert_eq!(cost_ratio(0.0, 1.0), None);
    }

    #[test]
    fn targets_are_judged_by_their_bound() {
        let view = Ratio::new("view / health", Some(0.57), Some(Target::at_least(0.7)));
        assert_eq!(view.met, Some(false));
        let depth = Ratio::new("deep / first", Some(1.09), Some(Target::at_most(1.2)));
        assert_eq!(depth.met, Some(true));
        assert_eq!(Ratio::new("x", None, Some(Target::at_most(1.0))).met, None);
        assert_eq!(Ratio::new("x", Some(1.0), None).met, None);
        assert_eq!(Target::at_least(0.25).to_string(), "≥ 0.25");
    }
}
