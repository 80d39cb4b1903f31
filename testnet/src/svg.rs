//! The `--plot` picture, written by hand as SVG text: left, a histogram of block propagation
//! latency (per block and node); right, every node's head slot over time. Plain functions, no
//! messages.

use std::fmt::Write;

use crate::report::TestnetReport;

/// Wide enough for the head-slot panel's legend to the right of it.
const W: f64 = 1040.0;
const H: f64 = 400.0;
const PANEL_W: f64 = 420.0;
const PANEL_H: f64 = 300.0;
const TOP: f64 = 50.0;
/// Left edges of the two panels.
const LATENCY_X: f64 = 50.0;
const HEADS_X: f64 = 520.0;
const BINS: usize = 20;
/// Legend rows at most (one per node); more nodes are summarised in one last row.
const LEGEND_ROWS: usize = 24;

/// A colour per node (cycled).
fn colour(i: usize) -> &'static str {
    const C: [&str; 10] = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf",
    ];
    C[i % C.len()]
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Counts of `samples` in `bins` equal bins over [0, max]; returns (counts, bin width).
pub fn histogram(samples: &[f64], bins: usize) -> (Vec<usize>, f64) {
    let max = samples.iter().copied().fold(0.0_f64, f64::max);
    let width = if max > 0.0 { max / bins as f64 } else { 1.0 };
    let mut counts = vec![0; bins.max(1)];
    for &s in samples.iter().filter(|s| s.is_finite() && **s >= 0.0) {
        let i = ((s / width) as usize).min(counts.len() - 1);
        counts[i] += 1;
    }
    (counts, width)
}

/// The SVG document for `report`.
pub fn render(report: &TestnetReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let title = format!(
        "hobbits-node testnet: {} nodes, {}, {} slots of {} ms, {}",
        report.nodes,
        report.topology,
        report.slots,
        report.slot_ms,
        if report.converged {
            "converged"
        } else {
            "NOT converged"
        }
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="20" text-anchor="middle" font-size="14">{}</text>"#,
        W / 2.0,
        esc(&title)
    );
    latency_panel(&mut s, report, LATENCY_X);
    heads_panel(&mut s, report, HEADS_X);
    s.push_str("</svg>\n");
    s
}

fn axes(s: &mut String, x0: f64, title: &str, x_label: &str, y_label: &str) {
    let (y0, y1) = (TOP + PANEL_H, TOP);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle" font-size="12">{}</text>"#,
        x0 + PANEL_W / 2.0,
        TOP - 8.0,
        esc(title)
    );
    let _ = writeln!(
        s,
        r#"<path d="M{x0},{y1} L{x0},{y0} L{},{y0}" stroke="black" fill="none"/>"#,
        x0 + PANEL_W
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        x0 + PANEL_W / 2.0,
        y0 + 32.0,
        esc(x_label)
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle" transform="rotate(-90 {} {})">{}</text>"#,
        x0 - 34.0,
        TOP + PANEL_H / 2.0,
        x0 - 34.0,
        TOP + PANEL_H / 2.0,
        esc(y_label)
    );
}

fn tick(s: &mut String, x: f64, y: f64, label: &str, vertical_axis: bool) {
    if vertical_axis {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            x - 4.0,
            y + 4.0,
            esc(label)
        );
    } else {
        let _ = writeln!(
            s,
            r#"<text x="{x}" y="{}" text-anchor="middle">{}</text>"#,
            y + 14.0,
            esc(label)
        );
    }
}

fn latency_panel(s: &mut String, r: &TestnetReport, x0: f64) {
    axes(
        s,
        x0,
        "block propagation latency (per block and node)",
        "ms from the block leaving its producer to its delivery to the node",
        "count",
    );
    let samples = &r.block_latency_samples_ms;
    if samples.is_empty() {
        tick(
            s,
            x0 + PANEL_W / 2.0,
            TOP + PANEL_H / 2.0,
            "no samples",
            false,
        );
        return;
    }
    let (counts, width) = histogram(samples, BINS);
    let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let bw = PANEL_W / counts.len() as f64;
    for (i, &c) in counts.iter().enumerate() {
        let h = PANEL_H * c as f64 / top;
        let _ = writeln!(
            s,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#1f77b4"/>"##,
            x0 + i as f64 * bw + 1.0,
            TOP + PANEL_H - h,
            (bw - 2.0).max(1.0),
            h
        );
    }
    for i in 0..=4 {
        let f = i as f64 / 4.0;
        tick(
            s,
            x0 + f * PANEL_W,
            TOP + PANEL_H,
            &format!("{:.1}", f * width * counts.len() as f64),
            false,
        );
        tick(
            s,
            x0,
            TOP + PANEL_H * (1.0 - f),
            &format!("{:.0}", f * top),
            true,
        );
    }
    if let Some(p50) = r.blocks.per_node.p50_ms {
        let x = x0 + PANEL_W * p50 / (width * counts.len() as f64);
        let _ = writeln!(
            s,
            r#"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{}" stroke="red" stroke-dasharray="4 3"/><text x="{:.1}" y="{}" fill="red">p50 {p50:.1} ms</text>"#,
            TOP + PANEL_H,
            x + 3.0,
            TOP + 12.0
        );
    }
}

fn heads_panel(s: &mut String, r: &TestnetReport, x0: f64) {
    axes(
        s,
        x0,
        "head slot of each node over time",
        "time, s",
        "head slot",
    );
    let t_max = r.timeline.last().map_or(1.0, |h| h.t_ms).max(1.0);
    let slot_max = r
        .timeline
        .iter()
        .flat_map(|h| h.slots.iter().flatten())
        .copied()
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    for i in 0..=4 {
        let f = i as f64 / 4.0;
        tick(
            s,
            x0 + f * PANEL_W,
            TOP + PANEL_H,
            &format!("{:.1}", f * t_max / 1000.0),
            false,
        );
        tick(
            s,
            x0,
            TOP + PANEL_H * (1.0 - f),
            &format!("{:.0}", f * slot_max),
            true,
        );
    }
    for node in 0..r.nodes {
        // A node's line breaks where it was not running.
        let mut d = String::new();
        let mut pen_down = false;
        for h in &r.timeline {
            match h.slots.get(node).copied().flatten() {
                Some(slot) => {
                    let x = x0 + PANEL_W * h.t_ms / t_max;
                    let y = TOP + PANEL_H * (1.0 - slot as f64 / slot_max);
                    let _ = write!(d, "{}{x:.1},{y:.1} ", if pen_down { "L" } else { "M" });
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        if !d.is_empty() {
            let _ = writeln!(
                s,
                r#"<path d="{}" stroke="{}" fill="none" stroke-width="1.5"><title>node {node}</title></path>"#,
                d.trim_end(),
                colour(node)
            );
        }
    }
    legend(s, r.nodes, x0 + PANEL_W + 12.0);
}

/// One row per node (a colour swatch and `node N`) from the panel's top, at most [`LEGEND_ROWS`].
fn legend(s: &mut String, nodes: usize, x: f64) {
    let shown = if nodes > LEGEND_ROWS {
        LEGEND_ROWS - 1
    } else {
        nodes
    };
    for node in 0..shown {
        let y = TOP + 12.0 * (node as f64 + 1.0);
        let _ = writeln!(
            s,
            r#"<line x1="{x}" y1="{}" x2="{}" y2="{}" stroke="{c}" stroke-width="2"/><text x="{}" y="{y}" fill="{c}">node {node}</text>"#,
            y - 4.0,
            x + 12.0,
            y - 4.0,
            x + 16.0,
            c = colour(node)
        );
    }
    if shown < nodes {
        let _ = writeln!(
            s,
            r#"<text x="{x}" y="{}">+{} more</text>"#,
            TOP + 12.0 * (shown as f64 + 1.0),
            nodes - shown
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::HeadSample;

    #[test]
    fn histogram_puts_the_max_in_the_last_bin() {
        let (c, w) = histogram(&[0.0, 1.0, 2.0, 10.0], 10);
        assert_eq!(c.iter().sum::<usize>(), 4);
        assert_eq!(c[9], 1);
        assert!((w - 1.0).abs() < 1e-9);
        let (c, _) = histogram(&[0.0, 0.0], 5);
        assert_eq!(c[0], 2);
    }

    #[test]
    fn the_svg_has_a_bar_per_bin_and_a_line_per_node() {
        let r = TestnetReport {
            nodes: 2,
            block_latency_samples_ms: vec![1.0, 2.0, 3.0],
            timeline: vec![
                HeadSample {
                    t_ms: 0.0,
                    slots: vec![Some(0), None],
                },
                HeadSample {
                    t_ms: 100.0,
                    slots: vec![Some(1), Some(1)],
                },
            ],
            ..Default::default()
        };
        let svg = render(&r);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<title>node").count(), 2);
        assert!(svg.matches("<rect").count() > BINS);
        assert_eq!(svg.matches("\">node ").count(), 2, "a legend row per node");
    }

    #[test]
    fn the_legend_fits_the_canvas_and_is_bounded() {
        // "node 99" at 11 px is under 50 px wide: it must end inside the canvas.
        let legend_x = HEADS_X + PANEL_W + 12.0 + 16.0;
        assert!(
            legend_x + 50.0 <= W,
            "legend starts at {legend_x}, canvas {W}"
        );
        let r = TestnetReport {
            nodes: 100,
            ..Default::default()
        };
        let svg = render(&r);
        assert_eq!(svg.matches("\">node ").count(), LEGEND_ROWS - 1);
        assert!(svg.contains(">+77 more</text>"));
        assert!(TOP + 12.0 * LEGEND_ROWS as f64 <= H);
    }
}
