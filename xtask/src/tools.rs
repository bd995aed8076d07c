//! External tools the xtask runs, installed on first use into a cache outside
//! the repository, one folder per tool and version, so a second run (and a
//! second clone) reuses them.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The cache root: `$USERS_API_TOOLS_DIR`, else `$XDG_CACHE_HOME/users-api-tools`,
/// else `~/.cache/users-api-tools`.
pub(crate) fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("USERS_API_TOOLS_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("users-api-tools")
}

/// An npm package pinned to one version.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NpmTool {
    pub(crate) package: &'static str,
    pub(crate) version: &'static str,
    pub(crate) bin: &'static str,
}

pub(crate) const SPECTRAL: NpmTool = NpmTool {
    package: "@stoplight/spectral-cli",
    version: "6.16.3",
    bin: "spectral",
};

pub(crate) const REDOCLY: NpmTool = NpmTool {
    package: "@redocly/cli",
    version: "2.77.0",
    bin: "redocly",
};

pub(crate) const TYPESCRIPT: NpmTool = NpmTool {
    package: "typescript",
    version: "5.9.3",
    bin: "tsc",
};

pub(crate) const PLAYWRIGHT: NpmTool = NpmTool {
    package: "playwright-core",
    version: "1.65.1",
    bin: "playwright-core",
};

impl NpmTool {
    fn dir(&self) -> PathBuf {
        let name = self.package.trim_start_matches('@').replace('/', "-");
        cache_root().join(format!("{name}-{}", self.version))
    }

    /// The tool's executable, installed with npm when absent.
    pub(crate) fn ensure(&self) -> anyhow::Result<PathBuf> {
        let bin = self.dir().join("node_modules/.bin").join(self.bin);
        self.install(&bin)?;
        Ok(bin)
    }

    /// The package's folder, installed with npm when absent: for a package
    /// of data rather than a command.
    pub(crate) fn ensure_package(&self) -> anyhow::Result<PathBuf> {
        let package = self.dir().join("node_modules").join(self.package);
        self.install(&package.join("package.json"))?;
        Ok(package)
    }

    /// Installs the package unless `marker` (a file it installs) exists.
    fn install(&self, marker: &Path) -> anyhow::Result<()> {
        let what = format!("{}@{}", self.package, self.version);
        install_into_cache(&self.dir(), marker, &what, |scratch| {
            let status = Command::new("npm")
                .args([
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    "--prefix",
                ])
                .arg(scratch)
                .arg(&what)
                .status()
                .context("running npm (is Node.js installed?)")?;
            if !status.success() {
                bail!("npm install {what} failed: {status}");
            }
            Ok(())
        })
    }
}

/// Fills the cache entry `dir` with `install` unless `marker` (a path inside
/// it) exists: into a scratch folder renamed into place, so an interrupted
/// install never leaves a half-filled entry.
fn install_into_cache(
    dir: &Path,
    marker: &Path,
    what: &str,
    install: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if marker.exists() {
        return Ok(());
    }
    eprintln!("installing {what} into {}", dir.display());
    let parent = dir.parent().context("cache dir has a parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let scratch = tempfile_dir(parent)?;
    if let Err(err) = install(&scratch) {
        let _ = std::fs::remove_dir_all(&scratch);
        return Err(err);
    }
    match std::fs::rename(&scratch, dir) {
        Ok(()) => {}
        // Another process installed it meanwhile.
        Err(_) if marker.exists() => {
            let _ = std::fs::remove_dir_all(&scratch);
        }
        Err(err) => return Err(err).with_context(|| format!("moving {what} into the cache")),
    }
    Ok(())
}

/// A crate's binary pinned to one version, installed with `cargo install`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CargoTool {
    pub(crate) package: &'static str,
    pub(crate) version: &'static str,
    pub(crate) bin: &'static str,
}

pub(crate) const CARGO_MUTANTS: CargoTool = CargoTool {
    package: "cargo-mutants",
    version: "27.0.0",
    bin: "cargo-mutants",
};

impl CargoTool {
    /// The tool's executable, built and installed when absent.
    pub(crate) fn ensure(&self) -> anyhow::Result<PathBuf> {
        let dir = cache_root().join(format!("{}-{}", self.package, self.version));
        let bin = dir.join("bin").join(self.bin);
        let what = format!("{}@{}", self.package, self.version);
        install_into_cache(&dir, &bin, &what, |scratch| {
            let status = Command::new(env!("CARGO"))
                .args(["install", "--locked", "--quiet", "--root"])
                .arg(scratch)
                .arg(&what)
                .env("CARGO_INCREMENTAL", "0")
                .status()
                .context("running cargo install")?;
            if !status.success() {
                bail!("cargo install {what} failed: {status}");
            }
            Ok(())
        })?;
        Ok(bin)
    }
}

fn tempfile_dir(parent: &Path) -> anyhow::Result<PathBuf> {
    let dir = parent.join(format!(".install-{}-{}", std::process::id(), nanos()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

/// A PyPI package pinned to one version, installed in a virtualenv of its own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PythonTool {
    pub(crate) package: &'static str,
    pub(crate) version: &'static str,
    /// Further requirements installed beside it, pinned.
    pub(crate) with: &'static [&'static str],
}

pub(crate) const SCHEMATHESIS: PythonTool = PythonTool {
    package: "schemathesis",
    version: "4.32.5",
    with: &[],
};

/// OpenAPI Generator; its wheel carries the jar, which needs a Java runtime.
pub(crate) const OPENAPI_GENERATOR: PythonTool = PythonTool {
    package: "openapi-generator-cli",
    version: "7.26.0",
    with: &[],
};

/// The SCIM 2.0 conformance checker, with the HTTP engine of its client.
pub(crate) const SCIM2_TESTER: PythonTool = PythonTool {
    package: "scim2-tester",
    version: "0.5.2",
    with: &["scim2-client[httpx2]==0.13.2"],
};

impl PythonTool {
    /// The virtualenv's interpreter, with the package installed when absent.
    /// Run the tool as `python -m ...`: console scripts keep the path they
    /// were installed at, which the rename below changes.
    pub(crate) fn ensure(&self) -> anyhow::Result<PathBuf> {
        let dir = cache_root().join(format!("{}-{}", self.package, self.version));
        let python = dir.join("bin/python");
        let what = format!("{}=={}", self.package, self.version);
        install_into_cache(&dir, &python, &what, |scratch| {
            let run = |program: &Path, args: &[&str]| -> anyhow::Result<()> {
                let status = Command::new(program)
                    .args(args)
                    .status()
                    .with_context(|| format!("running {}", program.display()))?;
                if !status.success() {
                    bail!("{} {} failed: {status}", program.display(), args.join(" "));
                }
                Ok(())
            };
            let venv = scratch.to_str().context("a UTF-8 cache path")?;
            run(Path::new("python3"), &["-m", "venv", venv])?;
            let mut args = vec!["-m", "pip", "install", "--quiet", what.as_str()];
            args.extend(self.with);
            run(&scratch.join("bin/python"), &args)
        })?;
        Ok(python)
    }
}

/// Runs `cargo <args> --locked --offline` in a scratch copy of the
/// workspace at `dir`, building into `target_dir` (kept between runs, so
/// only what changed is rebuilt); whether it succeeded.
pub(crate) fn cargo_in_scratch(
    dir: &Path,
    target_dir: &Path,
    args: &[&str],
) -> anyhow::Result<bool> {
    let status = Command::new(env!("CARGO"))
        .args(args)
        .args(["--locked", "--offline"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir)
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    Ok(status.success())
}

/// Builds `users-server` (debug) and returns its path, for the xtasks that
/// run it as a process.
pub(crate) fn build_users_server(root: &Path) -> anyhow::Result<PathBuf> {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "users-server"])
        .current_dir(root)
        .status()
        .context("building users-server")?;
    if !status.success() {
        bail!("building users-server failed");
    }
    Ok(root.join("target/debug/users-server"))
}

/// `users-server` running as a process, with no rate limit and no metrics
/// listener; killed when dropped.
#[derive(Debug)]
pub(crate) struct RunningServer {
    pub(crate) child: std::process::Child,
    /// Where it listens, e.g. `http://127.0.0.1:41234`.
    pub(crate) url: String,
}

impl RunningServer {
    /// On a free loopback port.
    pub(crate) fn start(server: &Path, database_url: &str, secret: &str) -> anyhow::Result<Self> {
        Self::start_with(server, database_url, secret, "127.0.0.1:0", &[])
    }

    /// On `listen`, with `extra` arguments.
    pub(crate) fn start_with(
        server: &Path,
        database_url: &str,
        secret: &str,
        listen: &str,
        extra: &[&str],
    ) -> anyhow::Result<Self> {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(server)
            .args(["--listen", listen, "--rate-limit", "0"])
            .args(["--metrics-listen", "off", "--database-url", database_url])
            .args(extra)
            .env("USERS_JWT_SECRET", secret)
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .context("starting users-server")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut running = RunningServer {
            child,
            url: String::new(),
        };
        for line in BufReader::new(stdout).lines() {
            if let Some(rest) = line?.strip_prefix("Users API on ") {
                running.url = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                break;
            }
        }
        if running.url.is_empty() {
            bail!("the server did not say where it listens");
        }
        Ok(running)
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `users:admin` token for `sub` in `account`, from the server's `token`
/// subcommand.
pub(crate) fn mint_token(
    server: &Path,
    secret: &str,
    sub: &str,
    account: &str,
) -> anyhow::Result<String> {
    mint_scoped_token(server, secret, sub, account, "users:admin")
}

/// A token holding `scope` for `sub` in `account`.
pub(crate) fn mint_scoped_token(
    server: &Path,
    secret: &str,
    sub: &str,
    account: &str,
    scope: &str,
) -> anyhow::Result<String> {
    let output = Command::new(server)
        .args(["token", "--sub", sub, "--account", account])
        .args(["--scope", scope])
        .env("USERS_JWT_SECRET", secret)
        .output()
        .context("minting a token")?;
    if !output.status.success() {
        bail!(
            "users-server token failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8(output.stdout)?.trim().to_owned())
}
