//! `authbench compare` (side by side, ratio to the first run) and `authbench merge` (exact merge of
//! shard reports into one report folder).

use authbench::report::{self, Comparison};

use super::run::use_color;
use crate::cli::{CompareArgs, MergeArgs};
use crate::exit::{CliError, Code};

pub fn compare(args: CompareArgs) -> Result<Code, CliError> {
    let cmp = Comparison::load(&args.reports).map_err(CliError::usage)?;
    authbench_mock::stdout!("{}", cmp.terminal_table(use_color()));
    if let Some(path) = &args.html {
        let html = cmp.html().map_err(|e| {
            CliError::cannot_proceed(format!("cannot render the comparison page: {e}"))
        })?;
        std::fs::write(path, html).map_err(|e| {
            CliError::cannot_proceed(format!("cannot write {}: {e}", path.display()))
        })?;
        authbench_mock::stdoutln!("comparison page: {}", path.display());
    }
    Ok(Code::Ok)
}

pub fn merge(args: MergeArgs) -> Result<Code, CliError> {
    let completeness = if args.allow_partial {
        report::Completeness::AllowPartial
    } else {
        report::Completeness::Required
    };
    let merged = report::merge_paths(&args.reports, completeness).map_err(CliError::usage)?;
    std::fs::create_dir_all(&args.out)?;
    report::write_all(&merged, &args.out).map_err(|e| {
        CliError::cannot_proceed(format!(
            "cannot write the merged report to {}: {e}",
            args.out.display()
        ))
    })?;
    authbench_mock::stdout!("{}", report::terminal_summary(&merged, use_color()));
    authbench_mock::stdoutln!("merged report: {}", args.out.join("report.html").display());
    Ok(if merged.passed() {
        Code::Ok
    } else {
        Code::Failed
    })
}
