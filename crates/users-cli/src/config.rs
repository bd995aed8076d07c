//! Profiles: a base URL and a token per name, in `config.toml` under the
//! user's configuration directory (`$USERS_CONFIG_DIR`, else the platform's:
//! `~/.config/users` on Linux), written with mode 0600.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::runtime::Failure;

/// The configuration file's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// The profiles, by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// One profile.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The API's base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The directory the configuration lives in.
pub fn dir() -> Result<PathBuf, Failure> {
    if let Some(dir) = std::env::var_os("USERS_CONFIG_DIR") {
        return Ok(PathBuf::from(dir));
    }
    dirs::config_dir()
        .map(|dir| dir.join("users"))
        .ok_or_else(|| {
            Failure::Local("no configuration directory; set USERS_CONFIG_DIR".to_owned())
        })
}

/// The configuration file.
pub fn path() -> Result<PathBuf, Failure> {
    Ok(dir()?.join("config.toml"))
}

impl Config {
    /// The configuration at `path`; empty when there is none.
    pub fn load(path: &Path) -> Result<Self, Failure> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text)
                .map_err(|err| Failure::Local(format!("{}: {err}", path.display()))),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(err) => Err(Failure::Local(format!("reading {}: {err}", path.display()))),
        }
    }

    /// Writes the configuration to `path`, readable by its owner only: a
    /// new file is written beside it with mode 0600 and renamed over it, so
    /// a reader never sees half a file and the token is never readable by
    /// others, not even for a moment.
    pub fn save(&self, path: &Path) -> Result<(), Failure> {
        let local = |what: &str, err: std::io::Error| {
            Failure::Local(format!("{what} {}: {err}", path.display()))
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|err| local("creating the folder of", err))?;
        let text = toml::to_string(self).map_err(|err| Failure::Local(err.to_string()))?;
        let temporary = path.with_extension("toml.new");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        {
            use std::io::Write;
            let mut file = options
                .open(&temporary)
                .map_err(|err| local("writing", err))?;
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|err| local("writing", err))?;
        }
        std::fs::rename(&temporary, path).map_err(|err| local("replacing", err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_config_reads_back_and_only_its_owner_can_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("config.toml");
        assert_eq!(Config::load(&path).unwrap(), Config::default());
        let mut config = Config::default();
        config.profiles.insert(
            "default".into(),
            Profile {
                url: Some("http://127.0.0.1:8080".into()),
                token: Some("secret-token".into()),
            },
        );
        config.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), config);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{config:?}").contains("secret-token"));
    }
}
