//! Latency statistics: nearest-rank percentiles over sorted microseconds, shown in milliseconds.

use std::fmt;

/// Nearest-rank percentile `p` (0 to 100) of sorted values; the default (zero) when empty.
pub fn pct<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Microseconds as milliseconds.
pub fn ms(us: impl Into<i64>) -> f64 {
    us.into() as f64 / 1000.0
}

/// The percentiles a report shows of a set of latencies, in µs.
pub struct Summary {
    pub n: usize,
    pub p50: i64,
    pub p90: i64,
    pub p99: i64,
    pub max: i64,
}

impl Summary {
    /// The summary of latencies in µs, in any order.
    pub fn of(mut values: Vec<i64>) -> Self {
        values.sort_unstable();
        Self {
            n: values.len(),
            p50: pct(&values, 50.0),
            p90: pct(&values, 90.0),
            p99: pct(&values, 99.0),
            max: values.last().copied().unwrap_or(0),
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.n == 0 {
            return write!(f, "no samples");
        }
        write!(
            f,
            "p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms  (n={})",
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.max),
            self.n
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<u32> = (1..=100).collect();
        assert_eq!(pct(&values, 50.0), 50);
        assert_eq!(pct(&values, 99.0), 99);
        assert_eq!(pct(&values, 100.0), 100);
        assert_eq!(pct(&values, 0.0), 1);
        assert_eq!(pct::<u32>(&[], 50.0), 0);
    }

    #[test]
    fn a_summary_reads_in_milliseconds() {
        let s = Summary::of(vec![3000, 1000, 2000]);
        assert_eq!(
            s.to_string(),
            "p50 2.00 ms  p90 3.00 ms  p99 3.00 ms  max 3.00 ms  (n=3)"
        );
        assert_eq!(Summary::of(Vec::new()).to_string(), "no samples");
    }
}
