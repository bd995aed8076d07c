//! Hostile input: forged and broken tokens, and bodies built to break a
//! parser or a database. Every one is a 4xx problem, never a 5xx, and the
//! stored user is exactly as it was.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use users_server::app::AppOptions;
use users_server::auth::JwtVerifier;

use super::seeds::new_user;
use super::{AUDIENCE, Db, ISSUER, TestServer};
use crate::on_both;

const PRIVATE_PEM: &[u8] = include_bytes!("../../fixtures/jwt-rs256-private.pem");
const PUBLIC_PEM: &[u8] = include_bytes!("../../fixtures/jwt-rs256-public.pem");

fn claims() -> serde_json::Map<String, Value> {
    let now = chrono::Utc::now().timestamp();
    json!({
        "sub": "admin-1", "account": "acme", "scope": "users:admin",
        "iss": ISSUER, "aud": AUDIENCE, "exp": now + 600
    })
    .as_object()
    .unwrap()
    .clone()
}

fn rs256(claims: &serde_json::Map<String, Value>) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        claims,
        &EncodingKey::from_rsa_pem(PRIVATE_PEM).unwrap(),
    )
    .unwrap()
}

fn b64(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn forged_and_broken_tokens_are_401() {
    let verifier = JwtVerifier::public_key(Algorithm::RS256, PUBLIC_PEM, ISSUER, AUDIENCE).unwrap();
    let server = TestServer::start_custom(Db::Sqlite, AppOptions::default(), verifier).await;
    let get = |token: String| {
        let url = format!("{}/v1/lookups/countries", server.url);
        async move {
            let response = reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (status, body)
        }
    };
    assert_eq!(
        get(rs256(&claims())).await.0,
        200,
        "a valid RS256 token works"
    );

    let now = chrono::Utc::now().timestamp();
    let with = |key: &str, value: Value| {
        let mut c = claims();
        c.insert(key.into(), value);
        c
    };
    let without = |key: &str| {
        let mut c = claims();
        c.remove(key);
        c
    };
    let valid = rs256(&claims());
    let (head, rest) = valid.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let mut tampered_sig: Vec<char> = signature.chars().collect();
    tampered_sig[10] = if tampered_sig[10] == 'A' { 'B' } else { 'A' };
    let tampered_payload = b64(&Value::Object(with(
        "scope",
        json!("users:admin users:write"),
    )));
    let cases: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({ "alg": "none", "typ": "JWT" })),
                payload
            ),
        ),
        (
            "HS256 signed with the public key",
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims(),
                &EncodingKey::from_secret(PUBLIC_PEM),
            )
            .unwrap(),
        ),
        ("expired", rs256(&with("exp", json!(now - 120)))),
        ("not yet valid", rs256(&with("nbf", json!(now + 300)))),
        ("wrong audience", rs256(&with("aud", json!("another-api")))),
        ("wrong issuer", rs256(&with("iss", json!("someone-else")))),
        ("no expiry", rs256(&without("exp"))),
        ("no subject", rs256(&without("sub"))),
        (
            "tampered signature",
            format!(
                "{head}.{payload}.{}",
                tampered_sig.iter().collect::<String>()
            ),
        ),
        (
            "tampered payload",
            format!("{head}.{tampered_payload}.{signature}"),
        ),
        ("not a JWT", "garbage".into()),
    ];
    for (name, token) in cases {
        let (status, body) = get(token).await;
        assert_eq!(status, 401, "{name}: {body}");
        assert_eq!(body["code"], "unauthorized", "{name}");
    }
    server.stop().await;
}

async fn hostile_bodies(db: Db) {
    let server = TestServer::start(db).await;
    let admin = server.admin();
    let user = admin
        .create_user(&new_user("hostile@example.com"))
        .await
        .unwrap();
    let before = server.stored("acme", user.id).await.unwrap();
    let token = server.token("admin-1", "acme", "users:admin", &[]);
    let path = format!("{}/v1/users/{}", server.url, user.id);

    let deep = format!(
        "{{\"customAttributes\": {}1{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let huge = format!("{{\"description\": \"{}\"}}", "a".repeat(10 * 1024 * 1024));
    let over = format!("{{\"description\": \"{}\"}}", "a".repeat(70 * 1024));
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("nested 10,000 deep", deep.into_bytes(), 400),
        (
            "invalid UTF-8",
            b"{\"jobTitle\": \"\xff\xfe\"}".to_vec(),
            400,
        ),
        (
            "NUL in a value",
            br#"{"jobTitle": "a\u0000b"}"#.to_vec(),
            400,
        ),
        (
            "NUL in a map key",
            br#"{"customAttributes": {"a\u0000": 1}}"#.to_vec(),
            400,
        ),
        ("NUL raw", b"{\"jobTitle\": \"a\x00b\"}".to_vec(), 400),
        (
            "integer beyond i64",
            br#"{"sessionTimeout": 99999999999999999999999}"#.to_vec(),
            400,
        ),
        (
            "integer beyond i64, nested",
            br#"{"mfa": {"enabled": true, "expirationInMinutes": 18446744073709551616}}"#.to_vec(),
            400,
        ),
        ("10 MB string", huge.into_bytes(), 413),
        ("over the limit", over.into_bytes(), 413),
        ("not an object", b"[1, 2, 3]".to_vec(), 400),
        ("empty", Vec::new(), 400),
    ];
    for (name, body, expected) in cases {
        let response = reqwest::Client::new()
            .patch(&path)
            .bearer_auth(&token)
            .header("content-type", "application/merge-patch+json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let problem: Value = response.json().await.unwrap();
        assert_eq!(status, expected, "{name}: {problem}");
        assert_eq!(content_type, "application/problem+json", "{name}");
        assert_eq!(
            server.stored("acme", user.id).await.unwrap(),
            before,
            "{name}: the user changed"
        );
    }
    // NUL in a query parameter is refused too, not sent to the database.
    let response = reqwest::Client::new()
        .get(format!("{}/v1/users?q=a%00b", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    server.stop().await;
}
on_both!(hostile_bodies_are_refused_without_harm, hostile_bodies);
