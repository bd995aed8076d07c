//! `cargo xtask interop`: the spec through other ecosystems' generators.
//!
//! OpenAPI Generator (from PyPI; it runs on Java) makes a Python client and
//! a TypeScript (`typescript-fetch`) client from `openapi/users.yaml`. The
//! TypeScript client is type-checked with `tsc --strict`. The Python client
//! is installed in a fresh virtualenv and drives the reference server on
//! SQLite through `xtask/interop/drive.py`: create, get and a 304, a list
//! across pages, a PATCH that sets and clears members (custom attributes
//! included), PUT, password, a profile image up and down, delete, and a
//! 400, a 404, a 412 and a 415 whose
//! problem bodies the client must surface. Any generator error, type error
//! or failed call fails the command.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, bail};

use crate::tools;

pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    let java = Command::new("java").arg("-version").output();
    if !java.is_ok_and(|o| o.status.success()) {
        bail!("OpenAPI Generator needs a Java runtime (`apt-get install default-jre-headless`)");
    }
    let generator_python = tools::OPENAPI_GENERATOR.ensure()?;
    let tsc = tools::TYPESCRIPT.ensure()?;
    let jar = jar_path(&generator_python)?;
    let out = root.join("target/interop");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;

    let python_client = out.join("python");
    generate(
        root,
        &jar,
        "python",
        &python_client,
        &["--package-name", "users_api_client"],
    )?;
    let ts_client = out.join("typescript");
    generate(root, &jar, "typescript-fetch", &ts_client, &[])?;

    checked(
        Command::new(&tsc)
            .args([
                "--noEmit",
                "--strict",
                "--target",
                "es2019",
                "--lib",
                "es2019,dom",
            ])
            .args(["--module", "commonjs", "--moduleResolution", "node"])
            .arg(ts_client.join("index.ts")),
        "tsc on the TypeScript client",
    )?;
    eprintln!("interop: the TypeScript client type-checks (tsc --strict)");

    let venv = out.join("venv");
    checked(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 -m venv",
    )?;
    let python = venv.join("bin/python");
    checked(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet"])
            .arg(&python_client),
        "installing the Python client",
    )?;

    let server = tools::build_users_server(root)?;
    let secret = format!("{:032x}", rand::random::<u128>());
    let db = tempfile::tempdir()?;
    let database = format!("sqlite://{}", db.path().join("users.db").display());
    let running = tools::RunningServer::start(&server, &database, &secret)?;
    let token = |sub: &str, account: &str| tools::mint_token(&server, &secret, sub, account);
    let output = Command::new(&python)
        .arg(root.join("xtask/interop/drive.py"))
        .env("USERS_URL", &running.url)
        .env("USERS_TOKEN", token("alice", "acme")?)
        .env("USERS_OTHER_TOKEN", token("mallory", "globex")?)
        .env(
            "USERS_AVATAR_PNG",
            root.join("crates/users-conformance/assets/avatar.png"),
        )
        .output()
        .context("running drive.py")?;
    drop(running);
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "the Python client failed against the server:\n{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    eprintln!(
        "interop: the Python client drove every operation ({})",
        stdout.trim()
    );
    Ok(())
}

/// The jar inside the `openapi-generator-cli` wheel.
pub(crate) fn jar_path(python: &Path) -> anyhow::Result<PathBuf> {
    let output = checked(
        Command::new(python).args([
            "-c",
            "import os, openapi_generator_cli as m; \
             print(os.path.join(os.path.dirname(m.__file__), 'openapi-generator.jar'))",
        ]),
        "locating openapi-generator.jar",
    )?;
    let jar = PathBuf::from(String::from_utf8(output.stdout)?.trim());
    if !jar.exists() {
        bail!("no jar at {}", jar.display());
    }
    Ok(jar)
}

/// Runs one generator; any error it reports fails the command.
fn generate(
    root: &Path,
    jar: &Path,
    generator: &str,
    out: &Path,
    extra: &[&str],
) -> anyhow::Result<()> {
    let output = checked(
        Command::new("java")
            .arg("-jar")
            .arg(jar)
            .args(["generate", "-i"])
            .arg(root.join(crate::spec::SPEC_PATH))
            .args(["-g", generator, "-o"])
            .arg(out)
            .args(extra),
        &format!("OpenAPI Generator ({generator})"),
    )?;
    let log = String::from_utf8_lossy(&output.stdout);
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
    if !errors.is_empty() {
        bail!(
            "OpenAPI Generator ({generator}) reported errors:\n{}",
            errors.join("\n")
        );
    }
    eprintln!("interop: generated the {generator} client");
    Ok(())
}

/// Runs `command`; a non-zero status fails with its output.
fn checked(command: &mut Command, what: &str) -> anyhow::Result<Output> {
    let output = command
        .output()
        .with_context(|| format!("running {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output)
}
