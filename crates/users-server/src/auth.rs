//! Bearer JWTs: verification for the API and minting for dev mode and tests.
//!
//! The algorithm is pinned by configuration (HS256 with a secret, or RS256 /
//! ES256 with a public key); `exp`, `iss`, `aud` and `sub` are required and
//! `nbf` is checked. The claims name the account (`account`), the scopes
//! (`scope`, space-separated) and the other accounts the token may act on
//! (`switchableAccounts`), as the spec's security scheme documents them.

use std::collections::BTreeSet;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use users_api::{AuthError, Caller};

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The caller (a user id or a client id).
    pub sub: String,
    /// The account (tenant) the token belongs to.
    pub account: String,
    /// Space-separated scopes: `users:read`, `users:write`, `users:admin`.
    #[serde(default)]
    pub scope: String,
    /// Other accounts the token may act on through `accountSwitchKey`: the
    /// claim `switchableAccounts`, the name the spec documents.
    #[serde(default, rename = "switchableAccounts")]
    pub switchable_accounts: Vec<String>,
    /// The organizations of the account the caller belongs to: the claim
    /// `organizations`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<String>,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Not before, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

/// Verifies access tokens with one pinned algorithm and key.
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    fn validation(algorithm: Algorithm, issuer: &str, audience: &str) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        validation
    }

    /// HS256 with a shared secret.
    pub fn hs256(secret: &[u8], issuer: &str, audience: &str) -> Self {
        Self {
            key: DecodingKey::from_secret(secret),
            validation: Self::validation(Algorithm::HS256, issuer, audience),
        }
    }

    /// RS256 or ES256 with a PEM public key.
    pub fn public_key(
        algorithm: Algorithm,
        pem: &[u8],
        issuer: &str,
        audience: &str,
    ) -> anyhow::Result<Self> {
        let key = match algorithm {
            Algorithm::RS256 => DecodingKey::from_rsa_pem(pem)?,
            Algorithm::ES256 => DecodingKey::from_ec_pem(pem)?,
            other => anyhow::bail!("unsupported algorithm {other:?}; use HS256, RS256 or ES256"),
        };
        Ok(Self {
            key,
            validation: Self::validation(algorithm, issuer, audience),
        })
    }

    /// The caller a token proves. A refusal says what is wrong in words of
    /// its own, never the JWT library's (which name its types and the
    /// algorithms it knows); the library's words go to the debug log.
    pub fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let refused = |why: &str| AuthError(format!("the bearer token is not valid: {why}"));
        // RFC 7515 section 4.1.11: a token naming extensions its recipient
        // must understand (`crit`) is refused, as none is understood here.
        let header = jsonwebtoken::decode_header(token).map_err(|err| {
            tracing::debug!(%err, "bearer token header refused");
            refused("it is not a signed JWT")
        })?;
        if header.crit.is_some() {
            return Err(refused(
                "it names critical extensions (crit) this server does not know",
            ));
        }
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(|err| {
                tracing::debug!(%err, "bearer token refused");
                refused(reason(err.kind()))
            })?;
        let claims = data.claims;
        if claims.sub.trim().is_empty() {
            return Err(refused("its sub claim is empty"));
        }
        if claims.account.trim().is_empty() {
            return Err(refused("its account claim is empty"));
        }
        Ok(Caller {
            subject: claims.sub,
            account: claims.account,
            scopes: claims.scope.split_whitespace().map(str::to_owned).collect(),
            switchable_accounts: claims
                .switchable_accounts
                .into_iter()
                .filter(|account| !account.trim().is_empty())
                .collect::<BTreeSet<_>>(),
            organizations: claims.organizations.into_iter().collect(),
        })
    }
}

/// Why a token was refused, in a few fixed words.
fn reason(kind: &jsonwebtoken::errors::ErrorKind) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match kind {
        ErrorKind::ExpiredSignature => "it has expired",
        ErrorKind::ImmatureSignature => "it is not valid yet (nbf)",
        ErrorKind::InvalidIssuer => "it was issued by another issuer (iss)",
        ErrorKind::InvalidAudience => "it is meant for another audience (aud)",
        ErrorKind::InvalidSignature => "its signature does not verify",
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            "it is signed with an algorithm this server does not accept"
        }
        ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_) => {
            "its claims are missing or malformed"
        }
        ErrorKind::Json(_) => "its claims are missing or malformed",
        _ => "it is not a signed JWT",
    }
}

/// Signs `claims` with HS256 (dev mode and tests).
pub fn mint_hs256(secret: &[u8], claims: &Claims) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("HS256 signing does not fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use users_api::Claims as _;

    fn claims(exp_in: i64) -> Claims {
        Claims {
            sub: "u1".into(),
            account: "acme".into(),
            scope: "users:read users:write".into(),
            switchable_accounts: vec!["acme-eu".into()],
            organizations: Vec::new(),
            iss: "iss".into(),
            aud: "aud".into(),
            exp: chrono::Utc::now().timestamp() + exp_in,
            nbf: None,
        }
    }

    #[test]
    fn a_valid_token_gives_its_caller() {
        let verifier = JwtVerifier::hs256(b"secret", "iss", "aud");
        let caller = verifier
            .verify(&mint_hs256(b"secret", &claims(60)))
            .unwrap();
        assert_eq!(caller.subject, "u1");
        assert!(caller.has_scope("users:write") && !caller.has_scope("users:admin"));
        assert!(caller.switchable_accounts.contains("acme-eu"));
    }

    #[test]
    fn bad_tokens_are_refused() {
        let verifier = JwtVerifier::hs256(b"secret", "iss", "aud");
        assert!(verifier.verify(&mint_hs256(b"other", &claims(60))).is_err());
        assert!(
            verifier
                .verify(&mint_hs256(b"secret", &claims(-60)))
                .is_err()
        );
        let mut wrong = claims(60);
        wrong.aud = "elsewhere".into();
        assert!(verifier.verify(&mint_hs256(b"secret", &wrong)).is_err());
        let mut early = claims(600);
        early.nbf = Some(chrono::Utc::now().timestamp() + 300);
        assert!(verifier.verify(&mint_hs256(b"secret", &early)).is_err());
    }
}
