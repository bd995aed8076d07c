//! `cargo xtask lint-spec`: the spec must parse with `openapiv3` (what
//! progenitor reads) and pass Spectral (`spectral:oas` plus the project rules
//! in `.spectral.yaml`) and Redocly (`recommended`, `redocly.yaml`) with no
//! errors. Warnings are printed and do not fail.
//!
//! The linters are npm packages, so their own checks live here and not in
//! `cargo test` (which needs nothing but Rust): after the spec passes, the
//! command lints a deliberately broken copy and fails unless each linter
//! catches the fault planted for it. A linter that was installed wrong, lost
//! a project rule or stopped reading the ruleset cannot pass unnoticed.

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

/// Lints the spec at `path`, then proves on a broken copy that every linter
/// still catches what it is there for.
pub(crate) fn run(path: &Path) -> anyhow::Result<()> {
    lint_and_report(path)?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    self_check(&text)
}

/// Lints the spec at `path` and fails on any error.
fn lint_and_report(path: &Path) -> anyhow::Result<()> {
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

/// One fault planted in the broken copy: the text replaced, its replacement,
/// and the linter and rule (an error's prefix) that must report it.
struct PlantedFault {
    find: &'static str,
    replace: &'static str,
    linter: &'static str,
    rule: &'static str,
}

const PLANTED_FAULTS: &[PlantedFault] = &[
    // No summary on createUser: a project rule.
    PlantedFault {
        find: "      summary: Create a user\n",
        replace: "",
        linter: "spectral",
        rule: "users-operation-summary",
    },
    // A 404 that is not problem+json: a project rule.
    PlantedFault {
        find: "      description: No such user in the account (users of other accounts are not found either).\n      content:\n        application/problem+json:",
        replace: "      description: No such user in the account (users of other accounts are not found either).\n      content:\n        application/json:",
        linter: "spectral",
        rule: "users-error-problem-json",
    },
    // A string format the decoders do not check: a project rule.
    PlantedFault {
        find: "    DateOfBirth:\n      type: string\n      format: date\n",
        replace: "    DateOfBirth:\n      type: string\n      format: full-date\n",
        linter: "spectral",
        rule: "users-string-format",
    },
    // A path parameter the path does not declare: spectral:oas and recommended.
    PlantedFault {
        find: "  /v1/lookups/countries:\n",
        replace: "  /v1/lookups/countries/{region}:\n",
        linter: "redocly",
        rule: "",
    },
    // A document openapiv3 cannot read.
    PlantedFault {
        find: "openapi: 3.0.3",
        replace: "openapi: [3, 0]",
        linter: "openapiv3",
        rule: "",
    },
];

/// The spec with one fault planted; fails when the spec no longer holds the
/// text a fault replaces (the self-check would then prove nothing).
fn broken_copy(text: &str, fault: &PlantedFault) -> anyhow::Result<String> {
    if !text.contains(fault.find) {
        bail!(
            "the spec no longer contains the text the {} self-check breaks: {:?}",
            fault.linter,
            fault.find
        );
    }
    Ok(text.replacen(fault.find, fault.replace, 1))
}

/// Lints copies of the spec with the planted faults (the first three in one
/// copy, the unparseable one alone) and fails unless each linter reports
/// its fault and `run` would fail on the copy.
fn self_check(text: &str) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (parse_faults, lint_faults): (Vec<&PlantedFault>, Vec<&PlantedFault>) = PLANTED_FAULTS
        .iter()
        .partition(|fault| fault.linter == "openapiv3");
    let mut broken = text.to_owned();
    for fault in &lint_faults {
        broken = broken_copy(&broken, fault)?;
    }
    let mut copies = vec![(broken, lint_faults)];
    for fault in parse_faults {
        copies.push((broken_copy(text, fault)?, vec![fault]));
    }
    for (index, (copy, faults)) in copies.iter().enumerate() {
        let path = dir.path().join(format!("broken-{index}.yaml"));
        std::fs::write(&path, copy)?;
        let reports = lint(&path)?;
        for fault in faults {
            let errors = &reports
                .iter()
                .find(|(name, _)| *name == fault.linter)
                .context("every linter reports")?
                .1
                .errors;
            if !errors.iter().any(|e| e.starts_with(fault.rule)) {
                bail!(
                    "self-check: {} did not report {} on a broken copy of the spec; it reported {errors:#?}",
                    fault.linter,
                    if fault.rule.is_empty() {
                        "any error"
                    } else {
                        fault.rule
                    }
                );
            }
        }
        if reports.iter().all(|(_, report)| report.errors.is_empty()) {
            bail!("self-check: a broken copy of the spec passed every linter");
        }
    }
    eprintln!(
        "self-check: every linter caught the fault planted for it ({} faults)",
        PLANTED_FAULTS.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    //! What runs without the npm linters; the linters themselves are proven
    //! by `self_check`, which `cargo xtask lint-spec` runs in CI.
    use super::*;

    fn spec_text() -> String {
        std::fs::read_to_string(spec::project_root().join(spec::SPEC_PATH)).unwrap()
    }

    /// The formats the Spectral rule allows are the ones the decoders
    /// check or leave as annotations, no more and no fewer.
    #[test]
    fn the_format_rule_lists_the_decoders_formats() {
        let ruleset: serde_json::Value = yaml_serde::from_str(
            &std::fs::read_to_string(spec::project_root().join(".spectral.yaml")).unwrap(),
        )
        .unwrap();
        let allowed: std::collections::BTreeSet<&str> =
            ruleset["rules"]["users-string-format"]["then"]["functionOptions"]["values"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(serde_json::Value::as_str)
                .collect();
        let known: std::collections::BTreeSet<&str> = crate::codegen::known_formats().collect();
        assert_eq!(allowed, known);
    }

    /// Every planted fault still applies to today's spec, so the self-check
    /// that CI runs keeps proving something.
    #[test]
    fn every_planted_fault_applies_to_the_spec() {
        let text = spec_text();
        for fault in PLANTED_FAULTS {
            let broken = broken_copy(&text, fault).unwrap();
            assert_ne!(broken, text);
        }
        assert!(broken_copy("openapi: 3.0.3", &PLANTED_FAULTS[0]).is_err());
    }

    #[test]
    fn the_spec_parses_with_openapiv3() {
        spec::load(&spec::project_root().join(spec::SPEC_PATH)).unwrap();
    }

    #[test]
    fn a_spec_openapiv3_cannot_read_fails_to_load() {
        let fault = PLANTED_FAULTS
            .iter()
            .find(|f| f.linter == "openapiv3")
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.yaml");
        std::fs::write(&path, broken_copy(&spec_text(), fault).unwrap()).unwrap();
        assert!(spec::load(&path).is_err());
    }
}
