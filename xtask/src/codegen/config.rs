//! `openapi/codegen.toml`: which specs the workspace generates, and into
//! which crates.
//!
//! Each `[[api]]` names a spec, the contract crate its server side is
//! written into, and optionally its SDK and CLI crates, the name of its
//! trait (else from `info.title`) and the error type its router answers
//! with in place of a problem document. The generators read nothing else
//! of the project: everything they write for one spec comes from that spec
//! and its entry here.

use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

/// Where the configuration lives, relative to the root.
pub(crate) const CONFIG_PATH: &str = "openapi/codegen.toml";

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// The specs, the first being the project's primary one (the spec
    /// `cargo xtask corpus`, `sweep` and `bench` put others in place of).
    pub(crate) api: Vec<Target>,
}

/// One spec and the crates generated from it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Target {
    /// The spec, relative to the root.
    pub(crate) spec: String,
    /// The contract crate's folder: the server's types, decoders, trait and
    /// router go to `src/generated.rs`.
    pub(crate) contract: String,
    /// The SDK crate's folder: progenitor's client, the SDK's surface, its
    /// mocks and code samples.
    #[serde(default)]
    pub(crate) sdk: Option<String>,
    /// The CLI crate's folder (needs `sdk`).
    #[serde(default)]
    pub(crate) cli: Option<String>,
    /// Whether the contract crate gets the reference page's document (the
    /// spec with each operation's code samples, in
    /// `src/generated_reference.json`; needs `sdk`).
    #[serde(default)]
    pub(crate) reference: bool,
    /// The trait's name; by default the spec's `info.title` in Pascal case
    /// ending in `Api`.
    #[serde(default)]
    pub(crate) trait_name: Option<String>,
    /// The API's own error body, when it is not a problem document.
    #[serde(default)]
    pub(crate) error: Option<ErrorType>,
}

/// An API's error body: a component schema, sent under a media type. Every
/// response of the spec whose body is this schema is answered as the router
/// answers a problem (the implementation returns a `runtime::Refused` of
/// that status), and every problem the router writes (a body that does not
/// decode, a missing token, an unknown route) is turned into this schema by
/// the contract crate's `From<runtime::ProblemDetails>` for it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct ErrorType {
    /// The component schema's name.
    pub(crate) schema: String,
    /// The media type the error is sent as.
    pub(crate) media_type: String,
}

impl Config {
    /// The configuration under `root`.
    pub(crate) fn load(root: &Path) -> anyhow::Result<Self> {
        let path = root.join(CONFIG_PATH);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let config: Self =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.api.is_empty() {
            bail!("{CONFIG_PATH} names no [[api]]");
        }
        let mut folders = std::collections::BTreeSet::new();
        for target in &self.api {
            if target.cli.is_some() && target.sdk.is_none() {
                bail!(
                    "{}: a CLI is generated over an SDK: name `sdk` too",
                    target.spec
                );
            }
            for folder in [
                Some(&target.contract),
                target.sdk.as_ref(),
                target.cli.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                if !folders.insert(folder.clone()) {
                    bail!("{CONFIG_PATH}: {folder} is written by two generators");
                }
            }
        }
        Ok(())
    }

    /// The primary spec's entry.
    pub(crate) fn primary(&self) -> &Target {
        &self.api[0]
    }
}

impl Target {
    /// The contract's generated module.
    pub(crate) fn server_output(&self) -> String {
        format!("{}/src/generated.rs", self.contract)
    }

    /// The reference page's document: the spec with each operation's code
    /// samples (written when there is an SDK to show).
    pub(crate) fn reference_output(&self) -> String {
        format!("{}/src/generated_reference.json", self.contract)
    }

    /// The SDK's file `name` (`generated.rs`, `generated_sdk.rs`, ...).
    pub(crate) fn sdk_output(&self, name: &str) -> Option<String> {
        self.sdk.as_ref().map(|sdk| format!("{sdk}/src/{name}"))
    }

    /// The CLI's generated module.
    pub(crate) fn cli_output(&self) -> Option<String> {
        self.cli
            .as_ref()
            .map(|cli| format!("{cli}/src/generated.rs"))
    }

    /// The SDK crate's name in Rust paths (`users_client`), from its folder.
    pub(crate) fn sdk_crate(&self) -> String {
        self.sdk
            .as_deref()
            .and_then(|sdk| sdk.rsplit('/').next())
            .unwrap_or("client")
            .replace('-', "_")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projects_configuration_loads_and_names_its_specs() {
        let config = Config::load(&crate::spec::project_root()).unwrap();
        assert_eq!(config.primary().spec, crate::spec::SPEC_PATH);
        assert_eq!(config.primary().sdk_crate(), "users_client");
        for target in &config.api {
            assert!(
                crate::spec::project_root().join(&target.spec).is_file(),
                "{} is not a file",
                target.spec
            );
        }
    }

    #[test]
    fn a_folder_written_twice_or_a_cli_without_an_sdk_is_refused() {
        let twice: Config = toml::from_str(
            "[[api]]\nspec = \"a.yaml\"\ncontract = \"crates/a\"\n\
             [[api]]\nspec = \"b.yaml\"\ncontract = \"crates/a\"\n",
        )
        .unwrap();
        assert!(
            twice
                .validate()
                .unwrap_err()
                .to_string()
                .contains("crates/a")
        );
        let cli: Config = toml::from_str(
            "[[api]]\nspec = \"a.yaml\"\ncontract = \"crates/a\"\ncli = \"crates/c\"\n",
        )
        .unwrap();
        assert!(cli.validate().unwrap_err().to_string().contains("sdk"));
        let unknown =
            toml::from_str::<Config>("[[api]]\nspec = \"a\"\ncontract = \"b\"\nsdkk = \"c\"\n");
        assert!(unknown.is_err(), "a misspelt key is an error");
    }
}
