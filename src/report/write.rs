//! [`write_all`]: every output file of a run into one folder.

use std::io;
use std::path::{Path, PathBuf};

use super::model::Report;
use super::{hgrm, html, junit, terminal};

/// Writes `report.json`, `<op>.hgrm` (one per histogram), `summary.txt`, `junit.xml` and
/// `report.html` into `dir` (created if needed). Returns the paths written, in that order.
///
/// A folder that already holds a report (a `report.json`) gets this one instead: the five kinds
/// of files are replaced, and the `<op>.hgrm` files of the earlier report that this one does not
/// write are removed, so that the folder holds one report. Other files are left alone.
pub fn write_all(report: &Report, dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let earlier = dir.join("report.json").is_file();
    let mut written = Vec::new();
    let mut put = |name: &str, bytes: &[u8]| -> io::Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, bytes)?;
        written.push(path);
        Ok(())
    };
    let json = serde_json::to_vec_pretty(report).map_err(io::Error::other)?;
    put("report.json", &json)?;
    for (name, h) in report.ordered_histograms() {
        put(
            &format!("{}.hgrm", file_stem(name)),
            hgrm::percentile_distribution(&h.histogram).as_bytes(),
        )?;
    }
    put(
        "summary.txt",
        terminal::terminal_summary(report, false).as_bytes(),
    )?;
    let xml = junit::junit_xml(report).map_err(io::Error::other)?;
    put("junit.xml", xml.as_bytes())?;
    let page = html::report_html(report).map_err(io::Error::other)?;
    put("report.html", page.as_bytes())?;
    if earlier {
        remove_stale_hgrm(dir, &written)?;
    }
    Ok(written)
}

/// Removes the `*.hgrm` files in `dir` that are not among `written`.
fn remove_stale_hgrm(dir: &Path, written: &[PathBuf]) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "hgrm")
            && path.is_file()
            && !written.contains(&path)
        {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// A histogram name made safe as a file name (names in loaded reports are input).
fn file_stem(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if s.is_empty() { "histogram".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::file_stem;

    #[test]
    fn stems_are_safe() {
        assert_eq!(file_stem("refresh"), "refresh");
        assert_eq!(file_stem("../../etc/passwd"), "______etc_passwd");
        assert_eq!(file_stem(""), "histogram");
    }
}
