//! [`DatabaseUrl`]: a database URL that cannot print its password.

use std::fmt;

/// What a printed URL shows in place of a secret.
const HIDDEN: &str = "***";

/// Query parameters whose values are secrets (libpq's and sqlx's names).
const SECRET_PARAMETERS: [&str; 4] = ["password", "sslpassword", "passfile", "sslkey"];

/// A database URL. `Display` and `Debug` show it with its password (in the
/// user-info part or in a query parameter) replaced by `***`; only
/// [`DatabaseUrl::expose`] gives the URL itself, to connect with.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: String,
    shown: String,
}

impl DatabaseUrl {
    /// Wraps `url`.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            shown: redacted(url),
        }
    }

    /// The URL with its secrets, to connect with. Never print it.
    pub fn expose(&self) -> &str {
        &self.url
    }

    /// The secrets `url` holds: its user-info password and the values of
    /// its secret query parameters.
    fn secrets(&self) -> Vec<String> {
        let mut secrets = Vec::new();
        if let Ok(parsed) = url::Url::parse(&self.url) {
            if let Some(password) = parsed.password() {
                secrets.push(password.to_owned());
                if let Ok(decoded) = percent_decoded(password) {
                    secrets.push(decoded);
                }
            }
            for (name, value) in parsed.query_pairs() {
                if is_secret_parameter(&name) {
                    secrets.push(value.into_owned());
                }
            }
        }
        secrets.retain(|secret| !secret.is_empty());
        secrets
    }

    /// `err` with every secret of the URL (and the URL itself) replaced,
    /// wherever in its chain it was quoted.
    pub fn scrub(&self, err: anyhow::Error) -> anyhow::Error {
        let mut text = format!("{err:#}");
        if !self.url.is_empty() {
            text = text.replace(&self.url, &self.shown);
        }
        for secret in self.secrets() {
            text = text.replace(&secret, HIDDEN);
        }
        anyhow::anyhow!(text)
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(url))
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl").field(&self.shown).finish()
    }
}

fn is_secret_parameter(name: &str) -> bool {
    SECRET_PARAMETERS
        .iter()
        .any(|secret| secret.eq_ignore_ascii_case(name))
}

fn percent_decoded(text: &str) -> Result<String, std::str::Utf8Error> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
}

/// `url` with its user-info password and secret query values hidden. A URL
/// the parser refuses is hidden from its scheme on, past the scheme's
/// `://`, so that nothing it holds is shown.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Only a URL that cannot be a base refuses a password, and
                // one with a password is not such a URL.
                let _ = parsed.set_password(Some(HIDDEN));
            }
            if parsed
                .query_pairs()
                .any(|(name, _)| is_secret_parameter(&name))
            {
                let pairs: Vec<(String, String)> = parsed
                    .query_pairs()
                    .map(|(name, value)| {
                        let value = if is_secret_parameter(&name) {
                            HIDDEN.to_owned()
                        } else {
                            value.into_owned()
                        };
                        (name.into_owned(), value)
                    })
                    .collect();
                parsed.query_pairs_mut().clear().extend_pairs(pairs);
            }
            parsed.to_string()
        }
        Err(_) => match url.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://{HIDDEN}"),
            None => HIDDEN.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_the_user_info_is_never_shown() {
        let url = DatabaseUrl::new("postgres://postgres:s3cr%40t@db.internal:5432/users");
        for shown in [url.to_string(), format!("{url:?}")] {
            assert!(!shown.contains("s3cr"), "{shown}");
            assert!(
                shown.contains("postgres:***@db.internal:5432/users"),
                "{shown}"
            );
        }
        assert_eq!(
            url.expose(),
            "postgres://postgres:s3cr%40t@db.internal:5432/users"
        );
    }

    #[test]
    fn a_password_in_the_query_is_never_shown() {
        let url = DatabaseUrl::new(
            "postgres://db/users?user=app&password=hunter22&sslmode=require&PassWord=again1",
        );
        let shown = url.to_string();
        assert!(
            !shown.contains("hunter22") && !shown.contains("again1"),
            "{shown}"
        );
        assert!(
            shown.contains("user=app") && shown.contains("sslmode=require"),
            "{shown}"
        );
    }

    #[test]
    fn an_unparsable_url_shows_only_its_scheme() {
        let url = DatabaseUrl::new("postgres://user:pa ss@[bad/x");
        assert_eq!(url.to_string(), "postgres://***");
        assert_eq!(
            DatabaseUrl::new("sqlite://users.db").to_string(),
            "sqlite://users.db"
        );
    }

    #[test]
    fn errors_quoting_the_url_or_the_password_are_scrubbed() {
        let url = DatabaseUrl::new("postgres://app:topsecret@db/users?password=other1");
        let err =
            anyhow::anyhow!("connecting to postgres://app:topsecret@db/users?password=other1")
                .context("and the password was topsecret, other1");
        let text = format!("{:#}", url.scrub(err));
        assert!(
            !text.contains("topsecret") && !text.contains("other1"),
            "{text}"
        );
        assert!(text.contains("***"), "{text}");
    }
}
