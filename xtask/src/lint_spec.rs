//! `cargo xtask lint-spec`: the spec must parse with `openapiv3` (what
//! progenitor reads) and pass Spectral (`spectral:oas` plus the project rules
//! in `.spectral.yaml`) and Redocly (`recommended`, `redocly.yaml`) with no
//! errors. Warnings are printed and do not fail.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::{spec, tools};

/// What one linter reported.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) errors: Vec<String>,
    pub(crate) warnings: Vec<String>,
}

/// Lints the spec at `path` and fails on any error.
pub(crate) fn run(path: &Path) -> anyhow::Result<()> {
    let reports = lint(path)?;
    let mut errors = 0;
    for (linter, report) in &reports {
        for line in &report.errors {
            eprintln!("{linter}: error: {line}");
        }
        for line in &report.warnings {
            eprintln!("{linter}: warning: {line}");
        }
        eprintln!(
            "{linter}: {} error(s), {} warning(s)",
            report.errors.len(),
            report.warnings.len()
        );
        errors += report.errors.len();
    }
    if errors > 0 {
        bail!("{} has {errors} lint error(s)", path.display());
    }
    Ok(())
}

/// Runs every linter on the spec at `path`.
pub(crate) fn lint(path: &Path) -> anyhow::Result<Vec<(&'static str, Report)>> {
    let openapiv3 = match spec::load(path) {
        Ok(_) => Report::default(),
        Err(err) => Report {
            errors: vec![format!("{err:#}")],
            warnings: vec![],
        },
    };
    Ok(vec![
        ("openapiv3", openapiv3),
        ("spectral", spectral(path)?),
        ("redocly", redocly(path)?),
    ])
}

#[derive(Debug, Deserialize)]
struct SpectralFinding {
    code: String,
    message: String,
    severity: u8,
    path: Vec<serde_json::Value>,
}

fn spectral(path: &Path) -> anyhow::Result<Report> {
    let bin = tools::SPECTRAL.ensure()?;
    let ruleset = spec::project_root().join(".spectral.yaml");
    let output = Command::new(bin)
        .args([
            "lint",
            "--quiet",
            "--format",
            "json",
            "--fail-severity",
            "error",
            "--ruleset",
        ])
        .arg(&ruleset)
        .arg(path)
        .output()
        .context("running spectral")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let findings: Vec<SpectralFinding> = match serde_json::from_str(stdout.trim()) {
        Ok(findings) => findings,
        Err(err) => return unreadable("spectral", &output, err),
    };
    let mut report = Report::default();
    for finding in findings {
        let at: Vec<String> = finding
            .path
            .iter()
            .map(|p| {
                p.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| p.to_string())
            })
            .collect();
        let line = format!("{} at {}: {}", finding.code, at.join("."), finding.message);
        match finding.severity {
            0 => report.errors.push(line),
            1 => report.warnings.push(line),
            _ => {}
        }
    }
    if !output.status.success() && report.errors.is_empty() {
        bail!(
            "spectral failed without reporting an error: {}",
            output.status
        );
    }
    Ok(report)
}

#[derive(Debug, Deserialize)]
struct RedoclyReport {
    problems: Vec<RedoclyProblem>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RedoclyProblem {
    rule_id: String,
    severity: String,
    message: String,
    #[serde(default)]
    location: Vec<RedoclyLocation>,
}

#[derive(Debug, Deserialize)]
struct RedoclyLocation {
    #[serde(default)]
    pointer: String,
}

fn redocly(path: &Path) -> anyhow::Result<Report> {
    let bin = tools::REDOCLY.ensure()?;
    let config = spec::project_root().join("redocly.yaml");
    let output = Command::new(bin)
        .args(["lint", "--format", "json", "--config"])
        .arg(&config)
        .arg(path)
        .env("REDOCLY_TELEMETRY", "off")
        .env("REDOCLY_SUPPRESS_UPDATE_NOTICE", "true")
        .output()
        .context("running redocly")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let start = stdout.find('{').unwrap_or(0);
    let parsed: RedoclyReport = match serde_json::from_str(stdout[start..].trim()) {
        Ok(parsed) => parsed,
        Err(err) => return unreadable("redocly", &output, err),
    };
    let mut report = Report::default();
    for problem in parsed.problems {
        let at = problem
            .location
            .first()
            .map(|l| l.pointer.as_str())
            .unwrap_or("");
        let line = format!("{} at {at}: {}", problem.rule_id, problem.message);
        match problem.severity.as_str() {
            "error" => report.errors.push(line),
            _ => report.warnings.push(line),
        }
    }
    if !output.status.success() && report.errors.is_empty() {
        bail!(
            "redocly failed without reporting an error: {}",
            output.status
        );
    }
    Ok(report)
}

/// A linter that failed without a JSON report (e.g. on a document it cannot
/// parse) reports one error with what it printed; one that succeeded without a
/// report is a broken installation.
fn unreadable(
    linter: &str,
    output: &std::process::Output,
    err: serde_json::Error,
) -> anyhow::Result<Report> {
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        bail!("{linter} printed no JSON report ({err}):\n{printed}");
    }
    let lines: Vec<&str> = printed
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains(['║', '╔', '╚']))
        .collect();
    Ok(Report {
        errors: vec![format!(
            "{linter} failed ({}): {}",
            output.status,
            lines.join(" ")
        )],
        warnings: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_text() -> String {
        std::fs::read_to_string(spec::project_root().join(spec::SPEC_PATH)).unwrap()
    }

    fn lint_text(text: &str) -> Vec<(&'static str, Report)> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.yaml");
        std::fs::write(&path, text).unwrap();
        lint(&path).unwrap()
    }

    fn errors_of<'a>(reports: &'a [(&'static str, Report)], linter: &str) -> &'a [String] {
        &reports
            .iter()
            .find(|(name, _)| *name == linter)
            .unwrap()
            .1
            .errors
    }

    #[test]
    fn the_spec_passes_every_linter() {
        let reports = lint_text(&spec_text());
        for (linter, report) in &reports {
            assert!(report.errors.is_empty(), "{linter}: {:#?}", report.errors);
        }
        assert!(run(&spec::project_root().join(spec::SPEC_PATH)).is_ok());
    }

    /// Each linter catches what it is there for, so `run` fails on a broken copy.
    #[test]
    fn a_broken_spec_fails() {
        let text = spec_text();
        let broken = text
            // No summary on createUser: a project rule.
            .replacen("      summary: Create a user\n", "", 1)
            // A 404 that is not problem+json: a project rule.
            .replacen(
                "      description: No such user in the account (users of other accounts are not found either).\n      content:\n        application/problem+json:",
                "      description: No such user in the account (users of other accounts are not found either).\n      content:\n        application/json:",
                1,
            )
            // A path parameter the path does not declare: spectral:oas and recommended.
            .replacen("  /v1/lookups/countries:\n", "  /v1/lookups/countries/{region}:\n", 1);
        assert_ne!(broken, text);
        let reports = lint_text(&broken);
        let spectral = errors_of(&reports, "spectral");
        assert!(
            spectral
                .iter()
                .any(|e| e.starts_with("users-operation-summary")),
            "{spectral:#?}"
        );
        assert!(
            spectral
                .iter()
                .any(|e| e.starts_with("users-error-problem-json")),
            "{spectral:#?}"
        );
        let redocly = errors_of(&reports, "redocly");
        assert!(!redocly.is_empty(), "redocly found nothing wrong");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.yaml");
        std::fs::write(&path, &broken).unwrap();
        assert!(run(&path).is_err());
    }

    #[test]
    fn a_spec_openapiv3_cannot_read_fails() {
        let broken = spec_text().replacen("openapi: 3.0.3", "openapi: [3, 0]", 1);
        let reports = lint_text(&broken);
        assert!(!errors_of(&reports, "openapiv3").is_empty());
    }
}
