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
        .create_user(new_user("hostile@example.com"))
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
    // Bodies over the limit are refused before they are read to the end, so
    // they go over a raw socket that keeps writing while it reads the answer.
    for (name, size) in [
        ("10 MB string", 10 * 1024 * 1024),
        ("just over the limit", 64 * 1024 + 1),
    ] {
        let (status, head, body) =
            oversized_patch(&server.url, &format!("/v1/users/{}", user.id), &token, size).await;
        assert_eq!(status, 413, "{name}: {head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/problem+json"),
            "{name}: {head}"
        );
        let problem: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(problem["code"], "payload-too-large", "{name}");
        assert_eq!(
            server.stored("acme", user.id).await.unwrap(),
            before,
            "{name}: the user changed"
        );
    }
    // The server is still serving.
    assert_eq!(admin.get_user(user.id).await.unwrap().id, user.id);

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

/// Sends a merge patch whose body is `size` bytes (a JSON document with one
/// long string), writing it on a thread of its own while the answer is read,
/// as a client would that does not wait for the server to read everything.
/// Returns the status, the head and the body of the answer.
async fn oversized_patch(
    base: &str,
    path: &str,
    token: &str,
    size: usize,
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let address = base.trim_start_matches("http://").to_owned();
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/merge-patch+json\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
    );
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            let prefix = b"{\"description\": \"";
            let chunk = vec![b'a'; 64 * 1024];
            let mut left = size - prefix.len() - 2;
            let result = (|| {
                writer.write_all(head.as_bytes())?;
                writer.write_all(prefix)?;
                while left > 0 {
                    let n = left.min(chunk.len());
                    writer.write_all(&chunk[..n])?;
                    left -= n;
                }
                writer.write_all(b"\"}")
            })();
            drop(result);
        });
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let _ = sender.join();
        answer
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}
