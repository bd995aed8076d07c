//! Drives the SDK generated from real-api-shapes.yaml against the contract
//! generated from it, over TCP: API keys in a header, a query parameter and
//! a cookie, HTTP basic, a bearer token with a scope, alternatives, two
//! schemes at once, an open operation, the `401` challenges, and JSON bodies
//! with no schema.
//! `cargo xtask corpus` copies it into the scratch workspace as an example
//! of `users-api` and runs it; a failed assertion fails the corpus check.

use std::sync::Arc;

use http::StatusCode;
use users_api::runtime::{
    AuthError, Authenticator, Caller, Credential, Presented, RequestContext,
};
use users_api::types::Who;
use users_api::*;

struct Keys;

fn caller(who: &str, scopes: &[&str]) -> Caller {
    Caller {
        subject: who.into(),
        account: "things".into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        switchable_accounts: Default::default(),
        organizations: Default::default(),
    }
}

impl Authenticator for Keys {
    type Claims = Caller;
    async fn authenticate(&self, token: &str) -> Result<Caller, AuthError> {
        match token {
            "good" => Ok(caller("bearer", &["things:read"])),
            "weak" => Ok(caller("weak bearer", &[])),
            _ => Err(AuthError("unknown token".into())),
        }
    }
    async fn verify(&self, presented: &[Presented<'_>]) -> Result<Caller, AuthError> {
        let key = |p: &Presented<'_>, want: &str| p.credential == Credential::ApiKey(want.into());
        match presented {
            [p] if p.scheme.name == "headerKey" && key(p, "k1") => Ok(caller("header key", &[])),
            [p] if p.scheme.name == "basic" => match &p.credential {
                Credential::Basic { user, password } if user == "ann" && password == "pw" => {
                    Ok(caller("ann", &[]))
                }
                _ => Err(AuthError("wrong user or password".into())),
            },
            [q, s] if q.scheme.name == "queryKey" && key(q, "q 1") && key(s, "s1") => {
                Ok(caller("query key and session", &[]))
            }
            [
                Presented {
                    credential: Credential::Bearer(token),
                    ..
                },
            ] => self.authenticate(token).await,
            _ => Err(AuthError("unknown credentials".into())),
        }
    }
    fn anonymous(&self) -> Option<Caller> {
        Some(caller("anyone", &[]))
    }
}

impl RealApiShapesApi for Keys {
    async fn health(
        &self,
        _ctx: RequestContext<Caller>,
        _req: HealthRequest,
    ) -> Result<HealthResponse, HealthRefusal> {
        Ok(HealthResponse::NoContent {})
    }

    async fn list_things(
        &self,
        ctx: RequestContext<Caller>,
        _req: ListThingsRequest,
    ) -> Result<ListThingsResponse, ListThingsRefusal> {
        let who = Who { who: ctx.caller.subject.clone(), thing: None };
        Ok(ListThingsResponse::Ok { body: who.into() })
    }

    async fn echo_note(
        &self,
        _ctx: RequestContext<Caller>,
        req: EchoNoteRequest,
    ) -> Result<EchoNoteResponse, EchoNoteRefusal> {
        Ok(EchoNoteResponse::Ok { body: req.body.into() })
    }

    async fn get_thing(
        &self,
        ctx: RequestContext<Caller>,
        req: GetThingRequest,
    ) -> Result<GetThingResponse, GetThingRefusal> {
        let who = Who { who: ctx.caller.subject.clone(), thing: Some(req.path.id) };
        Ok(GetThingResponse::Ok { body: who.into() })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, router(Arc::new(Keys))).await.unwrap();
    });
    let client = |build: fn(users_client::ClientBuilder) -> users_client::ClientBuilder| {
        build(users_client::Client::builder(&base)).build().unwrap()
    };

    // Each alternative of listThings, as the SDK sends it.
    let who = |answer: Result<_, users_client::Error>| -> String {
        let answer: users_client::Response<users_client::types::Who, _> = answer.unwrap();
        answer.into_inner().who
    };
    let keyed = client(|b| b.api_key("headerKey", "k1"));
    assert_eq!(who(keyed.list_things().await), "header key");
    let basic = client(|b| b.basic_auth("ann", "pw"));
    assert_eq!(who(basic.list_things().await), "ann");
    let bearer = client(|b| b.bearer_token("good"));
    assert_eq!(who(bearer.list_things().await), "bearer");
    // The scope of the bearer alternative is checked.
    let weak = client(|b| b.bearer_token("weak"));
    let refused = weak.list_things().await.unwrap_err();
    assert_eq!(refused.status(), Some(StatusCode::FORBIDDEN), "{refused}");
    // Wrong credentials, and none.
    let wrong = client(|b| b.basic_auth("ann", "nope"));
    let refused = wrong.list_things().await.unwrap_err();
    assert_eq!(refused.status(), Some(StatusCode::UNAUTHORIZED), "{refused}");
    let nobody = client(|b| b);
    let refused = nobody.list_things().await.unwrap_err();
    assert_eq!(refused.status(), Some(StatusCode::UNAUTHORIZED), "{refused}");

    // Two schemes at once: a query key (percent-encoded on the way) and a
    // session cookie.
    let both = client(|b| b.api_key("queryKey", "q 1").api_key("session", "s1"));
    let answer = both.get_thing("t1").await.unwrap().into_inner();
    assert_eq!(
        (answer.who.as_str(), answer.thing.as_deref()),
        ("query key and session", Some("t1"))
    );
    // One of the two is not enough.
    let half = client(|b| b.api_key("queryKey", "q 1"));
    let refused = half.get_thing("t1").await.unwrap_err();
    assert_eq!(refused.status(), Some(StatusCode::UNAUTHORIZED), "{refused}");

    // An open operation takes anyone.
    nobody.health().await.unwrap();

    // A scheme the spec does not declare is refused when the client is built.
    let unknown = users_client::Client::builder(&base).api_key("nosuch", "x").build();
    assert!(unknown.is_err());

    // The 401 names every scheme the operation takes.
    let raw = reqwest::get(format!("{base}/things")).await.unwrap();
    assert_eq!(raw.status(), StatusCode::UNAUTHORIZED);
    let challenge = raw.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert_eq!(
        challenge,
        "ApiKey in=\"header\", name=\"X-Api-Key\", Basic realm=\"api\", charset=\"UTF-8\", Bearer"
    );
    let problem: serde_json::Value = raw.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.starts_with("send one of: an API key in header X-Api-Key;"), "{detail}");

    // A body with no schema is any JSON, both ways; what is not JSON is a 400.
    let note = serde_json::json!({ "any": ["json", 1, null, { "at": "all" }] });
    let echoed = keyed.echo_note(note.clone()).await.unwrap().into_inner();
    assert_eq!(echoed, note);
    let raw = reqwest::Client::new()
        .post(format!("{base}/notes"))
        .header("x-api-key", "k1")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    println!("real-api-shapes: the SDK authenticates with every scheme the contract reads, and sends and reads any JSON");
}
