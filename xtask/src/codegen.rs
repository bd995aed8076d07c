//! `cargo xtask codegen`: every file derived from the spec.
//!
//! Generators are pure functions from the spec to file contents; this module
//! alone touches the file system. In check mode nothing is written: a stale
//! file is reported with a unified diff and the command that fixes it.

mod client;
pub(crate) mod config;
mod lift;
mod lower;
mod model;
pub(crate) use lift::{METHODS, operation_at, operations};
pub(crate) use naming::unescape;
#[cfg(test)]
pub(crate) use server::known_formats;
mod naming;
mod normalize;
mod open_enum;
mod optional;
mod sdk;
mod server;
mod three_state;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::spec;

/// Whether `run` writes the generated files or only compares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Write,
    Check,
}

/// One generated file: where it goes and what it holds.
#[derive(Debug)]
pub(crate) struct Generated {
    pub(crate) path: String,
    pub(crate) contents: String,
}

/// What the generators do with a part of the spec outside the subset
/// `docs/openapi-support.md` documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strictness {
    /// Leave it out, list it, and generate the rest.
    Lenient,
    /// Fail, listing it.
    Strict,
}

/// A part of the spec a generator left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Refusal {
    /// A JSON Pointer into the spec.
    pub(crate) pointer: String,
    pub(crate) reason: String,
}

/// What the generators left out, each with the generator's name
/// (`client`, `server`; `spec` for what the document holds that neither
/// can read).
pub(crate) type Refusals = Vec<(&'static str, Refusal)>;

/// The refusals as lines, `<generator> <pointer>: <reason>`, sorted.
pub(crate) fn refusal_list(refusals: &[(&str, Refusal)]) -> String {
    let mut lines: Vec<String> = refusals
        .iter()
        .map(|(generator, r)| {
            // One line each: a reason quoting a multi-line error is folded.
            let reason = r.reason.split_whitespace().collect::<Vec<_>>().join(" ");
            format!("{generator} {}: {reason}\n", r.pointer)
        })
        .collect();
    lines.sort();
    lines.dedup();
    lines.concat()
}

/// Runs every generator against every spec `openapi/codegen.toml` names.
pub(crate) fn run(root: &Path, mode: Mode, strictness: Strictness) -> anyhow::Result<()> {
    let (files, refusals) = generate_all(root)?;
    if !refusals.is_empty() {
        let list = refusal_list(&refusals);
        match strictness {
            Strictness::Strict => bail!(
                "{} part(s) of the spec are outside the supported subset \
                 (docs/openapi-support.md):\n{list}",
                refusals.len()
            ),
            Strictness::Lenient => eprintln!(
                "left out, outside the supported subset (docs/openapi-support.md):\n{list}"
            ),
        }
    }
    let mut stale = Vec::new();
    for file in &files {
        if !ensure_file_contents(&root.join(&file.path), &file.contents, mode)? {
            stale.push(file.path.as_str());
        }
    }
    if mode == Mode::Check && !stale.is_empty() {
        bail!(
            "{} generated file(s) are stale: {}\nrun `cargo xtask codegen` and commit the result",
            stale.len(),
            stale.join(", ")
        );
    }
    Ok(())
}

/// The contents of every generated file, from every spec under `root`, and
/// what each generator left out (a refusal's pointer is prefixed with its
/// spec's path when it is not the primary spec's).
pub(crate) fn generate_all(root: &Path) -> anyhow::Result<(Vec<Generated>, Refusals)> {
    let config = config::Config::load(root)?;
    let mut files = Vec::new();
    let mut refusals = Vec::new();
    for (index, target) in config.api.iter().enumerate() {
        let spec = spec::load_value(&root.join(&target.spec))?;
        let (mut more, left_out) = generate_from(&spec, target)
            .with_context(|| format!("generating from {}", target.spec))?;
        files.append(&mut more);
        refusals.extend(left_out.into_iter().map(|(generator, mut refusal)| {
            if index > 0 {
                refusal.pointer = format!("{}#{}", target.spec, refusal.pointer);
            }
            (generator, refusal)
        }));
    }
    Ok((files, refusals))
}

/// The files generated from the primary spec alone (the spec `corpus`,
/// `sweep` and `bench` replace), and what was left out of them.
pub(crate) fn generate_primary(root: &Path) -> anyhow::Result<(Vec<Generated>, Refusals)> {
    let config = config::Config::load(root)?;
    let target = config.primary();
    generate_from(&spec::load_value(&root.join(&target.spec))?, target)
}

/// The contents of every file generated from `spec` into `target`'s crates,
/// and what each generator left out.
pub(crate) fn generate_from(
    spec: &serde_json::Value,
    target: &config::Target,
) -> anyhow::Result<(Vec<Generated>, Refusals)> {
    // Foreign references inlined; a 3.1 document read as the 3.0 one it
    // lowers to.
    let (readable, spec_refusals) = normalize::readable(spec);
    let lowered = lower::to_30(&readable);
    let spec = &*lowered;
    let krate = target.sdk_crate();
    let server_options = server::Options::of(target);
    // The two generators share nothing but the spec: they run side by side.
    let (client, server) = std::thread::scope(|scope| {
        // The generators recurse through nested schemas: a spawned
        // thread's default 2 MiB of stack is not enough for the deepest
        // public specs (Microsoft Graph's) in a dev build.
        let server = std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn_scoped(scope, || server::generate(spec, &server_options))
            .expect("a thread for the server generator");
        let client = target.sdk.is_some().then(|| client::generate(spec, &krate));
        let server = server
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (client, server)
    });
    let (server, server_refusals) = server?;
    let rust = |body: &str| add_preamble(&target.spec, body);
    let mut files = vec![Generated {
        path: target.server_output(),
        contents: rust(&server),
    }];
    let mut refusals: Refusals = spec_refusals.into_iter().map(|r| ("spec", r)).collect();
    refusals.extend(server_refusals.into_iter().map(|r| ("server", r)));
    if let Some(client) = client {
        let client::Output {
            client,
            mock,
            sdk,
            cli,
            samples,
            refusals: client_refusals,
        } = client?;
        refusals.splice(0..0, client_refusals.into_iter().map(|r| ("client", r)));
        let sdk_file = |name: &str, contents: String| Generated {
            path: target.sdk_output(name).unwrap_or_default(),
            contents,
        };
        files.splice(
            0..0,
            [
                sdk_file("generated.rs", rust(&client)),
                sdk_file("generated_mock.rs", rust(&mock)),
                sdk_file("generated_sdk.rs", rust(&sdk)),
            ],
        );
        if let Some(path) = target.cli_output() {
            files.insert(
                3,
                Generated {
                    path,
                    contents: rust(&cli),
                },
            );
        }
        files.push(sdk_file(
            "generated_samples.rs",
            rust(&sdk::samples_module(&samples)),
        ));
        if target.reference {
            files.push(Generated {
                path: target.reference_output(),
                contents: reference_document(spec, &target.spec, &krate, &samples)?,
            });
        }
    }
    Ok((files, refusals))
}

/// The spec as JSON, each operation with its code samples
/// (`x-codeSamples`, as Redoc reads them: curl, then the SDK), and a root
/// `x-generated-by` naming the command that writes it.
fn reference_document(
    spec: &serde_json::Value,
    spec_path: &str,
    krate: &str,
    samples: &[sdk::Sample],
) -> anyhow::Result<String> {
    let mut document = spec.clone();
    let by_id: std::collections::BTreeMap<&str, &sdk::Sample> = samples
        .iter()
        .map(|sample| (sample.operation_id.as_str(), sample))
        .collect();
    for (_, item) in document["paths"].as_object_mut().into_iter().flatten() {
        for (_, operation) in item.as_object_mut().into_iter().flatten() {
            let Some(sample) = operation
                .get("operationId")
                .and_then(serde_json::Value::as_str)
                .and_then(|id| by_id.get(id))
            else {
                continue;
            };
            operation["x-codeSamples"] = serde_json::json!([
                { "lang": "Shell", "label": "curl", "source": sample.curl },
                { "lang": "Rust", "label": krate.replace('_', "-"), "source": sample.rust },
            ]);
        }
    }
    document["x-generated-by"] = serde_json::Value::String(format!(
        "`cargo xtask codegen` from {spec_path}; do not edit"
    ));
    Ok(serde_json::to_string_pretty(&document)? + "\n")
}

/// The header every generated Rust file starts with.
pub(crate) fn add_preamble(spec_path: &str, body: &str) -> String {
    format!(
        "// @generated by `cargo xtask codegen` from {spec_path}; do not edit.\n\
         // Regenerate with `cargo xtask codegen`; `cargo xtask codegen --check` reports drift.\n\n{body}"
    )
}

/// Formats generated Rust code with prettyplease, which is byte-stable across
/// toolchains (rustfmt is not, and is not run on generated files).
pub(crate) fn format_rust(tokens: proc_macro2::TokenStream) -> anyhow::Result<String> {
    let file: syn::File = syn::parse2(tokens).context("generated code does not parse")?;
    Ok(prettyplease::unparse(&file))
}

/// Makes `path` hold `contents`. Returns whether it already did. In check mode
/// nothing is written and a unified diff of the difference is printed.
pub(crate) fn ensure_file_contents(
    path: &Path,
    contents: &str,
    mode: Mode,
) -> anyhow::Result<bool> {
    let old = match std::fs::read_to_string(path) {
        Ok(old) => Some(old),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    if old.as_deref() == Some(contents) {
        return Ok(true);
    }
    match mode {
        Mode::Check => {
            let old = old.unwrap_or_default();
            let name = display_path(path);
            let diff = similar::TextDiff::from_lines(old.as_str(), contents);
            eprintln!(
                "{} is stale; `cargo xtask codegen` would change it:\n{}",
                name,
                diff.unified_diff()
                    .context_radius(3)
                    .header(&format!("a/{name}"), &format!("b/{name}"))
            );
        }
        Mode::Write => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(path, contents)
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("updated {}", display_path(path));
        }
    }
    Ok(false)
}

fn display_path(path: &Path) -> String {
    let root = spec::project_root();
    path.strip_prefix(&root)
        .map(PathBuf::from)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain `cargo test` fails when a generated file is out of date.
    #[test]
    fn generated_files_are_fresh() {
        if let Err(err) = run(&spec::project_root(), Mode::Check, Strictness::Strict) {
            panic!("{err:#}");
        }
    }

    /// Generation is deterministic: two runs give the same bytes.
    #[test]
    fn generation_is_byte_stable() {
        let root = spec::project_root();
        let first = generate_all(&root).unwrap().0;
        let second = generate_all(&root).unwrap().0;
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(a.contents, b.contents, "{} differs between runs", a.path);
        }
    }

    /// Check mode catches a one-line spec change and writes nothing.
    #[test]
    fn check_fails_after_a_spec_change_and_writes_nothing() {
        let root = spec::project_root();
        let tmp = tempfile::tempdir().unwrap();
        let spec_copy = tmp.path().join(spec::SPEC_PATH);
        std::fs::create_dir_all(spec_copy.parent().unwrap()).unwrap();
        for file in generate_all(&root).unwrap().0 {
            let dest = tmp.path().join(&file.path);
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::write(&dest, &file.contents).unwrap();
        }
        let config = config::Config::load(&root).unwrap();
        for path in config
            .api
            .iter()
            .map(|t| t.spec.as_str())
            .chain([config::CONFIG_PATH])
        {
            std::fs::copy(root.join(path), tmp.path().join(path)).unwrap();
        }
        let original = std::fs::read_to_string(root.join(spec::SPEC_PATH)).unwrap();
        std::fs::write(&spec_copy, &original).unwrap();
        run(tmp.path(), Mode::Check, Strictness::Strict).expect("a fresh copy passes the check");

        let changed = original.replacen("maxLength: 5000", "maxLength: 4000", 1);
        assert_ne!(
            changed, original,
            "the spec has a description limit to change"
        );
        std::fs::write(&spec_copy, &changed).unwrap();
        let before: Vec<String> = generate_all(&root)
            .unwrap()
            .0
            .iter()
            .map(|f| std::fs::read_to_string(tmp.path().join(&f.path)).unwrap())
            .collect();
        let err = run(tmp.path(), Mode::Check, Strictness::Strict)
            .expect_err("the check notices the change");
        assert!(err.to_string().contains("cargo xtask codegen"), "{err}");
        let after: Vec<String> = generate_all(&root)
            .unwrap()
            .0
            .iter()
            .map(|f| std::fs::read_to_string(tmp.path().join(&f.path)).unwrap())
            .collect();
        assert_eq!(before, after, "check mode wrote a file");
    }

    #[test]
    fn ensure_file_contents_writes_only_in_write_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a/b.rs");
        assert!(!ensure_file_contents(&path, "x\n", Mode::Check).unwrap());
        assert!(!path.exists());
        assert!(!ensure_file_contents(&path, "x\n", Mode::Write).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x\n");
        assert!(ensure_file_contents(&path, "x\n", Mode::Check).unwrap());
    }

    #[test]
    fn preamble_names_the_command() {
        let text = add_preamble("openapi/users.yaml", "fn f() {}\n");
        assert!(text.starts_with("// @generated by `cargo xtask codegen`"));
        assert!(text.ends_with("fn f() {}\n"));
    }
}
