//! A figure over the cycles of a repeated drill: min, median, p90 and max by nearest rank (each is the value of
//! one cycle, never an interpolation), so "p90 of 5 cycles" is the 5th smallest and "median of 5" the 3rd.

use serde::{Deserialize, Serialize};

/// The spread of one figure over the cycles that measured it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Stats {
    /// Cycles that measured the figure (a cycle without it, e.g. RPO unknown, is left out).
    pub samples: usize,
    pub min: f64,
    pub median: f64,
    pub p90: f64,
    pub max: f64,
}

/// The value at quantile `q` (0..=1) of `sorted` by nearest rank: the `ceil(q·n)`-th smallest.
pub fn nearest_rank(sorted: &[f64], q: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    Some(sorted[rank - 1])
}

/// The stats of `values` (any order; NaN is left out); `None` when there is none. Infinity (a cycle that never
/// recovered) sorts last.
pub fn stats(values: impl IntoIterator<Item = f64>) -> Option<Stats> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    Some(Stats {
        samples: v.len(),
        min: *v.first()?,
        median: nearest_rank(&v, 0.5)?,
        p90: nearest_rank(&v, 0.9)?,
        max: *v.last()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_takes_a_cycles_value() {
        let s = stats([6900.0, 6580.0, 7100.0, 6600.0, 9000.0]).unwrap();
        assert_eq!((s.samples, s.min, s.median, s.p90, s.max), (5, 6580.0, 6900.0, 9000.0, 9000.0));
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        let s = stats(ten).unwrap();
        assert_eq!((s.median, s.p90), (5.0, 9.0));
        assert_eq!(stats([3.0]).unwrap().p90, 3.0);
        assert!(stats([]).is_none());
        assert!(stats([f64::NAN]).is_none());
    }

    #[test]
    fn infinity_sorts_last() {
        let s = stats([f64::INFINITY, 1.0, 2.0]).unwrap();
        assert_eq!((s.min, s.median, s.max), (1.0, 2.0, f64::INFINITY));
    }
}
