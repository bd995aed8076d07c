//! Hostile clients, from an outside security review: slow headers and
//! bodies against a small slot count, the answers hyper gives by itself,
//! look-alike emails, secrets in errors, cursors across accounts, error
//! amplification, lenient JWT handling, privileged members, security
//! headers, an idempotency key in flight, and what the server does with
//! encodings, charsets and `Accept`. Storage-bound cases run on both
//! backends.

use std::time::Duration;

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use users_server::app::{AppOptions, DocsAccess};
use users_server::auth::JwtVerifier;
use users_server::serve::ServeOptions;

use super::seeds::{new_user, raw};
use super::{AUDIENCE, Db, ISSUER, SECRET, TestServer};
use crate::on_both;

/// The server's address for raw TCP.
fn address(server: &TestServer) -> String {
    server.url.trim_start_matches("http://").to_owned()
}

/// Writes `request` on a new connection and reads until the server closes
/// it or `wait` passes; the answer as text.
async fn exchange(server: &TestServer, request: &[u8], wait: Duration) -> String {
    let mut stream = tokio::net::TcpStream::connect(address(server))
        .await
        .unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status and problem of a raw HTTP answer, checked to be a problem
/// document of its declared length.
fn problem_of(answer: &str) -> (u16, Value) {
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {answer:?}"));
    let status: u16 = head[9..12].parse().unwrap();
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("content-type: application/problem+json"),
        "{status} is not a problem: {answer:?}"
    );
    let problem: Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: body of {answer:?}"));
    assert_eq!(problem["status"], status, "{answer}");
    (status, problem)
}

/// Slow bodies hold no request slot: with two slots and five connections
/// trickling their bodies, well-behaved requests are answered at once; the
/// slow ones get a 408 problem when their deadline passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_do_not_starve_the_server() {
    let server = TestServer::start_with(
        Db::Sqlite,
        AppOptions {
            max_concurrent_requests: 2,
            body_read_timeout: Duration::from_secs(2),
            ..AppOptions::default()
        },
    )
    .await;
    let token = server.token("admin-1", "acme", "users:admin", &[]);
    let mut slow = Vec::new();
    for _ in 0..5 {
        let mut stream = tokio::net::TcpStream::connect(address(&server))
            .await
            .unwrap();
        stream
            .write_all(
                format!(
                    "POST /v1/users HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\
                     content-type: application/json\r\ncontent-length: 200\r\n\r\n{{\"na"
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        slow.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    for round in 0..3 {
        let answer = client
            .get(format!("{}/v1/lookups/countries", server.url))
            .bearer_auth(&token)
            .send()
            .await
            .expect("answered while slow bodies trickle");
        assert_eq!(answer.status().as_u16(), 200, "round {round}");
        let created = client
            .post(format!("{}/v1/users", server.url))
            .bearer_auth(&token)
            .json(&new_user(&format!("busy{round}@example.com")))
            .send()
            .await
            .expect("answered while slow bodies trickle");
        assert_eq!(created.status().as_u16(), 201, "round {round}");
    }
    // The slow ones: a byte more, then nothing until the deadline.
    for stream in &mut slow {
        stream.write_all(b"m").await.unwrap();
    }
    for mut stream in slow {
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
            .await
            .expect("the connection is closed after the deadline")
            .unwrap();
        let (status, problem) = problem_of(&String::from_utf8_lossy(&answer));
        assert_eq!(status, 408);
        assert_eq!(problem["code"], "request-timeout");
    }
    server.stop().await;
}

/// A connection that never finishes its request head is closed after the
/// header-read timeout, whatever it keeps sending.
#[tokio::test]
async fn slow_headers_are_cut_off() {
    let server = TestServer::start_serving(
        Db::Sqlite,
        AppOptions::default(),
        JwtVerifier::hs256(SECRET, ISSUER, AUDIENCE),
        ServeOptions {
            header_read_timeout: Duration::from_secs(1),
        },
    )
    .await;
    let mut stream = tokio::net::TcpStream::connect(address(&server))
        .await
        .unwrap();
    stream
        .write_all(b"GET /v1/lookups/countries HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut closed = false;
    for _ in 0..40 {
        // A header line now and then, never the blank line.
        if stream.write_all(b"x-slow: 1\r\n").await.is_err() {
            closed = true;
            break;
        }
        let mut byte = [0; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(100), stream.read(&mut byte)).await
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "the connection was still open after 4 s");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    server.stop().await;
}

/// What hyper answers by itself, and what Swagger UI's files answer, is a
/// problem document like every other error.
#[tokio::test]
async fn every_error_is_a_problem_document() {
    let server = TestServer::start(Db::Sqlite).await;
    let token = server.token("admin-1", "acme", "users:admin", &[]);
    let wait = Duration::from_secs(3);
    let huge = format!(
        "GET /v1/lookups/countries HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(512 * 1024)
    );
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("an HTTP/2.0 request line", b"GET / HTTP/2.0\r\nhost: x\r\n\r\n".to_vec(), 400),
        (
            "Content-Length: -1",
            b"POST /v1/users HTTP/1.1\r\nhost: x\r\ncontent-length: -1\r\n\r\n".to_vec(),
            400,
        ),
        ("a header without a colon", b"GET / HTTP/1.1\r\nhost x\r\n\r\n".to_vec(), 400),
        ("headers past the buffer", huge.into_bytes(), 431),
        (
            "a bad chunk size",
            format!(
                "POST /v1/users HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\
                 content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n"
            )
            .into_bytes(),
            400,
        ),
        (
            "a Swagger UI file that is not there",
            b"GET /docs/nothing-here.js HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".to_vec(),
            404,
        ),
    ];
    for (name, request, expected) in cases {
        let answer = exchange(&server, &request, wait).await;
        let (status, problem) = problem_of(&answer);
        assert_eq!(status, expected, "{name}: {answer}");
        assert!(
            problem["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{name}"
        );
    }
    server.stop().await;
}

/// A Cyrillic `а`, a fullwidth `ｋ`, a zero-width space or capitals do not
/// make a second `kate@example.com`; the list filter finds the one there
/// is; the address is kept as it was sent.
async fn look_alike_emails(db: Db) {
    let server = TestServer::start(db).await;
    let token = server.token("admin-1", "acme", "users:admin", &[]);
    let create = |email: &str| {
        raw(
            &server,
            "POST",
            "/v1/users",
            &token,
            "application/json",
            serde_json::to_value(new_user(email)).unwrap(),
        )
    };
    let (status, kate) = create("kate@example.com").await;
    assert_eq!(status, 201, "{kate}");
    for look_alike in [
        "k\u{0430}te@example.com", // Cyrillic а
        "\u{FF4B}ate@example.com", // fullwidth ｋ
        "KATE@EXAMPLE.COM",
        "ka\u{200B}te@example.com",       // a zero-width space
        "kat\u{0435}@ex\u{0430}mple.com", // Cyrillic е and а
    ] {
        let (status, problem) = create(look_alike).await;
        if status == 400 {
            // Refused as no email address at all is as safe; say which.
            assert_eq!(
                problem["errors"][0]["field"], "email",
                "{look_alike}: {problem}"
            );
            continue;
        }
        assert_eq!(status, 409, "{look_alike} made a second user: {problem}");
        assert_eq!(problem["errors"][0]["field"], "email");
    }
    // Two ASCII addresses stay two, however alike they look.
    let (status, _) = create("modern@example.com").await;
    assert_eq!(status, 201);
    let (status, body) = create("modem@example.com").await;
    assert_eq!(status, 201, "{body}");
    // The filter compares as uniqueness does; the spelling is kept.
    let (status, page) = raw(
        &server,
        "GET",
        "/v1/users?email=k%D0%B0te%40example.com",
        &token,
        "application/json",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["items"][0]["email"], "kate@example.com");
    let (status, cyrillic) = create("p\u{0430}ul@example.com").await;
    assert_eq!(status, 201, "{cyrillic}");
    assert_eq!(cyrillic["email"], "p\u{0430}ul@example.com");
    let (status, _) = create("paul@example.com").await;
    assert_eq!(status, 409);

    // Keys stored before look-alikes were folded are folded at start-up.
    let id = cyrillic["id"].as_str().unwrap().to_owned();
    let old_key = "p\u{0430}ul@example.com";
    let sql = match db {
        Db::Sqlite => "UPDATE users SET email_key = $1 WHERE id = $2",
        Db::Postgres => "UPDATE users SET email_key = $1 WHERE id = $2::uuid",
    };
    execute(&server.database_url, sql, old_key, &id).await;
    let reopened = users_server::store::SqlStore::connect(&server.database_url)
        .await
        .unwrap();
    assert_eq!(
        email_key_of(&server.database_url, &id, db).await,
        "paul@example.com"
    );
    reopened.close().await;
    let (status, _) = create("paul@example.com").await;
    assert_eq!(status, 409);
    server.stop().await;
}
on_both!(look_alike_emails_are_one_address, look_alike_emails);

async fn execute(url: &str, sql: &str, a: &str, b: &str) {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .bind(a.to_owned())
            .bind(b.to_owned())
            .execute(&mut conn)
            .await
            .unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .bind(a.to_owned())
            .bind(b.to_owned())
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

async fn email_key_of(url: &str, id: &str, db: Db) -> String {
    use sqlx::Connection;
    match db {
        Db::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query_scalar("SELECT email_key FROM users WHERE id = $1")
                .bind(id.to_owned())
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
        Db::Postgres => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_scalar("SELECT email_key FROM users WHERE id = $1::uuid")
                .bind(id.to_owned())
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
    }
}

/// A database URL's password appears in no error: not in a failed
/// connection's, not in an unsupported scheme's.
#[tokio::test]
async fn database_passwords_stay_out_of_errors() {
    let password = "Sup3rS3cretPw";
    for url in [
        format!("postgres://postgres:{password}@127.0.0.1:1/users"),
        format!("postgres://127.0.0.1:1/users?user=postgres&password={password}"),
        format!("mysql://root:{password}@127.0.0.1/users"),
    ] {
        let err = users_server::store::SqlStore::connect(&url)
            .await
            .expect_err("nothing listens on port 1");
        // As the server prints it at start-up.
        let shown = format!(
            "{:?}",
            err.context(format!(
                "opening {}",
                users_server::store::DatabaseUrl::new(&url)
            ))
        );
        assert!(!shown.contains(password), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }
}

/// A refused token's detail is the server's own words, never the JWT
/// library's (its types, algorithms and parse positions).
#[tokio::test]
async fn token_refusals_show_no_library_internals() {
    let server = TestServer::start(Db::Sqlite).await;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": "a", "account": "acme", "scope": "users:read",
        "iss": ISSUER, "aud": AUDIENCE, "exp": now + 600});
    let mut no_account = claims.clone();
    no_account.as_object_mut().unwrap().remove("account");
    let tokens = [
        format!(
            "{}.{}.",
            b64(json!({"alg": "none", "typ": "JWT"})),
            b64(claims.clone())
        ),
        hs256(&no_account, Header::new(Algorithm::HS256)),
        hs256(&claims, Header::new(Algorithm::HS384)),
        "not-a-token".to_owned(),
    ];
    for token in tokens {
        let (status, problem) = raw(
            &server,
            "GET",
            "/v1/lookups/countries",
            &token,
            "application/json",
            Value::Null,
        )
        .await;
        assert_eq!(status, 401, "{problem}");
        let detail = problem["detail"].as_str().unwrap();
        for internal in [
            "variant",
            "missing field",
            "line",
            "column",
            "Invalid",
            "HS384",
            "none",
        ] {
            assert!(!detail.contains(internal), "{detail:?} shows {internal:?}");
        }
        assert!(
            detail.starts_with("the bearer token is not valid: "),
            "{detail}"
        );
    }
    server.stop().await;
}

fn hs256(claims: &Value, header: Header) -> String {
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(SECRET)).unwrap()
}

/// Empty `sub` or `account`, a `crit` header, two `Authorization` headers:
/// refused. The scheme's case does not matter.
#[tokio::test]
async fn jwt_leniencies_are_closed() {
    let server = TestServer::start(Db::Sqlite).await;
    let now = chrono::Utc::now().timestamp();
    let claims = |sub: &str, account: &str| {
        json!({"sub": sub, "account": account,
        "scope": "users:read", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 600})
    };
    let get = |authorization: Vec<String>| {
        let url = format!("{}/v1/lookups/countries", server.url);
        async move {
            let mut request = reqwest::Client::new().get(url);
            for value in authorization {
                request = request.header("authorization", value);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let good = hs256(&claims("u1", "acme"), Header::new(Algorithm::HS256));
    for refused in [
        hs256(&claims("", "acme"), Header::new(Algorithm::HS256)),
        hs256(&claims("u1", ""), Header::new(Algorithm::HS256)),
        hs256(
            &claims("u1", "acme"),
            Header {
                crit: Some(vec!["exp".into()]),
                ..Header::new(Algorithm::HS256)
            },
        ),
    ] {
        let (status, problem) = get(vec![format!("Bearer {refused}")]).await;
        assert_eq!(status, 401, "{problem}");
    }
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let (status, problem) = get(vec![format!("{scheme} {good}")]).await;
        assert_eq!(status, 200, "{scheme}: {problem}");
    }
    let (status, problem) = get(vec![
        format!("Bearer {good}"),
        "Bearer someone-else".to_owned(),
    ])
    .await;
    assert_eq!(status, 401, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("one Authorization header")
    );
    server.stop().await;
}

/// A cursor says nothing of how many users any account has, and opens only
/// in the account it was issued for, unaltered.
async fn opaque_cursors(db: Db) {
    let server = TestServer::start(db).await;
    let acme = server.token("admin-1", "acme", "users:admin", &[]);
    let other = server.token("admin-2", "globex", "users:admin", &[]);
    for i in 0..3 {
        for (token, account) in [(&acme, "acme"), (&other, "globex")] {
            let (status, _) = raw(
                &server,
                "POST",
                "/v1/users",
                token,
                "application/json",
                serde_json::to_value(new_user(&format!("u{i}@{account}.example"))).unwrap(),
            )
            .await;
            assert_eq!(status, 201);
        }
    }
    let (status, page) = raw(
        &server,
        "GET",
        "/v1/users?limit=1",
        &acme,
        "application/json",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    let cursor = page["nextCursor"].as_str().unwrap().to_owned();
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&cursor)
        .unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&decoded).contains("seq"),
        "{cursor}"
    );
    // The same page twice: two cursors, neither a counter in disguise.
    let (_, again) = raw(
        &server,
        "GET",
        "/v1/users?limit=1",
        &acme,
        "application/json",
        Value::Null,
    )
    .await;
    assert_ne!(again["nextCursor"].as_str().unwrap(), cursor);
    // The next page in its own account.
    let (status, next) = raw(
        &server,
        "GET",
        &format!("/v1/users?limit=1&cursor={cursor}"),
        &acme,
        "application/json",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{next}");
    assert_ne!(next["items"][0]["id"], page["items"][0]["id"]);
    // Another account, an altered cursor: a 400 naming the cursor.
    let mut altered = cursor.clone().into_bytes();
    altered[10] = if altered[10] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    for (token, cursor) in [(&other, cursor.as_str()), (&acme, altered.as_str())] {
        let (status, problem) = raw(
            &server,
            "GET",
            &format!("/v1/users?cursor={cursor}"),
            token,
            "application/json",
            Value::Null,
        )
        .await;
        assert_eq!(status, 400, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "cursor");
    }
    server.stop().await;
}
on_both!(cursors_are_sealed_per_account, opaque_cursors);

/// A body of many small mistakes draws a bounded answer: 20 errors listed
/// and the rest counted.
#[tokio::test]
async fn many_errors_draw_a_bounded_answer() {
    let server = TestServer::start(Db::Sqlite).await;
    let token = server.token("admin-1", "acme", "users:admin", &[]);
    let (_, user) = raw(
        &server,
        "POST",
        "/v1/users",
        &token,
        "application/json",
        serde_json::to_value(new_user("many@example.com")).unwrap(),
    )
    .await;
    let mut patch = serde_json::Map::new();
    for i in 0..6000 {
        patch.insert(format!("k{i}"), json!(0));
    }
    let body = Value::Object(patch).to_string();
    assert!(body.len() < 64 * 1024);
    let response = reqwest::Client::new()
        .patch(format!(
            "{}/v1/users/{}",
            server.url,
            user["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .header("content-type", "application/merge-patch+json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let answer = response.bytes().await.unwrap();
    assert!(
        answer.len() < body.len() / 10,
        "{} bytes answer {} bytes",
        answer.len(),
        body.len()
    );
    let problem: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(problem["errors"].as_array().unwrap().len(), 20);
    assert_eq!(problem["omittedErrors"], 6000 - 20, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("and 5980 more"),
        "{problem}"
    );
    server.stop().await;
}

/// `ownerOrganization`: an admin names any organization; anyone else only
/// those its token lists, moving a user out of and into them alone.
async fn owner_organization(db: Db) {
    let server = TestServer::start(db).await;
    let ours = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
    let theirs = "9b2f0c1e-5d4a-4c3b-8a7e-1f2d3c4b5a69";
    let admin = server.token("admin-1", "acme", "users:admin", &[]);
    let writer = server.token_in("writer-1", "acme", "users:write", &[], &[ours]);
    let with_owner = |email: &str, organization: &str| {
        let mut body = serde_json::to_value(new_user(email)).unwrap();
        body["ownerOrganization"] = json!({ "id": organization });
        body
    };
    let (status, problem) = raw(
        &server,
        "POST",
        "/v1/users",
        &writer,
        "application/json",
        with_owner("org@example.com", theirs),
    )
    .await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "ownerOrganization.id");
    let (status, created) = raw(
        &server,
        "POST",
        "/v1/users",
        &writer,
        "application/json",
        with_owner("org@example.com", ours),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let path = format!("/v1/users/{}", created["id"].as_str().unwrap());
    for (token, target, expected) in [
        (&writer, json!({ "id": theirs }), 403), // into another organization
        (&admin, json!({ "id": theirs }), 200),  // an admin moves it anywhere
        (&writer, json!(null), 403),             // out of an organization not its own
        (&writer, json!({ "id": ours }), 403),   // out of it, into its own: still out
        (&admin, json!(null), 200),
        (&writer, json!({ "id": ours }), 200), // from none into its own
        (&writer, json!(null), 200),           // and out again
    ] {
        let (status, answer) = raw(
            &server,
            "PATCH",
            &path,
            token,
            "application/merge-patch+json",
            json!({ "ownerOrganization": target }),
        )
        .await;
        assert_eq!(status, expected, "{target}: {answer}");
        if status == 403 {
            assert_eq!(answer["errors"][0]["field"], "ownerOrganization.id");
        }
    }
    server.stop().await;
}
on_both!(owner_organization_is_checked, owner_organization);

/// Personal data is not cached and never sniffed; Swagger UI runs under a
/// content security policy; the documents can be put behind a token or
/// turned off.
#[tokio::test]
async fn security_headers_and_document_access() {
    let server = TestServer::start(Db::Sqlite).await;
    let token = server.token("admin-1", "acme", "users:admin", &[]);
    let (_, user) = raw(
        &server,
        "POST",
        "/v1/users",
        &token,
        "application/json",
        serde_json::to_value(new_user("headers@example.com")).unwrap(),
    )
    .await;
    let client = reqwest::Client::new();
    for path in [
        format!("/v1/users/{}", user["id"].as_str().unwrap()),
        "/v1/users".into(),
        "/v1/nothing".into(),
    ] {
        let response = client
            .get(format!("{}{path}", server.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
        assert_eq!(
            response.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
    }
    let page = client
        .get(format!("{}/docs/", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"));
    server.stop().await;

    for (access, without, with) in [(DocsAccess::Token, 401, 200), (DocsAccess::Off, 404, 404)] {
        let server = TestServer::start_with(
            Db::Sqlite,
            AppOptions {
                docs: access,
                ..AppOptions::default()
            },
        )
        .await;
        let token = server.token("reader-1", "acme", "users:read", &[]);
        for path in [
            "/openapi.json",
            "/openapi.yaml",
            "/scim/openapi.json",
            "/scim/openapi.yaml",
            "/docs/",
            "/reference/",
        ] {
            let url = format!("{}{path}", server.url);
            let response = client.get(&url).send().await.unwrap();
            assert_eq!(response.status().as_u16(), without, "{access:?} {path}");
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
            let response = client.get(&url).bearer_auth(&token).send().await.unwrap();
            assert_eq!(
                response.status().as_u16(),
                with,
                "{access:?} {path} with a token"
            );
        }
        server.stop().await;
    }
}

/// Concurrent creates with one `Idempotency-Key` and one body: one user, and
/// every request answered with it, on both backends alike.
async fn key_in_flight(db: Db) {
    let server = TestServer::start(db).await;
    let token = server.token("admin-1", "acme", "users:admin", &[]);
    let client = reqwest::Client::new();
    let body = serde_json::to_value(new_user("flight@example.com")).unwrap();
    let requests = (0..30).map(|_| {
        client
            .post(format!("{}/v1/users", server.url))
            .bearer_auth(&token)
            .header("idempotency-key", "one-key")
            .json(&body)
            .send()
    });
    let answers = futures::future::join_all(requests).await;
    let mut ids = std::collections::BTreeSet::new();
    for answer in answers {
        let answer = answer.unwrap();
        assert_eq!(answer.status().as_u16(), 201);
        let user: Value = answer.json().await.unwrap();
        ids.insert(user["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let (_, page) = raw(
        &server,
        "GET",
        "/v1/users",
        &token,
        "application/json",
        Value::Null,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    server.stop().await;
}
on_both!(a_key_in_flight_is_answered_alike, key_in_flight);

/// The scopes nest, as the spec says: `users:admin` alone creates, reads
/// and deletes; `users:read` alone does not write.
#[tokio::test]
async fn scopes_nest_as_the_spec_says() {
    let spec = users_tests::spec_text();
    assert!(
        spec.contains("`users:admin` includes `users:write`, which includes\n        `users:read`")
    );
    let server = TestServer::start(Db::Sqlite).await;
    let admin = server.token("admin-1", "acme", "users:admin", &[]);
    let reader = server.token("reader-1", "acme", "users:read", &[]);
    let body = serde_json::to_value(new_user("nested@example.com")).unwrap();
    let (status, _) = raw(
        &server,
        "POST",
        "/v1/users",
        &reader,
        "application/json",
        body.clone(),
    )
    .await;
    assert_eq!(status, 403);
    let (status, user) = raw(
        &server,
        "POST",
        "/v1/users",
        &admin,
        "application/json",
        body,
    )
    .await;
    assert_eq!(status, 201);
    let path = format!("/v1/users/{}", user["id"].as_str().unwrap());
    let (status, _) = raw(
        &server,
        "GET",
        &path,
        &admin,
        "application/json",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    server.stop().await;
}

/// Bodies are UTF-8 JSON as sent: an encoded body or another charset is a
/// 415; `Accept` is not negotiated (the spec says so), every answer is JSON.
#[tokio::test]
async fn encodings_charsets_and_accept() {
    let server = TestServer::start(Db::Sqlite).await;
    let token = server.token("admin-1", "acme", "users:admin", &[]);
    let client = reqwest::Client::new();
    let body = serde_json::to_string(&new_user("enc@example.com")).unwrap();
    let post = |content_type: &str, encoding: Option<&str>| {
        let mut request = client
            .post(format!("{}/v1/users", server.url))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body.clone());
        if let Some(encoding) = encoding {
            request = request.header("content-encoding", encoding);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    for (content_type, encoding) in [
        ("application/json", Some("gzip")),
        ("application/json", Some("identity, br")),
        ("application/json; charset=iso-8859-1", None),
        ("application/json; charset=utf-16", None),
    ] {
        let (status, problem) = post(content_type, encoding).await;
        assert_eq!(status, 415, "{content_type} {encoding:?}: {problem}");
        assert_eq!(problem["code"], "unsupported-media-type");
    }
    let (status, created) = post("application/json; charset=UTF-8", Some("identity")).await;
    assert_eq!(status, 201, "{created}");
    let response = client
        .get(format!(
            "{}/v1/users/{}",
            server.url,
            created["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    server.stop().await;
}
