//! Drives the contract generated from petstore-expanded.yaml (no security,
//! an exploded query array, an `allOf` body, `default` error responses) over
//! an in-memory store. `cargo xtask corpus` copies it into the scratch
//! workspace as an example of `users-api` and runs it; a failed assertion
//! fails the corpus check.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use http::{Request, StatusCode};
use tower::ServiceExt;
use users_api::runtime::{AuthError, Authenticator, Caller, RequestContext};
use users_api::types::{Error, FindPetsOkBody, Pet};
use users_api::*;

#[derive(Default)]
struct Store {
    pets: Mutex<Vec<Pet>>,
}

impl Authenticator for Store {
    type Claims = Caller;
    async fn authenticate(&self, _token: &str) -> Result<Caller, AuthError> {
        Err(AuthError("this API takes no tokens".into()))
    }
    fn anonymous(&self) -> Option<Caller> {
        Some(Caller {
            subject: "anyone".into(),
            account: "pets".into(),
            scopes: Default::default(),
            switchable_accounts: Default::default(),
            organizations: Default::default(),
        })
    }
}

fn not_found(id: i64) -> Error {
    Error { code: 404, message: format!("no pet {id}") }
}

impl SwaggerPetstoreApi for Store {
    async fn find_pets(
        &self,
        _ctx: RequestContext<Caller>,
        req: FindPetsRequest,
    ) -> Result<FindPetsResponse, FindPetsRefusal> {
        let pets = self.pets.lock().unwrap();
        let tags = req.query.tags.unwrap_or_default();
        let found: Vec<Pet> = pets
            .iter()
            .filter(|p| tags.is_empty() || p.tag.as_ref().is_some_and(|t| tags.contains(t)))
            .take(req.query.limit.map_or(usize::MAX, |l| l as usize))
            .cloned()
            .collect();
        Ok(FindPetsResponse::Ok { body: FindPetsOkBody(found).into() })
    }

    async fn add_pet(
        &self,
        _ctx: RequestContext<Caller>,
        req: AddPetRequest,
    ) -> Result<AddPetResponse, AddPetRefusal> {
        let mut pets = self.pets.lock().unwrap();
        let pet = Pet { id: pets.len() as i64 + 1, name: req.body.name, tag: req.body.tag };
        pets.push(pet.clone());
        Ok(AddPetResponse::Ok { body: pet.into() })
    }

    async fn find_pet_by_id(
        &self,
        _ctx: RequestContext<Caller>,
        req: FindPetByIdRequest,
    ) -> Result<FindPetByIdResponse, FindPetByIdRefusal> {
        let pets = self.pets.lock().unwrap();
        match pets.iter().find(|p| p.id == req.path.id) {
            Some(pet) => Ok(FindPetByIdResponse::Ok { body: pet.clone().into() }),
            None => Err(FindPetByIdRefusal::Default {
                status: StatusCode::NOT_FOUND,
                body: not_found(req.path.id).into(),
            }),
        }
    }

    async fn delete_pet(
        &self,
        _ctx: RequestContext<Caller>,
        req: DeletePetRequest,
    ) -> Result<DeletePetResponse, DeletePetRefusal> {
        let mut pets = self.pets.lock().unwrap();
        let before = pets.len();
        pets.retain(|p| p.id != req.path.id);
        if pets.len() < before {
            Ok(DeletePetResponse::NoContent {})
        } else {
            Err(DeletePetRefusal::Default {
                status: StatusCode::NOT_FOUND,
                body: not_found(req.path.id).into(),
            })
        }
    }
}

async fn call(app: &axum::Router, method: &str, uri: &str, body: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::builder().method(method).uri(uri);
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request.body(Body::from(body.unwrap_or_default().to_owned())).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = router(Arc::new(Store::default()));
    for (name, tag) in [("Rex", "dog"), ("Tom", "cat"), ("Fido", "dog")] {
        let body = format!(r#"{{"name":"{name}","tag":"{tag}"}}"#);
        let (status, _) = call(&app, "POST", "/pets", Some(&body)).await;
        assert_eq!(status, StatusCode::OK, "adding {name}");
    }
    // The allOf body's required member, named.
    let (status, body) = call(&app, "POST", "/pets", Some(r#"{"tag":"dog"}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("\"field\":\"name\""), "{body}");
    // An exploded array: every value of the name.
    let (status, body) = call(&app, "GET", "/pets?tags=dog&tags=bird", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let found: Vec<Pet> = serde_json::from_str(&body).unwrap();
    assert_eq!(found.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["Rex", "Fido"]);
    let (status, body) = call(&app, "GET", "/pets?limit=1", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_str::<Vec<Pet>>(&body).unwrap().len(), 1);
    let (status, body) = call(&app, "GET", "/pets?limit=many", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("\"field\":\"limit\""), "{body}");
    // `default` answers with the status the implementation gives.
    let (status, body) = call(&app, "GET", "/pets/9", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(serde_json::from_str::<Error>(&body).unwrap().code, 404);
    let (status, _) = call(&app, "DELETE", "/pets/2", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, "GET", "/pets/2", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    println!("petstore-expanded: the generated contract serves every operation");
}
