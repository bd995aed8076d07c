//! `cargo xtask browser`: Swagger UI in a real headless browser.
//!
//! Installs Debian's `chromium` and npm's `playwright-core` when absent,
//! starts `users-server` in dev mode on a free port with a fresh SQLite file,
//! and runs `xtask/browser/swagger-ui.mjs`: the page opened under a host
//! name that is not a loopback address, every other host blocked and
//! recorded; authorize with the dev token; every operation run with the
//! request the page pre-fills from the spec's examples (a profile image
//! chosen with the page's file picker), each getting its documented success
//! status; a screenshot per step in `target/browser/`.
//! The operations run are compared with the spec's.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use crate::tools;

const CHROMIUM: &str = "/usr/bin/chromium";

pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("installing Debian's chromium");
        for args in [
            &["update", "-qq"][..],
            &["install", "-y", "-qq", "chromium"][..],
        ] {
            let status = Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .context("running apt-get")?;
            if !status.success() {
                bail!("apt-get {} failed", args.join(" "));
            }
        }
    }
    let playwright = tools::PLAYWRIGHT.ensure()?;
    // ES modules resolve packages next to the script, so it runs from the
    // tool's folder, beside its node_modules.
    let tool_dir = playwright
        .ancestors()
        .nth(3)
        .context("the playwright-core install folder")?;
    let script = tool_dir.join("swagger-ui.mjs");
    std::fs::copy(root.join("xtask/browser/swagger-ui.mjs"), &script)?;

    let server = tools::build_users_server(root)?;
    let data = tempfile::tempdir()?;
    let mut child = Command::new(server)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--rate-limit",
            "0",
            "--metrics-listen",
            "off",
            "--dev",
        ])
        .arg("--database-url")
        .arg(format!(
            "sqlite://{}",
            data.path().join("users.db").display()
        ))
        .env_remove("USERS_JWT_SECRET")
        .env_remove("USERS_JWT_PUBLIC_KEY")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .context("starting users-server")?;
    let stdout = child.stdout.take().context("server stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let (mut base, mut token) = (None, None);
    let mut dev_mode = false;
    for line in lines.by_ref() {
        let line = line?;
        if let Some(rest) = line.strip_prefix("Users API on ") {
            base = rest.split_whitespace().next().map(str::to_owned);
        }
        dev_mode |= line.starts_with("DEV MODE");
        if line.starts_with("eyJ") {
            token = Some(line.trim().to_owned());
            break;
        }
    }
    let result = (|| {
        let (Some(base), Some(token)) = (base, token) else {
            bail!("the server printed no URL or dev token");
        };
        if !dev_mode {
            bail!("the server did not say it runs in dev mode");
        }
        let out = root.join("target/browser");
        if out.exists() {
            std::fs::remove_dir_all(&out)?;
        }
        std::fs::create_dir_all(&out)?;
        let output = Command::new("node")
            .arg(&script)
            .args([&base, &token])
            .arg(&out)
            .arg(root.join("crates/users-conformance/assets/avatar.png"))
            .env("CHROMIUM", CHROMIUM)
            .current_dir(tool_dir)
            .stderr(Stdio::inherit())
            .output()
            .context("running node")?;
        let said = String::from_utf8_lossy(&output.stdout);
        print!("{said}");
        if !output.status.success() {
            bail!("the Swagger UI test failed");
        }
        // Every operation of the spec was run from the page.
        let report: serde_json::Value = serde_json::from_str(
            said.lines()
                .last()
                .context("the browser test reported nothing")?,
        )?;
        let ran: std::collections::BTreeSet<&str> = report["operations"]
            .as_array()
            .context("the report lists no operations")?
            .iter()
            .filter_map(serde_json::Value::as_str)
            .collect();
        let spec = crate::spec::load_value(&root.join("openapi/users.yaml"))?;
        let declared: std::collections::BTreeSet<&str> = spec["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(_, item)| item.as_object().into_iter().flatten())
            .filter_map(|(_, operation)| operation.get("operationId")?.as_str())
            .collect();
        if ran != declared {
            bail!("the page ran {ran:?}, but the spec declares {declared:?}");
        }
        eprintln!(
            "Swagger UI test passed: every operation run from the page; screenshots in {}",
            out.display()
        );
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}
