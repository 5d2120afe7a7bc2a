//! The HTML report's charts, inline SVG drawn from the report's numbers: requests per second (successes and
//! failures stacked) and p99 latency per second, with the faults, steps, reverts, outage windows, degraded windows and
//! recovery drawn on them, and the RTO breakdown on its own time axis. Each chart comes with its legend.

use std::fmt::Write;

use super::esc;
use crate::report::model::Report;
use crate::report::view::opt_ms;
use crate::timeline::{ActionRole, StackEventKind};

/// Colours of the charts (also used in the legends).
const OK: &str = "#2da44e";
const BAD: &str = "#cf222e";
const P99: &str = "#6639ba";
const FAULT: &str = "#bc4c00";
const STEP: &str = "#0969da";
const OUTAGE: &str = "#ffebe9";
const RECOVERING: &str = "#fff8c5";
const DEGRADED: &str = "#ddf4ff";
const DETECTED: &str = "#9a6700";
const BACK: &str = "#1a7f37";

/// A chart's plot area and its time axis, in seconds since the load started.
struct Frame {
    width: f64,
    height: f64,
    left: f64,
    top: f64,
    /// Seconds shown: 0 to `span`.
    span: f64,
}

impl Frame {
    fn plot_w(&self) -> f64 {
        self.width - self.left - 10.0
    }
    fn plot_h(&self) -> f64 {
        self.height - self.top - 28.0
    }
    fn x(&self, seconds: f64) -> f64 {
        self.left + (seconds.clamp(0.0, self.span) / self.span) * self.plot_w()
    }
    fn bottom(&self) -> f64 {
        self.top + self.plot_h()
    }
    fn y(&self, value: f64, max: f64) -> f64 {
        self.bottom() - (value / max).clamp(0.0, 1.0) * self.plot_h()
    }

    fn open(&self, s: &mut String, label: &str) {
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{label}">"#,
            w = self.width,
            h = self.height,
            label = esc(label)
        );
    }

    /// The time axis with a tick every few seconds, and the y axis with its top value.
    fn axes(&self, s: &mut String, y_max_label: &str) {
        let step = nice_step(self.span / 10.0);
        let mut t = 0.0;
        while t <= self.span + 1e-9 {
            let x = self.x(t);
            let _ = write!(
                s,
                r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{:.1}" stroke="#ccc"/><text x="{x:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#555">{}s</text>"##,
                self.bottom(),
                self.bottom() + 4.0,
                self.bottom() + 16.0,
                trim_float(t)
            );
            t += step;
        }
        let _ = write!(
            s,
            r##"<line x1="{l}" y1="{t}" x2="{l}" y2="{b}" stroke="#999"/><line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/><text x="{tx}" y="{ty}" font-size="11" text-anchor="end" fill="#555">{y_max_label}</text>"##,
            l = self.left,
            t = self.top,
            b = self.bottom(),
            r = self.left + self.plot_w(),
            tx = self.left - 4.0,
            ty = self.top + 10.0,
        );
    }

    /// Shaded bands behind the data: fault to recovery, each degraded window and each outage window.
    fn bands(&self, s: &mut String, r: &Report) {
        let m = &r.measurement;
        if let (Some(f), Some(rec)) = (r.t_fault_ms, m.rto.t_recovered_ms) {
            self.band(s, f / 1000.0, rec / 1000.0, RECOVERING, "fault to stable recovery (RTO)");
        }
        for w in &m.slo.degraded.windows {
            let (a, b) = (w.start_ms / 1000.0, (w.start_ms + w.length_ms) / 1000.0);
            let title = format!(
                "degraded window: {} from {a:.3} s, {} answers slower than {}",
                opt_ms(Some(w.length_ms)),
                w.slow_requests,
                opt_ms(m.slo.slow_ms)
            );
            self.band(s, a, b, DEGRADED, &title);
        }
        for w in &m.outages.windows {
            let (a, b) = (w.start_ms / 1000.0, (w.start_ms + w.length_ms) / 1000.0);
            let title = format!(
                "outage window: {} from {:.3} s, {} failed",
                opt_ms(Some(w.length_ms)),
                a,
                w.failed_requests
            );
            self.band(s, a, b, OUTAGE, &title);
        }
    }

    fn band(&self, s: &mut String, from: f64, to: f64, colour: &str, title: &str) {
        let (x0, x1) = (self.x(from), self.x(to));
        let _ = write!(
            s,
            r#"<rect x="{x0:.1}" y="{}" width="{:.1}" height="{:.1}" fill="{colour}"><title>{}</title></rect>"#,
            self.top,
            (x1 - x0).max(1.0),
            self.plot_h(),
            esc(title)
        );
    }

    /// A vertical line per fault and step (at its effect, or its start when it had none) and per revert.
    fn markers(&self, s: &mut String, r: &Report) {
        for a in &r.actions {
            let colour = if a.role == ActionRole::Fault { FAULT } else { STEP };
            let at = a.effect_ms.unwrap_or(a.started_ms) / 1000.0;
            self.marker(s, at, colour, "", &a.summary);
            if let Some(rev) = a.reverted_ms {
                self.marker(
                    s,
                    rev / 1000.0,
                    colour,
                    r#" stroke-dasharray="4 3""#,
                    &format!("reverted: {}", a.summary),
                );
            }
        }
    }

    /// A small triangle above the plot per stack event that matters for the breakdown (the stack noticed,
    /// promoted or re-routed, a component came back).
    fn stack_marks(&self, s: &mut String, r: &Report) {
        for e in r.stack_events.iter().filter(|e| e.at_ms > 0.0) {
            let colour = match e.kind {
                StackEventKind::Detection => DETECTED,
                StackEventKind::Promotion => STEP,
                StackEventKind::Recovery => BACK,
                StackEventKind::Info => continue,
            };
            let x = self.x(e.at_ms / 1000.0);
            let y = self.top;
            let _ = write!(
                s,
                r#"<path d="M{:.1},{:.1} L{:.1},{:.1} L{x:.1},{:.1} Z" fill="{colour}"><title>{}</title></path>"#,
                x - 5.0,
                y,
                x + 5.0,
                y,
                y + 8.0,
                esc(&format!("{:.3} s: {} {}: {}", e.at_ms / 1000.0, e.source, e.subject, e.state))
            );
        }
    }

    fn marker(&self, s: &mut String, at: f64, colour: &str, extra: &str, title: &str) {
        let x = self.x(at);
        let _ = write!(
            s,
            r#"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="{colour}" stroke-width="2"{extra}><title>{}</title></line>"#,
            self.top,
            self.bottom(),
            esc(&format!("{at:.3} s: {title}"))
        );
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = raw.max(1e-3);
    let base = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * base).find(|s| *s >= raw).unwrap_or(10.0 * base)
}

fn trim_float(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

fn span_seconds(r: &Report) -> f64 {
    (r.measurement.per_second.len() as f64).max(r.scenario.duration_ms / 1000.0).max(1.0)
}

/// Requests per second: successes and failures stacked.
fn throughput_chart(s: &mut String, r: &Report) {
    let f = Frame { width: 960.0, height: 240.0, left: 56.0, top: 10.0, span: span_seconds(r) };
    let buckets = &r.measurement.per_second;
    let max = buckets.iter().map(|b| b.succeeded + b.failed).max().unwrap_or(1).max(1) as f64;
    f.open(s, "requests per second, succeeded and failed");
    let bar = (f.x(1.0) - f.x(0.0)).max(0.5);
    for b in buckets {
        let x = f.x(b.second as f64);
        let ok_top = f.y(b.succeeded as f64, max);
        let all_top = f.y((b.succeeded + b.failed) as f64, max);
        let title =
            format!("second {}: {} ok, {} failed, p99 {}", b.second, b.succeeded, b.failed, opt_ms(b.p99_ms));
        let _ = write!(
            s,
            r#"<g><title>{}</title><rect x="{x:.2}" y="{ok_top:.1}" width="{bar:.2}" height="{:.1}" fill="{OK}"/>"#,
            esc(&title),
            f.bottom() - ok_top
        );
        if b.failed > 0 {
            let _ = write!(
                s,
                r#"<rect x="{x:.2}" y="{all_top:.1}" width="{bar:.2}" height="{:.1}" fill="{BAD}"/>"#,
                (ok_top - all_top).max(1.0)
            );
        }
        s.push_str("</g>");
    }
    f.markers(s, r);
    f.stack_marks(s, r);
    f.axes(s, &format!("{max:.0}/s"));
    s.push_str("</svg>");
}

/// p99 latency per second (from the intended send time), on a scale up to the largest second's p99.
fn latency_chart(s: &mut String, r: &Report) {
    let f = Frame { width: 960.0, height: 200.0, left: 56.0, top: 10.0, span: span_seconds(r) };
    let points: Vec<(f64, f64)> = r
        .measurement
        .per_second
        .iter()
        .filter_map(|b| b.p99_ms.map(|p| (b.second as f64 + 0.5, p)))
        .collect();
    let max = points.iter().map(|p| p.1).fold(0.0f64, f64::max).max(1.0);
    f.open(s, "p99 latency per second");
    f.bands(s, r);
    f.markers(s, r);
    let path: Vec<String> =
        points.iter().map(|(t, p)| format!("{:.1},{:.1}", f.x(*t), f.y(*p, max))).collect();
    if !path.is_empty() {
        let _ = write!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{P99}" stroke-width="1.5"/>"#,
            path.join(" ")
        );
    }
    f.axes(s, &opt_ms(Some(max)));
    s.push_str("</svg>");
}

/// The RTO breakdown on its own time axis, from the fault to stable recovery.
pub fn breakdown_chart(s: &mut String, r: &Report) {
    let steps: Vec<(&str, f64)> = r
        .measurement
        .breakdown
        .iter()
        .filter_map(|b| b.at_ms.map(|t| (b.step.as_str(), t / 1000.0)))
        .collect();
    let (Some(first), Some(last)) =
        (steps.iter().map(|s| s.1).reduce(f64::min), steps.iter().map(|s| s.1).reduce(f64::max))
    else {
        return;
    };
    let span = (last - first).max(0.001);
    let (width, left, right) = (960.0, 20.0, 200.0);
    let row = 22.0;
    let height = 20.0 + row * steps.len() as f64;
    let x = |t: f64| left + (t - first) / span * (width - left - right);
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="RTO breakdown">"#
    );
    for (i, (step, t)) in steps.iter().enumerate() {
        let y = 16.0 + row * i as f64;
        let colour = if i == 0 {
            FAULT
        } else if *step == "stable_recovery" {
            OK
        } else {
            STEP
        };
        let _ = write!(
            s,
            r##"<line x1="{x0:.1}" y1="{y:.1}" x2="{x1:.1}" y2="{y:.1}" stroke="#ddd" stroke-width="6"/><circle cx="{x1:.1}" cy="{y:.1}" r="5" fill="{colour}"/><text x="{tx:.1}" y="{ty:.1}" font-size="12" fill="#333">{label} +{since}</text>"##,
            x0 = x(first),
            x1 = x(*t),
            tx = x(*t) + 9.0,
            ty = y + 4.0,
            label = esc(&step.replace('_', " ")),
            since = esc(&opt_ms(Some((t - first) * 1000.0))),
        );
    }
    s.push_str("</svg>");
}

fn legend(s: &mut String, items: &[(&str, &str)]) {
    s.push_str(r#"<p class="legend">"#);
    for (colour, text) in items {
        let _ = write!(s, r#"<span><i class="sw" style="background:{colour}"></i>{}</span>"#, esc(text));
    }
    s.push_str("</p>");
}

/// What the clients saw, second by second: the throughput chart and the latency chart, each under its legend.
pub fn clients(s: &mut String, r: &Report) {
    legend(
        s,
        &[
            (OK, "succeeded"),
            (BAD, "failed"),
            (FAULT, "fault (dashed: reverted)"),
            (STEP, "operator step"),
            (DETECTED, "▼ stack noticed"),
            (STEP, "▼ promoted / re-routed"),
            (BACK, "▼ component back"),
        ],
    );
    throughput_chart(s, r);
    legend(
        s,
        &[
            (P99, "p99 latency from the intended send time"),
            (RECOVERING, "fault to stable recovery"),
            (OUTAGE, "outage window"),
            (DEGRADED, "degraded window (answers slower than [measure] slow)"),
        ],
    );
    latency_chart(s, r);
}

/// A repeated drill's figures, one strip plot each: every cycle a dot on the figure's axis (green when the
/// cycle passed, red when not), the median a grey tick, and the limit, where the scenario sets one, a red line.
pub fn strip_plots(s: &mut String, r: &Report) {
    let Some(rep) = &r.repeat else { return };
    legend(
        s,
        &[
            (OK, "a cycle that passed"),
            (BAD, "a cycle that failed"),
            ("#888", "median"),
            (BAD, "limit (dashed)"),
        ],
    );
    for d in rep.distributions.iter().filter(|d| d.values.iter().any(Option::is_some)) {
        let (label, fmt) = crate::report::view::figure(&d.metric);
        let top = d.values.iter().flatten().copied().chain(d.limit).fold(0.0_f64, f64::max).max(1e-9) * 1.08;
        let (width, height, left, right) = (960.0, 44.0, 230.0, 20.0);
        let x = |v: f64| left + (v / top).clamp(0.0, 1.0) * (width - left - right);
        let _ = write!(
            s,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{l}"><text x="6" y="26" font-size="12" fill="#333">{l}</text><line x1="{left}" y1="36" x2="{x1}" y2="36" stroke="#ccc"/><text x="{left}" y="{height}" font-size="9" fill="#666">0</text><text x="{tx}" y="{height}" font-size="9" fill="#666" text-anchor="end">{top_text}</text>"##,
            l = esc(&label),
            x1 = width - right,
            tx = width - right,
            top_text = esc(&fmt(top)),
        );
        if let Some(median) = d.stats.map(|st| st.median) {
            let _ = write!(
                s,
                r##"<line x1="{m:.1}" y1="8" x2="{m:.1}" y2="36" stroke="#888" stroke-width="2"/>"##,
                m = x(median)
            );
        }
        if let Some(limit) = d.limit {
            let _ = write!(
                s,
                r##"<line x1="{l:.1}" y1="4" x2="{l:.1}" y2="38" stroke="{BAD}" stroke-dasharray="4 3"><title>limit {t}</title></line>"##,
                l = x(limit),
                t = esc(&fmt(limit)),
            );
        }
        for (i, (v, c)) in d.values.iter().zip(&rep.cycles).enumerate() {
            let Some(v) = v else { continue };
            let colour = if c.verdict == crate::report::Verdict::Passed { OK } else { BAD };
            let y = 14.0 + (i % 4) as f64 * 5.0;
            let _ = write!(
                s,
                r#"<circle cx="{cx:.1}" cy="{y:.1}" r="4.5" fill="{colour}" fill-opacity="0.8"><title>cycle {k}: {t}</title></circle>"#,
                cx = x(*v),
                k = c.cycle,
                t = esc(&fmt(*v)),
            );
        }
        s.push_str("</svg>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::report;

    fn clients_svg(r: &Report) -> String {
        let mut s = String::new();
        clients(&mut s, r);
        s
    }

    #[test]
    fn one_bar_per_second_and_failures_stacked_where_they_happened() {
        let svg = clients_svg(&report());
        let throughput = svg.split("</svg>").next().unwrap();
        assert_eq!(throughput.matches("<g><title>second ").count(), 20);
        assert_eq!(throughput.matches(&format!("fill=\"{BAD}\"/>")).count(), 2, "seconds 5 and 6 failed");
        assert!(throughput.contains("second 5: 0 ok, 100 failed"));
        let latency = svg.split("</svg>").nth(1).unwrap();
        assert!(latency.contains("outage window: 2.00 s from 5.000 s"), "bands behind the latency line");
        assert!(!latency.contains("degraded window:"));
    }

    #[test]
    fn degraded_windows_are_bands_too() {
        let mut r = report();
        r.measurement.slo.slow_ms = Some(500.0);
        r.measurement.slo.degraded.windows.push(crate::measure::slo::DegradedWindow {
            start_ms: 8000.0,
            length_ms: 1500.0,
            slow_requests: 12,
        });
        let svg = clients_svg(&r);
        let latency = svg.split("</svg>").nth(1).unwrap();
        assert!(
            latency.contains("degraded window: 1.50 s from 8.000 s, 12 answers slower than 500.0 ms"),
            "{latency}"
        );
        assert!(latency.contains(&format!("fill=\"{DEGRADED}\"")));
    }

    #[test]
    fn the_breakdown_is_drawn_only_when_there_is_one() {
        let mut r = report();
        let mut s = String::new();
        breakdown_chart(&mut s, &r);
        assert_eq!(s.matches("<circle").count(), 5, "every step that happened: {s}");
        r.measurement.breakdown.clear();
        let mut none = String::new();
        breakdown_chart(&mut none, &r);
        assert!(none.is_empty());
    }

    #[test]
    fn axis_steps_are_round() {
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(2.6), 5.0);
        assert_eq!(nice_step(6.0), 10.0);
        assert_eq!(nice_step(13.0), 20.0);
        assert_eq!(nice_step(60.0), 100.0);
    }
}
