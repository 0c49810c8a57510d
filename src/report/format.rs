//! Human formatting of values shared by every writer (terminal, summary.txt, HTML, compare).

/// A latency in µs with three significant digits and a fitting unit: `850µs`, `12.3ms`, `1.25s`.
pub fn micros(us: f64) -> String {
    if !us.is_finite() {
        return "-".to_string();
    }
    let (v, unit) = if us.abs() < 1_000.0 {
        (us, "µs")
    } else if us.abs() < 1_000_000.0 {
        (us / 1_000.0, "ms")
    } else {
        (us / 1_000_000.0, "s")
    };
    format!("{}{unit}", sig3(v))
}

/// Three significant digits without trailing noise: 1.23, 12.3, 123, 1234.
pub fn sig3(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".to_string()
    } else if a < 10.0 {
        trim(format!("{v:.2}"))
    } else if a < 100.0 {
        trim(format!("{v:.1}"))
    } else {
        format!("{v:.0}")
    }
}

/// A ratio as a percentage: `0.05%`, `12.5%`, `100%`.
pub fn percent(ratio: f64) -> String {
    if !ratio.is_finite() {
        return "-".to_string();
    }
    let p = ratio * 100.0;
    if p != 0.0 && p.abs() < 0.01 {
        format!("{p:.4}%")
    } else {
        format!("{}%", sig3_small(p))
    }
}

/// A plain ratio like refresh amplification: `1.00`, `3.97`, `12.4`.
pub fn ratio(v: f64) -> String {
    if !v.is_finite() {
        return "-".to_string();
    }
    if v.abs() < 10.0 {
        format!("{v:.2}")
    } else {
        sig3(v)
    }
}

/// A per-second rate: `1234/s`, `12.5/s`.
pub fn rate(per_s: f64) -> String {
    if !per_s.is_finite() {
        return "-".to_string();
    }
    if per_s.abs() >= 100.0 {
        format!("{per_s:.0}/s")
    } else {
        format!("{}/s", sig3(per_s))
    }
}

/// An integer count with thin grouping: `12 345`.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// A timeline interval width: `100 ms`, `1 s`, `10 s`.
pub fn interval(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{} s", ms / 1000)
    }
}

/// A duration in seconds: `42.1s`, `3m05s`, `1h02m`.
pub fn seconds(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "-".to_string();
    }
    if s < 60.0 {
        format!("{}s", sig3(s))
    } else if s < 3600.0 {
        let t = s.round() as u64;
        format!("{}m{:02}s", t / 60, t % 60)
    } else {
        let t = (s / 60.0).round() as u64;
        format!("{}h{:02}m", t / 60, t % 60)
    }
}

fn sig3_small(v: f64) -> String {
    let a = v.abs();
    if a < 1.0 {
        trim(format!("{v:.3}"))
    } else {
        sig3(v)
    }
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(micros(850.0), "850µs");
        assert_eq!(micros(12_340.0), "12.3ms");
        assert_eq!(micros(1_250_000.0), "1.25s");
        assert_eq!(micros(250_000.0), "250ms");
        assert_eq!(percent(0.001), "0.1%");
        assert_eq!(percent(0.125), "12.5%");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(ratio(1.0), "1.00");
        assert_eq!(rate(1234.4), "1234/s");
        assert_eq!(count(1_234_567), "1 234 567");
        assert_eq!(count(12), "12");
        assert_eq!(seconds(42.13), "42.1s");
        assert_eq!(seconds(185.0), "3m05s");
    }
}
