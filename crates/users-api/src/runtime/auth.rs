//! Security schemes: which credentials an operation accepts, reading them
//! from a request, and the `401` that names what is missing.
//!
//! The generated table gives each operation its security requirements as
//! the spec writes them ([`SchemeSpec`]s: HTTP bearer, HTTP basic, an API
//! key in a header, query parameter or cookie). [`authorize`] takes the
//! first requirement whose every credential the request carries and hands
//! them to [`Authenticator::verify`]; when none is carried whole, the `401`
//! carries a `WWW-Authenticate` challenge for every scheme the operation
//! accepts.

use std::borrow::Cow;
use std::fmt;

use http::{StatusCode, header};

use super::{Authenticator, Claims, OperationSpec, Rejection};

/// Where an API key is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLocation {
    Header,
    Query,
    Cookie,
}

/// How a security scheme carries its credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemeKind {
    /// `Authorization: Bearer <token>`: HTTP bearer, OAuth 2.0 and OpenID
    /// Connect.
    Bearer,
    /// `Authorization: Basic <user:password in base64>`.
    Basic,
    /// A key under `name` in a header, query parameter or cookie.
    ApiKey {
        location: KeyLocation,
        name: &'static str,
    },
}

/// A security scheme an operation's requirement names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemeSpec {
    /// Its name under `components/securitySchemes`.
    pub name: &'static str,
    pub kind: SchemeKind,
    /// The scopes the requirement asks of it (every one).
    pub scopes: &'static [&'static str],
}

/// What a request carried for one scheme. Its `Debug` shows no secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential<'a> {
    /// The token after `Bearer `.
    Bearer(Cow<'a, str>),
    /// The decoded user and password.
    Basic { user: String, password: String },
    /// The key, as sent (a query parameter percent-decoded).
    ApiKey(Cow<'a, str>),
}

impl fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Self::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            Self::ApiKey(_) => f.write_str("ApiKey(<redacted>)"),
        }
    }
}

/// One scheme's credential, as a request presented it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented<'a> {
    pub scheme: &'static SchemeSpec,
    pub credential: Credential<'a>,
}

/// The `401` of an operation: `detail`, with a challenge for each scheme
/// the operation accepts (`Bearer`, `Basic realm="api"`, and for an API key
/// `ApiKey in="header", name="X-Api-Key"`, which no RFC defines but which
/// says where the key goes).
fn unauthorized(op: &OperationSpec, detail: String) -> Rejection {
    let mut challenges: Vec<String> = Vec::new();
    for scheme in op.security.iter().flat_map(|r| r.iter()) {
        let challenge = match scheme.kind {
            SchemeKind::Bearer => "Bearer".to_owned(),
            SchemeKind::Basic => "Basic realm=\"api\", charset=\"UTF-8\"".to_owned(),
            SchemeKind::ApiKey { location, name } => {
                let location = match location {
                    KeyLocation::Header => "header",
                    KeyLocation::Query => "query",
                    KeyLocation::Cookie => "cookie",
                };
                format!("ApiKey in=\"{location}\", name=\"{name}\"")
            }
        };
        if !challenges.contains(&challenge) {
            challenges.push(challenge);
        }
    }
    if challenges.is_empty() {
        challenges.push("Bearer".to_owned());
    }
    Rejection::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Authentication is required",
        detail,
    )
    .with_header(header::WWW_AUTHENTICATE, challenges.join(", "))
}

/// What a scheme asks the caller to send, for a `401`'s detail.
fn wanted(scheme: &SchemeSpec) -> String {
    match scheme.kind {
        SchemeKind::Bearer => "a bearer token in Authorization".to_owned(),
        SchemeKind::Basic => "a user and password (HTTP basic) in Authorization".to_owned(),
        SchemeKind::ApiKey { location, name } => match location {
            KeyLocation::Header => format!("an API key in header {name}"),
            KeyLocation::Query => format!("an API key in query parameter {name}"),
            KeyLocation::Cookie => format!("an API key in cookie {name}"),
        },
    }
}

/// The one `Authorization` header, if sent; several are refused.
fn authorization<'a>(
    op: &OperationSpec,
    parts: &'a http::request::Parts,
) -> Result<Option<(&'a str, &'a str)>, Rejection> {
    let mut sent = parts.headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = sent.next() else {
        return Ok(None);
    };
    if sent.next().is_some() {
        return Err(unauthorized(
            op,
            "send one Authorization header, not several".into(),
        ));
    }
    // The scheme is compared without case (RFC 9110 section 11.1).
    Ok(value
        .to_str()
        .ok()
        .and_then(|v| v.trim_start().split_once(' '))
        .map(|(scheme, rest)| (scheme, rest.trim())))
}

/// The credential a request carries for `scheme`, if it carries one.
fn credential<'a>(
    op: &OperationSpec,
    scheme: &SchemeSpec,
    parts: &'a http::request::Parts,
) -> Result<Option<Credential<'a>>, Rejection> {
    Ok(match scheme.kind {
        SchemeKind::Bearer => authorization(op, parts)?
            .filter(|(word, token)| word.eq_ignore_ascii_case("bearer") && !token.is_empty())
            .map(|(_, token)| Credential::Bearer(Cow::Borrowed(token))),
        SchemeKind::Basic => match authorization(op, parts)? {
            Some((word, encoded)) if word.eq_ignore_ascii_case("basic") => {
                let value = http::HeaderValue::from_str(&format!("Basic {encoded}"))
                    .map_err(|_| unauthorized(op, "the Basic credentials are malformed".into()))?;
                let decoded = <headers::Authorization<headers::authorization::Basic> as headers::Header>::decode(
                    &mut std::iter::once(&value),
                )
                .map_err(|_| {
                    unauthorized(
                        op,
                        "the Basic credentials are not base64 of user:password in UTF-8".into(),
                    )
                })?;
                Some(Credential::Basic {
                    user: decoded.username().to_owned(),
                    password: decoded.password().to_owned(),
                })
            }
            _ => None,
        },
        SchemeKind::ApiKey { location, name } => match location {
            KeyLocation::Header => {
                let mut sent = parts.headers.get_all(name).iter();
                match (sent.next(), sent.next()) {
                    (None, _) => None,
                    (Some(_), Some(_)) => {
                        return Err(unauthorized(
                            op,
                            format!("send one {name} header, not several"),
                        ));
                    }
                    (Some(value), None) => {
                        let key = value.to_str().map_err(|_| {
                            unauthorized(op, format!("the {name} header is not visible ASCII"))
                        })?;
                        (!key.trim().is_empty())
                            .then(|| Credential::ApiKey(Cow::Borrowed(key.trim())))
                    }
                }
            }
            KeyLocation::Query => {
                let mut found = parts
                    .uri
                    .query()
                    .into_iter()
                    .flat_map(|q| url::form_urlencoded::parse(q.as_bytes()))
                    .filter(|(key, _)| key == name)
                    .map(|(_, value)| value);
                match (found.next(), found.next()) {
                    (None, _) => None,
                    (Some(_), Some(_)) => {
                        return Err(unauthorized(
                            op,
                            format!("send query parameter {name} once, not several times"),
                        ));
                    }
                    (Some(value), None) => (!value.is_empty())
                        .then(|| Credential::ApiKey(Cow::Owned(value.into_owned()))),
                }
            }
            KeyLocation::Cookie => parts
                .headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.trim_matches('"'))
                .filter(|value| !value.is_empty())
                .map(|value| Credential::ApiKey(Cow::Borrowed(value))),
        },
    })
}

/// Authenticates the caller and checks that it holds the scopes of the
/// requirement it met.
///
/// An open operation (no requirement, or `{}` among them) takes an
/// anonymous caller when the implementation has one and no
/// `Authorization` is sent; a bearer token sent to it is still verified.
pub async fn authorize<A: Authenticator>(
    api: &A,
    op: &OperationSpec,
    parts: &http::request::Parts,
) -> Result<A::Claims, Rejection> {
    if op.security.is_empty() {
        if !parts.headers.contains_key(header::AUTHORIZATION)
            && let Some(anonymous) = api.anonymous()
        {
            return Ok(anonymous);
        }
        let token = match authorization(op, parts)? {
            None => {
                return Err(unauthorized(
                    op,
                    "send a bearer token in Authorization".into(),
                ));
            }
            Some((word, token)) if word.eq_ignore_ascii_case("bearer") && !token.is_empty() => {
                token
            }
            Some(_) => {
                return Err(unauthorized(
                    op,
                    "the Authorization header is not a bearer token".into(),
                ));
            }
        };
        return api
            .authenticate(token)
            .await
            .map_err(|e| unauthorized(op, e.0));
    }
    for requirement in op.security {
        let mut presented = Vec::with_capacity(requirement.len());
        for scheme in requirement.iter() {
            match credential(op, scheme, parts)? {
                Some(credential) => presented.push(Presented { scheme, credential }),
                None => break,
            }
        }
        if presented.len() < requirement.len() {
            continue;
        }
        let caller = api
            .verify(&presented)
            .await
            .map_err(|e| unauthorized(op, e.0))?;
        let scopes = requirement.iter().flat_map(|s| s.scopes.iter());
        if let Some(missing) = scopes.into_iter().find(|scope| !caller.has_scope(scope)) {
            return Err(Rejection::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "The token lacks a scope",
                format!("{} needs the {missing} scope", op.operation_id),
            ));
        }
        return Ok(caller);
    }
    let alternatives: Vec<String> = op
        .security
        .iter()
        .map(|requirement| {
            requirement
                .iter()
                .map(wanted)
                .collect::<Vec<_>>()
                .join(" and ")
        })
        .collect();
    let detail = match alternatives.as_slice() {
        [one]
            if one == "a bearer token in Authorization"
                && parts.headers.contains_key(header::AUTHORIZATION) =>
        {
            "the Authorization header is not a bearer token".to_owned()
        }
        [one] => format!("send {one}"),
        _ => format!("send one of: {}", alternatives.join("; ")),
    };
    Err(unauthorized(op, detail))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{caller, good_token, spec};
    use super::*;
    use crate::runtime::{AuthError, Caller};

    const KEY: SchemeSpec = SchemeSpec {
        name: "key",
        kind: SchemeKind::ApiKey {
            location: KeyLocation::Header,
            name: "X-Api-Key",
        },
        scopes: &[],
    };
    const QUERY_KEY: SchemeSpec = SchemeSpec {
        name: "queryKey",
        kind: SchemeKind::ApiKey {
            location: KeyLocation::Query,
            name: "api_key",
        },
        scopes: &[],
    };
    const COOKIE: SchemeSpec = SchemeSpec {
        name: "session",
        kind: SchemeKind::ApiKey {
            location: KeyLocation::Cookie,
            name: "sid",
        },
        scopes: &[],
    };
    const BASIC: SchemeSpec = SchemeSpec {
        name: "basic",
        kind: SchemeKind::Basic,
        scopes: &[],
    };
    const BEARER: SchemeSpec = SchemeSpec {
        name: "token",
        kind: SchemeKind::Bearer,
        scopes: &["things:write"],
    };

    /// Knows the key `k1`, the user `ann` with password `pw`, the session
    /// `s1` (only beside the query key `k2`), and no bearer token: a token
    /// is refused unless it is `good`, which lacks `things:write`.
    struct Keys;

    impl Authenticator for Keys {
        type Claims = Caller;
        async fn authenticate(&self, token: &str) -> Result<Caller, AuthError> {
            good_token(token)
        }
        async fn verify(&self, presented: &[Presented<'_>]) -> Result<Caller, AuthError> {
            let names: Vec<&str> = presented.iter().map(|p| p.scheme.name).collect();
            let ok = match (names.as_slice(), presented) {
                (["key"], [p]) => p.credential == Credential::ApiKey("k1".into()),
                (["basic"], [p]) => {
                    p.credential
                        == Credential::Basic {
                            user: "ann".into(),
                            password: "pw:with colon".into(),
                        }
                }
                (["queryKey", "session"], [k, s]) => {
                    k.credential == Credential::ApiKey("k 2".into())
                        && s.credential == Credential::ApiKey("s1".into())
                }
                (["token"], [p]) => {
                    let Credential::Bearer(token) = &p.credential else {
                        return Err(AuthError("not a token".into()));
                    };
                    return self.authenticate(token).await;
                }
                _ => false,
            };
            if ok {
                Ok(caller(&[]))
            } else {
                Err(AuthError(format!("{names:?} refused")))
            }
        }
    }

    fn request(uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut request = http::Request::builder().uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    const SECURITY: &[&[SchemeSpec]] = &[&[KEY], &[BASIC], &[QUERY_KEY, COOKIE], &[BEARER]];

    async fn status(uri: &str, headers: &[(&str, &str)]) -> Result<(), (StatusCode, String)> {
        authorize(&Keys, &spec(SECURITY), &request(uri, headers))
            .await
            .map(drop)
            .map_err(|r| (r.status, r.detail))
    }

    #[tokio::test]
    async fn any_requirement_met_whole_is_verified_with_its_schemes() {
        assert_eq!(status("/t", &[("x-api-key", "k1")]).await, Ok(()));
        // `ann:pw:with colon`: the password keeps its colons.
        assert_eq!(
            status("/t", &[("authorization", "basic YW5uOnB3OndpdGggY29sb24=")]).await,
            Ok(())
        );
        assert_eq!(
            status("/t?api_key=k%202", &[("cookie", "a=b; sid=s1")]).await,
            Ok(()),
            "two schemes at once, the query key percent-decoded"
        );
        // The query key alone meets no requirement.
        let (code, detail) = status("/t?api_key=k%202", &[]).await.unwrap_err();
        assert_eq!(code, StatusCode::UNAUTHORIZED);
        assert!(
            detail.starts_with("send one of: an API key in header X-Api-Key; "),
            "{detail}"
        );
        assert!(
            detail.contains("an API key in query parameter api_key and an API key in cookie sid"),
            "{detail}"
        );
        // A wrong key is a 401 from the implementation.
        let (code, detail) = status("/t", &[("x-api-key", "k9")]).await.unwrap_err();
        assert_eq!(
            (code, detail.as_str()),
            (StatusCode::UNAUTHORIZED, "[\"key\"] refused")
        );
        // The scopes of the requirement met are checked.
        let (code, detail) = status("/t", &[("authorization", "Bearer good")])
            .await
            .unwrap_err();
        assert_eq!(code, StatusCode::FORBIDDEN, "{detail}");
        // Malformed credentials are refused, not passed over.
        for headers in [
            &[("authorization", "Basic !!!")][..],
            &[("x-api-key", "k1"), ("x-api-key", "k1")],
        ] {
            let (code, _) = status("/t", headers).await.unwrap_err();
            assert_eq!(code, StatusCode::UNAUTHORIZED, "{headers:?}");
        }
        let (code, _) = status("/t?api_key=a&api_key=b", &[("cookie", "sid=s1")])
            .await
            .unwrap_err();
        assert_eq!(code, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn the_401_challenges_every_scheme_the_operation_takes() {
        let refused = authorize(&Keys, &spec(SECURITY), &request("/t", &[]))
            .await
            .unwrap_err();
        let challenge = refused
            .headers
            .iter()
            .find(|(name, _)| name == header::WWW_AUTHENTICATE)
            .map(|(_, value)| value.as_str());
        assert_eq!(
            challenge,
            Some(
                "ApiKey in=\"header\", name=\"X-Api-Key\", Basic realm=\"api\", charset=\"UTF-8\", \
                 ApiKey in=\"query\", name=\"api_key\", ApiKey in=\"cookie\", name=\"sid\", Bearer"
            )
        );
    }

    #[tokio::test]
    async fn by_default_only_a_lone_bearer_token_is_verified() {
        // `Tokens` of the runtime's tests keeps the default `verify`.
        struct Default;
        impl Authenticator for Default {
            type Claims = Caller;
            async fn authenticate(&self, token: &str) -> Result<Caller, AuthError> {
                if token == "good" {
                    Ok(caller(&["things:write"]))
                } else {
                    Err(AuthError("unknown token".into()))
                }
            }
        }
        let op = spec(&[&[KEY], &[BEARER]]);
        let with = |headers: &'static [(&'static str, &'static str)]| {
            let parts = request("/t", headers);
            async move { authorize(&Default, &op, &parts).await.map(drop) }
        };
        assert!(with(&[("authorization", "Bearer good")]).await.is_ok());
        let refused = with(&[("x-api-key", "k1")]).await.unwrap_err();
        assert_eq!(refused.detail, "this server does not verify key");
    }

    #[test]
    fn credentials_print_no_secret() {
        let shown = format!(
            "{:?} {:?} {:?}",
            Credential::Bearer("t0ken".into()),
            Credential::ApiKey("k3y".into()),
            Credential::Basic {
                user: "ann".into(),
                password: "s3cret".into()
            }
        );
        for secret in ["t0ken", "k3y", "s3cret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("ann"), "{shown}");
    }
}
