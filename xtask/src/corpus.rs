//! `cargo xtask corpus`: the generators on specs nobody on the project
//! wrote.
//!
//! For every spec in `../shared/specs/` (specs added there later included),
//! in a scratch copy of the workspace with that spec in place of
//! `openapi/users.yaml`: codegen runs leniently, what it leaves out is
//! compared with the committed refusal list `xtask/corpus/<spec>.refusals`,
//! and `cargo check -p users-client -p users-api -p users-cli` must pass. A spec with no
//! committed list yet has its list printed; `--bless` writes the lists. A
//! spec with a smoke program (`xtask/corpus/<spec>.smoke.rs`) is also served:
//! the program implements the generated trait and drives the router.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::codegen;
use crate::spec;
use crate::tools;

/// Where the committed refusal lists live, relative to the root.
const REFUSALS_DIR: &str = "xtask/corpus";

/// The corpus: `../shared/specs/` beside the project.
pub(crate) fn corpus_dir(root: &Path) -> PathBuf {
    root.join("../shared/specs")
}

/// Every spec of the corpus, by file name.
pub(crate) fn specs(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let dir = corpus_dir(root);
    let mut out = specs_in(&dir)?;
    if out.is_empty() {
        bail!("{} holds no spec", dir.display());
    }
    out.extend(specs_in(&root.join(FIXTURES_DIR))?);
    Ok(out)
}

/// The project's own fixtures: small specs written to exercise what the
/// public ones do not (every security scheme, say), each driven end to end
/// by its smoke program.
const FIXTURES_DIR: &str = "xtask/corpus/fixtures";

/// The specs in `dir`, sorted by name.
fn specs_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "json" || e == "yaml" || e == "yml")
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Runs the check on every spec, or only on those whose file name contains
/// `only`.
pub(crate) fn run(
    root: &Path,
    bless: bool,
    only: Option<&str>,
    compile: bool,
) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for spec_path in specs(root)? {
        let name = spec_path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if only.is_some_and(|only| !name.contains(only)) {
            continue;
        }
        eprintln!("\n=== {name}");
        if let Err(err) = one(root, &spec_path, &name, bless, compile) {
            eprintln!("{name}: {err:#}");
            failures.push(name);
        }
    }
    if !failures.is_empty() {
        bail!("the corpus check failed on {}", failures.join(", "));
    }
    Ok(())
}

/// Generates from `spec_path` in a scratch copy of the workspace and checks
/// that the SDK and the contract compile.
pub(crate) fn generate_and_check(root: &Path, spec_path: &Path) -> anyhow::Result<()> {
    let (scratch, _, _) = generated_copy(root, spec_path)?;
    cargo_check(root, scratch.path())
}

/// A scratch copy of the workspace with `spec_path` in place of the spec,
/// generated from; what codegen left out, and how long it took.
/// `CORPUS_KEEP=1` keeps the copy, to read what was generated.
fn generated_copy(
    root: &Path,
    spec_path: &Path,
) -> anyhow::Result<(tempfile::TempDir, codegen::Refusals, std::time::Duration)> {
    let mut scratch = tempfile::tempdir()?;
    if std::env::var_os("CORPUS_KEEP").is_some() {
        scratch.disable_cleanup(true);
        eprintln!("scratch copy kept at {}", scratch.path().display());
    }
    crate::evolve::copy_workspace(root, scratch.path())?;
    std::fs::copy(spec_path, scratch.path().join(spec::SPEC_PATH))
        .with_context(|| format!("copying {}", spec_path.display()))?;
    let started = Instant::now();
    let (files, refusals) = codegen::generate_primary(scratch.path())?;
    let took = started.elapsed();
    for file in &files {
        codegen::ensure_file_contents(
            &scratch.path().join(&file.path),
            &file.contents,
            codegen::Mode::Write,
        )?;
    }
    Ok((scratch, refusals, took))
}

/// `cargo check -p users-client -p users-api -p users-cli` in the scratch
/// copy: the SDK, the contract and the command line.
fn cargo_check(root: &Path, scratch: &Path) -> anyhow::Result<()> {
    eprintln!("cargo check -p users-client -p users-api -p users-cli");
    let checked = tools::cargo_in_scratch(
        scratch,
        &root.join("target/corpus"),
        &[
            "check",
            "--quiet",
            "-p",
            "users-client",
            "-p",
            "users-api",
            "-p",
            "users-cli",
        ],
    )?;
    if !checked {
        bail!("the generated code does not compile");
    }
    Ok(())
}

fn one(
    root: &Path,
    spec_path: &Path,
    name: &str,
    bless: bool,
    compile: bool,
) -> anyhow::Result<()> {
    let (scratch, refusals, took) = generated_copy(root, spec_path)?;
    let operations = spec::load_value(spec_path)?["paths"]
        .as_object()
        .map(|paths| {
            paths
                .values()
                .map(|item| {
                    crate::codegen::METHODS
                        .iter()
                        .filter(|m| item.get(**m).is_some())
                        .count()
                })
                .sum::<usize>()
        })
        .unwrap_or_default();
    eprintln!(
        "codegen: {operations} operations in {:.0} ms, {} part(s) left out",
        took.as_secs_f64() * 1000.0,
        refusals.len()
    );
    let list = codegen::refusal_list(&refusals);
    let committed_path = root.join(REFUSALS_DIR).join(format!("{name}.refusals"));
    match std::fs::read_to_string(&committed_path) {
        Ok(committed) if committed == list => {}
        _ if bless => {
            std::fs::create_dir_all(committed_path.parent().unwrap())?;
            std::fs::write(&committed_path, &list)?;
            eprintln!("wrote {}", committed_path.display());
        }
        Ok(committed) => {
            let diff = similar::TextDiff::from_lines(committed.as_str(), list.as_str());
            bail!(
                "what codegen leaves out changed; if on purpose, run `cargo xtask corpus --bless`:\n{}",
                diff.unified_diff()
                    .header("committed", "now")
                    .context_radius(2)
            );
        }
        Err(_) => eprintln!(
            "no committed refusal list for {name} yet (`cargo xtask corpus --bless` writes it); left out:\n{list}"
        ),
    }
    if !compile {
        return Ok(());
    }
    cargo_check(root, scratch.path()).with_context(|| format!("the code generated from {name}"))?;
    // A spec with a smoke program (`xtask/corpus/<spec>.smoke.rs`) is also
    // served: the program implements the generated trait and drives the
    // router.
    let smoke = root.join(REFUSALS_DIR).join(format!("{name}.smoke.rs"));
    if smoke.exists() {
        let examples = scratch.path().join("crates/users-api/examples");
        std::fs::create_dir_all(&examples)?;
        std::fs::copy(&smoke, examples.join("corpus_smoke.rs"))?;
        eprintln!("cargo run -p users-api --example corpus_smoke");
        let served = tools::cargo_in_scratch(
            scratch.path(),
            &root.join("target/corpus"),
            &[
                "run",
                "--quiet",
                "-p",
                "users-api",
                "--example",
                "corpus_smoke",
            ],
        )?;
        if !served {
            bail!("the contract generated from {name} does not serve its smoke program");
        }
    }
    Ok(())
}
