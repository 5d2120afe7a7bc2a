//! The summary `hadrill load` prints: throughput, latency percentiles, send lag (how late the open model sent
//! requests against their schedule), failures by kind.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::timeline::{Failure, Nanos};

#[derive(Debug, Clone, Serialize)]
pub struct LoadSummary {
    pub url: String,
    /// `null` for `--rate max`.
    pub target_rate: Option<u32>,
    pub connections: usize,
    pub duration_s: f64,
    pub requests: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Completed requests per second over the duration.
    pub throughput_rps: f64,
    /// Requests sent per second (missed sends excluded).
    pub sent_rps: f64,
    pub latency_ms: Quantiles,
    /// Actual send time minus intended send time (0 by construction with `--rate max`).
    pub send_lag_ms: Quantiles,
    pub failures_by_kind: BTreeMap<String, u64>,
    /// hadrill's own peak resident memory, in bytes (null where unknown).
    pub peak_rss_bytes: Option<u64>,
    /// hadrill's own CPU time (user + system) over the run, in seconds (null where unknown).
    pub cpu_seconds: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Quantiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

fn quantiles(h: &Histogram<u64>) -> Quantiles {
    let q = |p: f64| if h.is_empty() { 0.0 } else { h.value_at_quantile(p) as f64 / 1000.0 };
    Quantiles {
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        p999: q(0.999),
        max: if h.is_empty() { 0.0 } else { h.max() as f64 / 1000.0 },
    }
}

pub fn summarize(
    url: &str,
    rate: Option<u32>,
    connections: usize,
    duration: Nanos,
    outcomes: &crate::outcomes::Outcomes,
) -> LoadSummary {
    let mut lat = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("histogram");
    let mut lag = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("histogram");
    let mut failures = BTreeMap::new();
    let (mut ok, mut sent) = (0u64, 0u64);
    for o in outcomes {
        if o.failure() != Some(Failure::Missed) {
            sent += 1;
            let _ = lat.record((o.latency() / 1000).max(1));
            let _ = lag.record((o.started().saturating_sub(o.intended()) / 1000).max(1));
        }
        match o.failure() {
            None => ok += 1,
            Some(f) => *failures.entry(f.label()).or_default() += 1,
        }
    }
    let secs = (duration as f64 / 1e9).max(1e-9);
    LoadSummary {
        url: url.to_string(),
        target_rate: rate,
        connections,
        duration_s: secs,
        requests: outcomes.len(),
        succeeded: ok,
        failed: outcomes.len() - ok,
        throughput_rps: ok as f64 / secs,
        sent_rps: sent as f64 / secs,
        latency_ms: quantiles(&lat),
        send_lag_ms: quantiles(&lag),
        failures_by_kind: failures,
        peak_rss_bytes: crate::usage::peak_bytes(),
        cpu_seconds: crate::usage::cpu_seconds(),
    }
}

impl std::fmt::Display for LoadSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rate = self.target_rate.map(|r| format!("{r}/s")).unwrap_or_else(|| "max".into());
        writeln!(
            f,
            "{} at rate {rate}, {} connections, {:.1}s",
            self.url, self.connections, self.duration_s
        )?;
        writeln!(
            f,
            "  requests    {} ({} ok, {} failed)\n  throughput  {:.1} req/s ok, {:.1} req/s sent",
            self.requests, self.succeeded, self.failed, self.throughput_rps, self.sent_rps
        )?;
        let l = &self.latency_ms;
        writeln!(
            f,
            "  latency     p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms",
            l.p50, l.p90, l.p99, l.p999, l.max
        )?;
        let s = &self.send_lag_ms;
        writeln!(f, "  send lag    p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms", s.p50, s.p99, s.max)?;
        if !self.failures_by_kind.is_empty() {
            let k: Vec<String> = self.failures_by_kind.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            writeln!(f, "  failures    {}", k.join(", "))?;
        }
        if let Some(b) = self.peak_rss_bytes {
            writeln!(f, "  memory      {:.1} MiB peak RSS (hadrill itself)", b as f64 / (1 << 20) as f64)?;
        }
        if let Some(c) = self.cpu_seconds {
            writeln!(
                f,
                "  cpu         {c:.2} s user+system ({:.0}% of one core over the run; hadrill itself)",
                100.0 * c / self.duration_s
            )?;
        }
        Ok(())
    }
}
