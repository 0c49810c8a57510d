//! Where a run's report goes: the default folder is a new one for every run, even for runs
//! started in the same second; an `--out` folder that holds an earlier report holds only the new
//! one afterwards (README, "Reports").

use std::path::Path;

use assert_cmd::Command;

fn authbench(cwd: &Path) -> Command {
    let mut cmd = Command::cargo_bin("authbench").expect("authbench binary");
    cmd.env("NO_COLOR", "1").current_dir(cwd);
    cmd
}

fn folders(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn runs_started_together_each_get_a_report_folder() {
    let cwd = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_authbench"))
                .current_dir(cwd.path())
                .args(["check", "--only", "RS-01", "--json"])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert_eq!(c.wait().unwrap().code(), Some(0));
    }
    let reports = cwd.path().join("reports");
    let names = folders(&reports);
    assert_eq!(names.len(), 4, "{names:?}");
    for n in &names {
        assert!(reports.join(n).join("report.json").is_file(), "{n}");
    }
}

#[test]
fn a_default_folder_taken_in_the_same_second_gets_a_numbered_one() {
    let cwd = tempfile::tempdir().unwrap();
    let reports = cwd.path().join("reports");
    // Every name this second and the next few could take is already there.
    let now = chrono::Local::now();
    let mut taken = Vec::new();
    for s in -1..10 {
        let stamp = (now + chrono::Duration::seconds(s)).format("%Y%m%d-%H%M%S");
        let dir = reports.join(format!("check-{stamp}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("report.json"), "earlier").unwrap();
        taken.push(format!("check-{stamp}"));
    }
    authbench(cwd.path())
        .args(["check", "--only", "RS-01"])
        .assert()
        .success();
    let new: Vec<String> = folders(&reports)
        .into_iter()
        .filter(|n| !taken.contains(n))
        .collect();
    assert_eq!(new.len(), 1, "{new:?}");
    assert!(new[0].ends_with("-2"), "{new:?}");
    for t in &taken {
        let earlier = std::fs::read_to_string(reports.join(t).join("report.json")).unwrap();
        assert_eq!(earlier, "earlier", "{t} was overwritten");
    }
}

#[test]
fn an_out_folder_with_an_earlier_report_holds_only_the_new_one() {
    let cwd = tempfile::tempdir().unwrap();
    let out = cwd.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("report.json"), "{}").unwrap();
    std::fs::write(out.join("refresh.hgrm"), "stale").unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    authbench(cwd.path())
        .args(["check", "--only", "RS-01", "--out"])
        .arg(&out)
        .assert()
        .success();
    // A conformance report has no histograms: the earlier run's are gone; other files stay.
    assert!(!out.join("refresh.hgrm").exists());
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
    let report = std::fs::read_to_string(out.join("report.json")).unwrap();
    assert!(report.contains("RS-01"), "{report}");
    // A folder without a report keeps its .hgrm files (they are not ours).
    let other = cwd.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("theirs.hgrm"), "x").unwrap();
    authbench(cwd.path())
        .args(["check", "--only", "RS-01", "--out"])
        .arg(&other)
        .assert()
        .success();
    assert!(other.join("theirs.hgrm").exists());
}
