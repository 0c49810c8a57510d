//! Hand-written inline SVG line charts for the HTML pages: no script, no external reference, styled
//! by the page's CSS classes (`s0`..`s7` give each line a colour *and* a dash pattern, so charts
//! stay readable when printed without colour; a [`Tone::Failure`] line is red over a shaded area,
//! so failures read as failures).
//!
//! Two x scales: plain seconds (timelines, with phase boundaries marked) and the HdrHistogram
//! percentile scale, x = log10(1 / (1 - p)), labelled 50%, 90%, 99%, 99.9%, ...

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// One line of a chart.
#[derive(Debug, Clone, Default)]
pub struct Line {
    /// Legend label.
    pub label: String,
    /// Points in data coordinates (x in seconds or in log10(1/(1-p)); y in the chart's unit).
    pub points: Vec<(f64, f64)>,
    /// How the line is drawn.
    pub tone: Tone,
}

/// How a line is drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tone {
    /// The next of the eight line styles.
    #[default]
    Normal,
    /// Failure red over a shaded area (failures, errors).
    Failure,
}

/// A vertical marker (phase boundary).
#[derive(Debug, Clone)]
pub struct Mark {
    /// x in data coordinates.
    pub x: f64,
    /// Label drawn at the top.
    pub label: String,
}

/// Horizontal scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum XScale {
    /// Seconds since the start; ticks at nice round seconds.
    Seconds,
    /// HdrHistogram percentile axis over `decades` decades of 1/(1-p) (2 = up to 99%).
    Percentile {
        /// Number of decades shown.
        decades: u32,
    },
}

/// A line chart.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// y axis unit label, e.g. `ms` or `per second`.
    pub y_label: String,
    /// x scale.
    pub x: XScale,
    /// Lines (at most 8 distinct styles; more reuse them).
    pub lines: Vec<Line>,
    /// Vertical markers.
    pub marks: Vec<Mark>,
    /// Width of the drawing in SVG units (it scales to its container; a smaller width gives
    /// larger text): [`WIDE`] for full-width charts, [`NARROW`] for charts in a two-column grid.
    pub width: f64,
    /// Height of the drawing in SVG units: [`TALL`], or [`SHORT`] for a stack of timelines.
    pub height: f64,
    /// Seconds scale: the right end of the x axis (`None`: the data's). Stacked timelines share
    /// it so that their x axes line up.
    pub x_to: Option<f64>,
}

/// Width of a full-width chart.
pub const WIDE: f64 = 900.0;
/// Width of a chart in a two-column grid.
pub const NARROW: f64 = 560.0;
/// Height of a chart on its own.
pub const TALL: f64 = 300.0;
/// Height of a chart in a stack of timelines.
pub const SHORT: f64 = 210.0;
const LEFT: f64 = 62.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 46.0;
const BOTTOM: f64 = 38.0;

/// Percentile-curve points of `h` (µs) in ms on the percentile scale, and the decades to show.
pub fn percentile_points(h: &Histogram<u64>) -> (Vec<(f64, f64)>, u32) {
    let decades = decades_for(h.len());
    let max_x = f64::from(decades);
    let mut pts = Vec::new();
    if h.is_empty() {
        return (pts, decades);
    }
    for v in h.iter_quantiles(5) {
        let q = v.quantile_iterated_to();
        if q >= 1.0 {
            break;
        }
        let x = (1.0 / (1.0 - q)).log10();
        if x >= max_x {
            break;
        }
        pts.push((x, v.value_iterated_to() as f64 / 1_000.0));
    }
    // The curve ends at the axis' last percentile with the value the histogram gives there.
    let last_q = 1.0 - 10f64.powi(-(decades as i32));
    pts.push((max_x, h.value_at_quantile(last_q) as f64 / 1_000.0));
    (pts, decades)
}

/// Decades worth showing for `n` samples: up to the percentile the data still resolves with a few
/// samples beyond it (at least 99%, at most 99.9999%).
pub fn decades_for(n: u64) -> u32 {
    let d = (n.max(1) as f64).log10().floor() as u32;
    d.clamp(2, 6)
}

/// Renders the chart as an `<svg>` element (no XML namespace needed inline in HTML5).
pub fn render(c: &Chart) -> String {
    let w = c.width.clamp(300.0, 2000.0);
    let h = c.height.clamp(150.0, 1000.0);
    let (x0, x1) = match c.x {
        XScale::Seconds => {
            let max = c
                .lines
                .iter()
                .flat_map(|l| l.points.iter().map(|p| p.0))
                .chain(c.marks.iter().map(|m| m.x))
                .fold(1.0f64, f64::max);
            (0.0, c.x_to.filter(|x| *x > 0.0).unwrap_or(max))
        }
        XScale::Percentile { decades } => (0.0, f64::from(decades.max(1))),
    };
    let ymax_data = c
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let (y1, ystep) = nice_ceiling(ymax_data);
    let pw = w - LEFT - RIGHT;
    let ph = h - TOP - BOTTOM;
    let sx = |x: f64| LEFT + (x - x0) / (x1 - x0).max(1e-9) * pw;
    let sy = |y: f64| TOP + ph - (y / y1) * ph;

    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart {}" viewBox="0 0 {w} {h}" role="img" aria-label="{}">"#,
        if w < WIDE { "narrow" } else { "wide" },
        esc(&c.title)
    );
    let _ = write!(
        s,
        r#"<text class="title" x="{LEFT}" y="16">{}</text>"#,
        esc(&c.title)
    );
    // Legend.
    let mut lx = LEFT;
    for (i, l) in c.lines.iter().enumerate() {
        let class = line_class(l, i);
        let _ = write!(
            s,
            r#"<line class="line {class}" x1="{lx:.1}" y1="31" x2="{:.1}" y2="31"/><text class="legend" x="{:.1}" y="35">{}</text>"#,
            lx + 22.0,
            lx + 26.0,
            esc(&l.label)
        );
        lx += 40.0 + 6.6 * l.label.chars().count() as f64;
    }
    // Grid and y axis.
    let mut y = 0.0;
    while y <= y1 + ystep * 0.01 {
        let py = sy(y);
        let _ = write!(
            s,
            r#"<line class="grid" x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            w - RIGHT,
            LEFT - 6.0,
            py + 4.0,
            tick_label(y, ystep)
        );
        y += ystep;
    }
    let _ = write!(
        s,
        r#"<text class="axis" x="12" y="{:.1}" transform="rotate(-90 12 {:.1})" text-anchor="middle">{}</text>"#,
        TOP + ph / 2.0,
        TOP + ph / 2.0,
        esc(&c.y_label)
    );
    // x ticks.
    match c.x {
        XScale::Seconds => {
            let (_, step) = nice_ceiling(x1);
            let step = step.max(1.0);
            let mut x = 0.0;
            while x <= x1 + step * 0.01 {
                let px = sx(x);
                let _ = write!(
                    s,
                    r#"<line class="grid" x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}"/><text class="tick" x="{px:.1}" y="{:.1}" text-anchor="middle">{}s</text>"#,
                    TOP + ph,
                    TOP + ph + 16.0,
                    tick_label(x, step)
                );
                x += step;
            }
            let _ = write!(
                s,
                r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="middle">seconds since start</text>"#,
                LEFT + pw / 2.0,
                h - 4.0
            );
        }
        XScale::Percentile { decades } => {
            let mut ticks = vec![(2f64.log10(), "50%".to_string())];
            for d in 1..=decades {
                ticks.push((f64::from(d), percentile_label(d)));
            }
            for (x, label) in ticks {
                let px = sx(x);
                let _ = write!(
                    s,
                    r#"<line class="grid" x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}"/><text class="tick" x="{px:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#,
                    TOP + ph,
                    TOP + ph + 16.0
                );
            }
            let _ = write!(
                s,
                r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="middle">percentile</text>"#,
                LEFT + pw / 2.0,
                h - 4.0
            );
        }
    }
    // Frame.
    let _ = write!(
        s,
        r#"<rect class="frame" x="{LEFT}" y="{TOP}" width="{pw:.1}" height="{ph:.1}"/>"#
    );
    // Marks, labels staggered on two rows so neighbours do not overlap.
    for (i, m) in c.marks.iter().enumerate() {
        let px = sx(m.x);
        let ly = TOP + 12.0 + 12.0 * (i % 2) as f64;
        let _ = write!(
            s,
            r#"<line class="mark" x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}"/><text class="marklabel" x="{:.1}" y="{ly:.1}">{}</text>"#,
            TOP + ph,
            px + 3.0,
            esc(&m.label)
        );
    }
    // Shaded areas under failure lines first, then every line over them.
    for l in c.lines.iter().filter(|l| l.tone == Tone::Failure) {
        let finite: Vec<(f64, f64)> = l
            .points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        if let (Some(first), Some(last)) = (finite.first(), finite.last()) {
            let mut pts = format!("{:.1},{:.1} ", sx(first.0), sy(0.0));
            for (x, y) in &finite {
                let _ = write!(pts, "{:.1},{:.1} ", sx(*x), sy(*y));
            }
            let _ = write!(pts, "{:.1},{:.1}", sx(last.0), sy(0.0));
            let _ = write!(s, r#"<polygon class="area failure" points="{pts}"/>"#);
        }
    }
    // A point with a non-finite y (no data there) breaks the line: one polyline per stretch.
    for (i, l) in c.lines.iter().enumerate() {
        for stretch in l.points.split(|(x, y)| !x.is_finite() || !y.is_finite()) {
            if stretch.is_empty() {
                continue;
            }
            let mut pts = String::new();
            for (x, y) in stretch {
                let _ = write!(pts, "{:.1},{:.1} ", sx(*x), sy(*y));
            }
            let _ = write!(
                s,
                r#"<polyline class="line {}" points="{}"><title>{}</title></polyline>"#,
                line_class(l, i),
                pts.trim_end(),
                esc(&l.label)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// The CSS class of line `i`: its style, `failure` for a failure line.
fn line_class(l: &Line, i: usize) -> String {
    match l.tone {
        Tone::Normal => format!("s{}", i % 8),
        Tone::Failure => format!("failure f{}", i % 2),
    }
}

fn percentile_label(decade: u32) -> String {
    match decade {
        1 => "90%".into(),
        d => format!("99.{}%", "9".repeat(d as usize - 2)).replace("99.%", "99%"),
    }
}

/// A round upper bound ≥ `v` and a tick step (1, 2 or 5 × 10^k, about 5 ticks).
fn nice_ceiling(v: f64) -> (f64, f64) {
    if !v.is_finite() || v <= 0.0 {
        return (1.0, 0.2);
    }
    let raw = v / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((v / step).ceil() * step, step)
}

fn tick_label(v: f64, step: f64) -> String {
    if step >= 1.0 {
        if v >= 10_000.0 {
            format!("{}k", trim_float(v / 1000.0))
        } else {
            format!("{v:.0}")
        }
    } else {
        let decimals = (-step.log10().floor()) as usize;
        format!("{v:.decimals$}")
    }
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.1}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Escapes text for SVG/HTML content and attributes (also `/`, so URLs in data never appear as
/// `http://` in the page source).
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#x27;"),
            '/' => o.push_str("&#x2f;"),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::new_histogram;

    #[test]
    fn percentile_axis_labels_and_points() {
        let mut h = new_histogram();
        for v in 1..=10_000u64 {
            h.record(v).unwrap();
        }
        let (pts, decades) = percentile_points(&h);
        assert_eq!(decades, 4);
        assert!(pts.first().unwrap().0 < 0.01);
        assert_eq!(pts.last().unwrap().0, 4.0);
        assert!(pts.windows(2).all(|w| w[1].0 >= w[0].0 && w[1].1 >= w[0].1));
        let svg = render(&Chart {
            title: "refresh <latency>".into(),
            y_label: "ms".into(),
            x: XScale::Percentile { decades },
            lines: vec![Line {
                label: "refresh".into(),
                points: pts,
                ..Line::default()
            }],
            marks: vec![],
            width: NARROW,
            height: TALL,
            x_to: None,
        });
        for l in ["50%", "90%", "99%", "99.9%", "99.99%"] {
            assert!(svg.contains(&format!(">{l}<")), "missing {l}");
        }
        assert!(svg.contains("refresh &lt;latency&gt;"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(!svg.contains("http"));
    }

    #[test]
    fn nice_numbers() {
        assert_eq!(nice_ceiling(97.0), (100.0, 20.0));
        assert_eq!(nice_ceiling(0.0), (1.0, 0.2));
        assert_eq!(nice_ceiling(4_800.0), (5_000.0, 1_000.0));
        assert_eq!(percentile_label(2), "99%");
        assert_eq!(percentile_label(4), "99.99%");
    }

    #[test]
    fn failure_lines_are_red_over_an_area_and_share_the_x_extent() {
        let chart = |x_to| Chart {
            title: "failures".into(),
            y_label: "per second".into(),
            x: XScale::Seconds,
            lines: vec![Line {
                label: "failures".into(),
                points: vec![(0.5, 0.0), (1.5, 40.0), (2.5, 0.0)],
                tone: Tone::Failure,
            }],
            marks: vec![],
            width: WIDE,
            height: SHORT,
            x_to,
        };
        let svg = render(&chart(None));
        assert!(svg.contains(r#"<polygon class="area failure""#), "{svg}");
        assert!(
            svg.contains(r#"<polyline class="line failure f0""#),
            "{svg}"
        );
        assert!(svg.contains(r#"viewBox="0 0 900 210""#));
        // No data in the middle: two stretches, not one line across the gap.
        let mut gap = chart(None);
        gap.lines[0].points.insert(1, (1.0, f64::NAN));
        assert_eq!(render(&gap).matches("<polyline").count(), 2);
        // With a shared extent the axis runs to 20 s even though the data ends at 2.5 s.
        assert!(render(&chart(Some(20.0))).contains(">20s<"));
        assert!(!svg.contains(">20s<"));
    }
}
