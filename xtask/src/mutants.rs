//! `cargo xtask mutants`: how much of the reference server's service and
//! store the conformance kit notices going wrong.
//!
//! cargo-mutants rewrites one function of `users-server`'s service and store
//! modules at a time (a body replaced by a default, an operator swapped, a
//! condition negated) and runs the kit against the mutated server, in
//! process on a SQLite file, started as `users-server` starts and with its
//! clock moved by the kit (`users-conformance`'s test
//! `the_reference_server_keeps_every_promise`). A mutant the kit
//! passes is a survivor: either a promise the kit does not check, or a
//! change no caller can observe. Each survivor is listed in
//! `xtask/mutants/explained.tsv` with the reason it survives; a survivor
//! with no reason fails the run.
//!
//! A whole run (364 mutants) takes about two and a half hours on two cores;
//! `--shard K/N` runs one shard of it (CI runs one, changing with the day);
//! `--survivors` tries only the last whole run's survivors again, after
//! checks were added.
//! `--write` after a whole run, or its survivors retried, writes
//! `docs/conformance.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::tools;

/// The files mutated: the service and the store it runs on (SQLite, the
/// store the kit runs on here; PostgreSQL's is proven by the same kit in
/// the workspace tests).
const FILES: &[&str] = &[
    "crates/users-server/src/service.rs",
    "crates/users-server/src/service/avatars.rs",
    "crates/users-server/src/service/groups.rs",
    "crates/users-server/src/store.rs",
    "crates/users-server/src/store/groups.rs",
    "crates/users-server/src/store/groups/sqlite.rs",
    "crates/users-server/src/store/sqlite.rs",
];

/// Functions of those files that serve SCIM alone (the stores' queries of
/// `/scim/v2` filters and the groups a page of SCIM users shows), which the
/// Users API's kit never calls: they are not mutated here. Their proof is
/// `tests/it/server/scim.rs` (every filter operator and listed users'
/// groups, on both databases) and `cargo xtask scim`.
const SCIM_ONLY: &str =
    r"::query_(users|groups)\b|\bgroups_of_users\b|\bby_member\b|\bGroupRef::of\b";

/// The test that judges each mutant: the whole kit against the reference
/// server, in process, on a SQLite file.
const TEST: &[&str] = &[
    "--test",
    "reference",
    "--",
    "the_reference_server_keeps_every_promise",
];

/// The score the issue asks of the kit: caught of viable mutants.
const GOAL: f64 = 0.90;

/// What a run found, by cargo-mutants' outcome files.
#[derive(Debug, Default)]
struct Outcomes {
    caught: Vec<String>,
    missed: Vec<String>,
    timeout: Vec<String>,
    unviable: Vec<String>,
}

impl Outcomes {
    fn read(dir: &Path) -> anyhow::Result<Self> {
        let lines = |name: &str| -> anyhow::Result<Vec<String>> {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            Ok(text
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect())
        };
        Ok(Self {
            caught: lines("caught.txt")?,
            missed: lines("missed.txt")?,
            timeout: lines("timeout.txt")?,
            unviable: lines("unviable.txt")?,
        })
    }

    fn viable(&self) -> usize {
        self.caught.len() + self.missed.len() + self.timeout.len()
    }

    /// Caught (a timeout is the kit noticing a hang) of viable.
    fn score(&self) -> f64 {
        if self.viable() == 0 {
            return 1.0;
        }
        (self.caught.len() + self.timeout.len()) as f64 / self.viable() as f64
    }
}

/// A mutant's name without its line and column, so an explanation outlives
/// edits elsewhere in the file: `crates/x.rs:12:5: replace f -> bool with
/// true` becomes `crates/x.rs: replace f -> bool with true`.
fn stable_name(mutant: &str) -> String {
    let mut parts = mutant.splitn(4, ':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(file), Some(line), Some(col), Some(rest))
            if line.chars().all(|c| c.is_ascii_digit())
                && col.chars().all(|c| c.is_ascii_digit()) =>
        {
            format!("{file}:{rest}")
        }
        _ => mutant.to_owned(),
    }
}

/// A regex for cargo-mutants' `--re` naming `mutant` at any line and
/// column.
fn survivor_pattern(mutant: &str) -> String {
    let name = stable_name(mutant);
    let (file, rest) = name.split_once(": ").unwrap_or((&name, ""));
    format!(
        r"^{}:\d+:\d+: {}$",
        regex::escape(file),
        regex::escape(rest)
    )
}

/// Why a mutant survives the kit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The code serves no promise of the spec: logs, metrics, probes,
    /// shutdown, test hooks.
    Outside,
    /// No caller can tell the mutant from the original under the spec's
    /// promises.
    Equivalent,
    /// A promise of the spec a black-box run cannot reach: a key's 24
    /// hours, a restart, another replica, data an older server stored.
    Beyond,
}

impl Kind {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "outside" => Some(Self::Outside),
            "equivalent" => Some(Self::Equivalent),
            "beyond" => Some(Self::Beyond),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Outside => "outside the spec",
            Self::Equivalent => "equivalent",
            Self::Beyond => "beyond a run",
        }
    }
}

/// A survivor's explanation.
#[derive(Debug, Clone)]
struct Explanation {
    kind: Kind,
    reason: String,
}

/// `xtask/mutants/explained.tsv`: a stable mutant name, its [`Kind`] and
/// the reason it survives the kit, tab-separated.
fn explanations(root: &Path) -> anyhow::Result<BTreeMap<String, Explanation>> {
    let path = root.join("xtask/mutants/explained.tsv");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut map = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let at = || format!("{}:{}", path.display(), n + 1);
        let mut fields = line.split('\t');
        let (Some(name), Some(kind), Some(reason), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            bail!("{}: want a name, a kind and a reason, tab-separated", at());
        };
        let kind = Kind::parse(kind.trim())
            .with_context(|| format!("{}: the kind is outside, equivalent or beyond", at()))?;
        let explanation = Explanation {
            kind,
            reason: reason.trim().to_owned(),
        };
        if map.insert(name.trim().to_owned(), explanation).is_some() {
            bail!("{}: {} is explained twice", at(), name.trim());
        }
    }
    Ok(map)
}

/// Caught and timed out of the viable mutants less those explained as
/// outside the spec or equivalent: the share of the spec's reachable and
/// unreachable promises the kit holds the code to.
fn promise_score(outcomes: &Outcomes, explained: &BTreeMap<String, Explanation>) -> f64 {
    let excused = outcomes
        .missed
        .iter()
        .filter(|m| {
            explained
                .get(&stable_name(m))
                .is_some_and(|e| e.kind != Kind::Beyond)
        })
        .count();
    let judged = outcomes.viable() - excused;
    if judged == 0 {
        return 1.0;
    }
    (outcomes.caught.len() + outcomes.timeout.len()) as f64 / judged as f64
}

/// How long cargo-mutants' last run took and when it finished, from its
/// `outcomes.json`.
fn run_time(
    dir: &Path,
) -> anyhow::Result<(std::time::Duration, chrono::DateTime<chrono::FixedOffset>)> {
    let path = dir.join("outcomes.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let outcomes: serde_json::Value = serde_json::from_str(&text)?;
    let time = |member: &str| -> anyhow::Result<chrono::DateTime<chrono::FixedOffset>> {
        let text = outcomes[member]
            .as_str()
            .with_context(|| format!("{} has no {member}", path.display()))?;
        Ok(chrono::DateTime::parse_from_rfc3339(text)?)
    };
    let (start, end) = (time("start_time")?, time("end_time")?);
    Ok(((end - start).to_std().unwrap_or_default(), end))
}

/// Parses `K/N` (K from 0).
fn parse_shard(shard: &str) -> anyhow::Result<(u32, u32)> {
    let (k, n) = shard.split_once('/').context("a shard is K/N")?;
    let (k, n): (u32, u32) = (k.parse()?, n.parse()?);
    if n == 0 || k >= n {
        bail!("shard {shard}: K counts from 0 and is less than N");
    }
    Ok((k, n))
}

/// Which mutants a run tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Every one.
    Whole,
    /// One slice, `K/N`.
    Shard(u32, u32),
    /// Only the survivors of the last whole run, after checks were added:
    /// the rest stay as that run found them.
    Survivors,
}

/// Copies kept of the last whole run's outcome files.
const WHOLE: &str = "whole";
const OUTCOME_FILES: &[&str] = &["caught.txt", "missed.txt", "timeout.txt", "unviable.txt"];

pub(crate) fn run(
    root: &Path,
    shard: Option<&str>,
    survivors: bool,
    write: bool,
    report: bool,
) -> anyhow::Result<()> {
    let output = root.join("target/mutants");
    let last_scope = output.join("last-scope");
    let scope = match (shard, survivors) {
        _ if report => {
            let text = std::fs::read_to_string(&last_scope)
                .context("--report judges the last run again: run one first")?;
            match text.trim() {
                "whole" => Scope::Whole,
                "survivors" => Scope::Survivors,
                other => {
                    bail!("the last run was {other}; --report judges a whole run or its survivors")
                }
            }
        }
        (Some(_), true) => bail!("--shard and --survivors do not go together"),
        (Some(shard), false) => {
            let (k, n) = parse_shard(shard)?;
            Scope::Shard(k, n)
        }
        (None, true) => Scope::Survivors,
        (None, false) => Scope::Whole,
    };
    if write && matches!(scope, Scope::Shard(..)) {
        bail!("--write records a whole run (or its survivors retried); leave out --shard");
    }
    let explained = explanations(root)?;
    let whole = output.join(WHOLE);
    std::fs::create_dir_all(&output)?;
    let before = match scope {
        Scope::Survivors => Some(
            Outcomes::read(&whole)
                .context("--survivors retries the last whole run's: run a whole one first")?,
        ),
        _ => None,
    };

    if !report {
        let mutants = tools::CARGO_MUTANTS.ensure()?;
        // The workspace's own target folder: the scratch copy's crates build
        // beside the workspace's, on the dependencies already built there.
        let target = root.join("target");
        // The baseline: the kit passes the unmutated server (cargo-mutants'
        // own baseline would test the mutated package, not the kit's).
        println!("baseline: the kit against the unmutated server");
        let status = Command::new(env!("CARGO"))
            .args(["test", "--locked", "-p", "users-conformance"])
            .args(TEST)
            .current_dir(root)
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .context("running the baseline")?;
        if !status.success() {
            bail!("the kit fails the unmutated server; no mutant was tried");
        }

        let mut command = Command::new(&mutants);
        command
            .arg("mutants")
            .args([
                "--package",
                "users-server",
                "--test-package",
                "users-conformance",
            ])
            .args(FILES.iter().flat_map(|f| ["--file", f]))
            .args(["--exclude-re", SCIM_ONLY])
            .args(["--baseline", "skip", "--no-shuffle", "--jobs", "1"])
            // The kit bounds each check to 60 s; a hung mutant is a timeout.
            .args(["--timeout", "240", "--build-timeout", "900"])
            .arg("--output")
            .arg(&output)
            .current_dir(root)
            .env("CARGO_TARGET_DIR", &target);
        match (scope, &before) {
            (Scope::Shard(k, n), _) => {
                command.args(["--shard", &format!("{k}/{n}")]);
                println!("shard {k}/{n} (replay: cargo xtask mutants --shard {k}/{n})");
            }
            (Scope::Survivors, Some(before)) => {
                if before.missed.is_empty() {
                    println!("the last whole run left no survivor");
                    return Ok(());
                }
                // By name without line and column: lines move as code changes.
                for mutant in &before.missed {
                    command.arg("--re").arg(survivor_pattern(mutant));
                }
            }
            _ => {}
        }
        command.arg("--").args(TEST);
        let status = command.status().context("running cargo-mutants")?;
        // cargo-mutants exits 2 when a mutant is missed, 3 on a timeout: both
        // are findings judged below; anything else is a failure to run.
        if !matches!(status.code(), Some(0 | 2 | 3)) {
            bail!("cargo-mutants failed: {status}");
        }
        let label = match scope {
            Scope::Whole => "whole".to_owned(),
            Scope::Survivors => "survivors".to_owned(),
            Scope::Shard(k, n) => format!("shard {k}/{n}"),
        };
        std::fs::write(&last_scope, label)?;
    }
    let (elapsed, finished) = run_time(&output.join("mutants.out"))?;
    let found = Outcomes::read(&output.join("mutants.out"))?;
    let outcomes = match before {
        // The whole run with every mutant named as a survivor was (the
        // survivors, and any other of the same name) as it fares now.
        Some(before) => {
            let retried: std::collections::BTreeSet<String> =
                before.missed.iter().map(|m| stable_name(m)).collect();
            let kept = |list: Vec<String>| -> Vec<String> {
                list.into_iter()
                    .filter(|m| !retried.contains(&stable_name(m)))
                    .collect()
            };
            Outcomes {
                caught: [kept(before.caught), found.caught].concat(),
                missed: found.missed,
                timeout: [kept(before.timeout), found.timeout].concat(),
                unviable: [kept(before.unviable), found.unviable].concat(),
            }
        }
        None => found,
    };
    if scope == Scope::Whole {
        std::fs::create_dir_all(&whole)?;
        for file in OUTCOME_FILES {
            std::fs::copy(output.join("mutants.out").join(file), whole.join(file))?;
        }
    }

    let unexplained: Vec<&String> = outcomes
        .missed
        .iter()
        .filter(|m| !explained.contains_key(&stable_name(m)))
        .collect();
    println!(
        "\n{} mutants: {} caught, {} timed out, {} missed, {} unviable; score {:.1}% of {} viable ({:.0} min)",
        outcomes.viable() + outcomes.unviable.len(),
        outcomes.caught.len(),
        outcomes.timeout.len(),
        outcomes.missed.len(),
        outcomes.unviable.len(),
        outcomes.score() * 100.0,
        outcomes.viable(),
        elapsed.as_secs_f64() / 60.0,
    );
    println!(
        "of the mutants in code that serves a promise of the spec (survivors explained as outside it or equivalent left out): {:.1}%",
        promise_score(&outcomes, &explained) * 100.0
    );
    for mutant in &outcomes.missed {
        let reason = explained.get(&stable_name(mutant)).map_or_else(
            || "NOT EXPLAINED".to_owned(),
            |e| format!("{}: {}", e.kind.label(), e.reason),
        );
        println!("survivor: {mutant}\n          {reason}");
    }
    if write {
        let doc = document(&outcomes, &explained, elapsed, finished, scope);
        std::fs::write(root.join("docs/conformance.md"), doc)?;
        println!("wrote docs/conformance.md");
    }
    if !unexplained.is_empty() {
        bail!(
            "{} survivors with no reason in xtask/mutants/explained.tsv: kill each with a check, or explain it",
            unexplained.len()
        );
    }
    let score = promise_score(&outcomes, &explained);
    if !matches!(scope, Scope::Shard(..)) && score < GOAL {
        bail!(
            "the kit catches {:.1}% of the mutants in code that serves a promise of the spec; the goal is {:.0}%",
            score * 100.0,
            GOAL * 100.0
        );
    }
    Ok(())
}

/// `docs/conformance.md` from a whole run.
fn document(
    outcomes: &Outcomes,
    explained: &BTreeMap<String, Explanation>,
    elapsed: std::time::Duration,
    finished: chrono::DateTime<chrono::FixedOffset>,
    scope: Scope,
) -> String {
    let mut out = String::new();
    let date = finished.format("%Y-%m-%d");
    let count = |kind: Option<Kind>| {
        outcomes
            .missed
            .iter()
            .filter(|m| explained.get(&stable_name(m)).map(|e| e.kind) == kind)
            .count()
    };
    let _ = writeln!(
        out,
        "# The conformance kit, scored by mutation testing\n\n\
         Written by `cargo xtask mutants --write` (after a whole run, or its survivors tried again) or `--report --write` (the last run judged again); do not edit.\n\n\
         [cargo-mutants](https://mutants.rs/) {version} changed one thing at a time in \
         users-server's service and store (`{files}`) and ran the conformance kit against \
         each mutated server, in process on SQLite. A mutant the kit fails is caught; one \
         it passes survives. The stores' SCIM queries (`query_users`, `query_groups`), which \
         the Users API's kit never calls, are not mutated; `tests/it/server/scim.rs` and \
         `cargo xtask scim` prove them.\n",
        version = tools::CARGO_MUTANTS.version,
        files = FILES.join("`, `"),
    );
    let _ = writeln!(
        out,
        "| | |\n|---|---|\n\
         | last run | {date}: {what}, {minutes:.0} minutes on this machine |\n\
         | mutants | {total} ({unviable} do not compile) |\n\
         | caught | {caught} |\n\
         | timed out (a hang the kit notices) | {timeout} |\n\
         | survived | {missed} ({outside} outside the spec, {equivalent} equivalent, {beyond} beyond a run, {unexplained} not explained) |\n\
         | score: caught and timed out, of viable | {score:.1}% |\n\
         | **score of the spec's promises**: the same, survivors outside the spec or equivalent left out | **{promise:.1}%** (goal {goal:.0}%) |\n",
        what = if scope == Scope::Survivors {
            "the survivors of the last whole run, tried again against the kit as it is now"
        } else {
            "every mutant"
        },
        minutes = elapsed.as_secs_f64() / 60.0,
        total = outcomes.viable() + outcomes.unviable.len(),
        unviable = outcomes.unviable.len(),
        caught = outcomes.caught.len(),
        timeout = outcomes.timeout.len(),
        missed = outcomes.missed.len(),
        score = outcomes.score() * 100.0,
        promise = promise_score(outcomes, explained) * 100.0,
        outside = count(Some(Kind::Outside)),
        equivalent = count(Some(Kind::Equivalent)),
        beyond = count(Some(Kind::Beyond)),
        unexplained = count(None),
        goal = GOAL * 100.0,
    );
    let _ = writeln!(
        out,
        "Reproduce: `cargo xtask mutants` (whole, about two and a half hours), \
         `cargo xtask mutants --shard K/N` (one shard; CI runs one a run), \
         `cargo xtask mutants --survivors` (the last whole run's survivors again), \
         `cargo xtask mutants --report` (the last run judged again, running nothing).\n\n\
         ## Survivors\n\n\
         Each with why the kit cannot or need not catch it \
         (`xtask/mutants/explained.tsv`): *outside the spec* (logs, metrics, probes, \
         shutdown, test hooks), *equivalent* (no caller can tell it from the original \
         under the spec's promises) or *beyond a run* (a promise a black-box run cannot \
         reach: a key's 24 hours, a restart, another replica).\n\n\
         | mutant | kind | why it survives |\n|---|---|---|"
    );
    for mutant in &outcomes.missed {
        let (kind, reason) = explained
            .get(&stable_name(mutant))
            .map_or(("**not explained**", ""), |e| {
                (e.kind.label(), e.reason.as_str())
            });
        let _ = writeln!(
            out,
            "| `{}` | {kind} | {} |",
            mutant.replace('|', "\\|"),
            reason.replace('|', "\\|")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stable_name_drops_line_and_column() {
        assert_eq!(
            stable_name("crates/a/src/b.rs:12:5: replace f -> bool with true"),
            "crates/a/src/b.rs: replace f -> bool with true"
        );
        assert_eq!(
            stable_name("crates/a/src/b.rs:12:5: replace == with != in f"),
            "crates/a/src/b.rs: replace == with != in f"
        );
        assert_eq!(stable_name("no position"), "no position");
    }

    #[test]
    fn a_survivor_is_found_again_after_its_lines_move() {
        let survivor = "crates/a/src/b.rs:12:5: replace + with - in Clock::now";
        let pattern = regex::Regex::new(&survivor_pattern(survivor)).unwrap();
        assert!(pattern.is_match(survivor));
        assert!(pattern.is_match("crates/a/src/b.rs:40:9: replace + with - in Clock::now"));
        assert!(!pattern.is_match("crates/a/src/b.rs:12:5: replace + with * in Clock::now"));
        assert!(!pattern.is_match("crates/a/src/c.rs:12:5: replace + with - in Clock::now"));
    }

    #[test]
    fn shards_count_from_zero() {
        assert_eq!(parse_shard("0/8").unwrap(), (0, 8));
        assert!(parse_shard("8/8").is_err());
        assert!(parse_shard("1").is_err());
    }

    #[test]
    fn the_score_counts_timeouts_as_caught() {
        let outcomes = Outcomes {
            caught: vec!["a".into(); 8],
            missed: vec!["b".into()],
            timeout: vec!["c".into()],
            unviable: vec!["d".into(); 5],
        };
        assert_eq!(outcomes.viable(), 10);
        assert!((outcomes.score() - 0.9).abs() < 1e-9);
    }

    #[test]
    fn the_promise_score_leaves_out_only_what_serves_no_promise() {
        let outcomes = Outcomes {
            caught: vec!["a".into(); 7],
            missed: vec![
                "f.rs:1:1: outside".into(),
                "f.rs:2:1: equivalent".into(),
                "f.rs:3:1: beyond".into(),
            ],
            timeout: vec![],
            unviable: vec![],
        };
        let explained: BTreeMap<String, Explanation> = [
            ("f.rs: outside", Kind::Outside),
            ("f.rs: equivalent", Kind::Equivalent),
            ("f.rs: beyond", Kind::Beyond),
        ]
        .into_iter()
        .map(|(name, kind)| {
            let reason = "a reason".to_owned();
            (name.to_owned(), Explanation { kind, reason })
        })
        .collect();
        assert!((outcomes.score() - 0.7).abs() < 1e-9);
        // 7 caught of 8: the survivor beyond a run still counts against.
        assert!((promise_score(&outcomes, &explained) - 7.0 / 8.0).abs() < 1e-9);
    }

    #[test]
    fn every_explanation_line_has_a_reason() {
        let root = crate::spec::project_root();
        let explained = explanations(&root).unwrap();
        assert!(
            explained.values().all(|e| e.reason.len() > 10),
            "{explained:#?}"
        );
    }
}
