//! The hand-written face of the SDK: one method per operation returning
//! [`Error`], conditional GET, pagination and the concurrency helper. Every
//! call goes through the generated builders, so what goes on the wire is what
//! progenitor derived from the spec.

use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use reqwest::header::HeaderValue;
use uuid::Uuid;

use crate::error::Error;
use crate::generated;
use crate::patch::UserPatch;
use crate::runtime::{bearer, Auth, RetryPolicy, Runtime, TokenProvider};
use crate::types;

/// A generated builder with the client's `accountSwitchKey`, when it has one.
/// (The lookups are not per account and take none.)
macro_rules! switched {
    ($client:ident, $builder:expr) => {
        match &$client.inner.inner.account_switch_key {
            Some(key) => $builder.account_switch_key(key.as_str()),
            None => $builder,
        }
    };
}

/// Configures a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    base_url: String,
    runtime: Runtime,
    connect_timeout: Duration,
    /// A setting that could not be taken, reported by [`ClientBuilder::build`].
    refused: Option<String>,
}

impl ClientBuilder {
    /// Sends this bearer token on every request. Surrounding whitespace is
    /// trimmed (a token read from a file ends with a newline); a token with
    /// any other control character makes [`ClientBuilder::build`] fail.
    pub fn bearer_token(mut self, token: impl AsRef<str>) -> Self {
        match bearer(token.as_ref().trim()) {
            Ok(value) => self.runtime.auth = Auth::Static(value),
            Err(_) => {
                self.refused = Some("the bearer token holds a control character".into());
            }
        }
        self
    }

    /// Asks `provider` for the token before every call (retries of a call
    /// reuse it), so tokens can be refreshed.
    pub fn token_provider(mut self, provider: impl TokenProvider) -> Self {
        self.runtime.auth = Auth::Provider(Arc::new(provider));
        self
    }

    /// The `User-Agent` header (default `users-client/<version>`); one that
    /// is not a valid header value makes [`ClientBuilder::build`] fail.
    pub fn user_agent(mut self, user_agent: impl AsRef<str>) -> Self {
        match HeaderValue::from_str(user_agent.as_ref()) {
            Ok(value) => self.runtime.user_agent = value,
            Err(_) => {
                self.refused = Some(format!(
                    "the user agent {:?} is not a valid header value",
                    user_agent.as_ref()
                ));
            }
        }
        self
    }

    /// The time one attempt may take, connection to last byte (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.runtime.timeout = Some(timeout);
        self
    }

    /// The time a connection may take to open (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Acts on this account on every call (`accountSwitchKey`); the token must
    /// list it.
    pub fn account_switch_key(mut self, key: impl Into<String>) -> Self {
        self.runtime.account_switch_key = Some(key.into());
        self
    }

    /// How failed requests are retried (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.runtime.retry = policy;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client, Error> {
        if let Some(refused) = self.refused {
            return Err(Error::InvalidRequest(refused));
        }
        url::Url::parse(&self.base_url)
            .map_err(|e| Error::InvalidRequest(format!("base URL {}: {e}", self.base_url)))?;
        let http = reqwest::Client::builder().connect_timeout(self.connect_timeout);
        #[cfg(feature = "native-tls")]
        let http = http.tls_backend_native();
        #[cfg(all(feature = "rustls", not(feature = "native-tls")))]
        let http = http.tls_backend_rustls();
        let http = http.build().map_err(Error::Transport)?;
        let base = self.base_url.trim_end_matches('/');
        Ok(Client {
            inner: generated::Client::new_with_client(base, http, self.runtime),
        })
    }
}

/// The answer to a conditional GET.
#[derive(Debug, Clone, PartialEq)]
pub enum Conditional<T> {
    /// The resource changed (or no tag was sent): here it is.
    Modified(T),
    /// The tag sent in `If-None-Match` is still current.
    NotModified,
}

/// Filters and page size of [`Client::list_users`].
#[derive(Debug, Clone, Default)]
pub struct ListUsersQuery {
    /// Users per page, 1 to 100 (the server's default is 20).
    pub limit: Option<u32>,
    /// Only the user with this email address (case-insensitive).
    pub email: Option<String>,
    /// Only users with this status.
    pub status: Option<types::UserStatus>,
    /// Only users whose name or email contains this text.
    pub q: Option<String>,
}

/// A client of the Users API. Cheap to clone; clones share connections.
#[derive(Debug, Clone)]
pub struct Client {
    inner: generated::Client,
}

impl Client {
    /// Starts configuring a client of the server at `base_url`.
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            runtime: Runtime {
                auth: Auth::None,
                user_agent: HeaderValue::from_static(concat!(
                    "users-client/",
                    env!("CARGO_PKG_VERSION")
                )),
                timeout: Some(Duration::from_secs(30)),
                account_switch_key: None,
                retry: RetryPolicy::default(),
            },
            connect_timeout: Duration::from_secs(10),
            refused: None,
        }
    }

    /// The generated client, for anything this wrapper does not cover. Its
    /// calls get the same authentication, media types and retries.
    pub fn generated(&self) -> &generated::Client {
        &self.inner
    }

    /// A client like this one whose calls may take `timeout` each.
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        self.with_runtime(|r| r.timeout = Some(timeout))
    }

    /// A client like this one that acts on another account.
    pub fn for_account(&self, account_switch_key: impl Into<String>) -> Client {
        let key = account_switch_key.into();
        self.with_runtime(move |r| r.account_switch_key = Some(key))
    }

    fn with_runtime(&self, change: impl FnOnce(&mut Runtime)) -> Client {
        let mut runtime = self.inner.inner.clone();
        change(&mut runtime);
        Client {
            inner: generated::Client::new_with_client(
                &self.inner.baseurl,
                self.inner.client.clone(),
                runtime,
            ),
        }
    }

    /// Creates a user. A fresh `Idempotency-Key` makes retries safe.
    pub async fn create_user(&self, body: &types::UserCreate) -> Result<types::User, Error> {
        self.create_user_with_key(body, &Uuid::new_v4().to_string())
            .await
    }

    /// Creates a user with the caller's own `Idempotency-Key`: sending the same
    /// key and body again returns the first response instead of a second user.
    pub async fn create_user_with_key(
        &self,
        body: &types::UserCreate,
        idempotency_key: &str,
    ) -> Result<types::User, Error> {
        let call = switched!(self, self.inner.create_user())
            .idempotency_key(idempotency_key)
            .body(body.clone());
        finish(call.send().await).await
    }

    /// Reads a user.
    pub async fn get_user(&self, user_id: Uuid) -> Result<types::User, Error> {
        finish(
            switched!(self, self.inner.get_user())
                .user_id(user_id)
                .send()
                .await,
        )
        .await
    }

    /// Reads a user unless `etag` is still current.
    pub async fn get_user_if_changed(
        &self,
        user_id: Uuid,
        etag: &str,
    ) -> Result<Conditional<types::User>, Error> {
        let result = switched!(self, self.inner.get_user())
            .user_id(user_id)
            .if_none_match(etag)
            .send()
            .await;
        match result {
            Err(progenitor_client::Error::UnexpectedResponse(response))
                if response.status() == reqwest::StatusCode::NOT_MODIFIED =>
            {
                Ok(Conditional::NotModified)
            }
            other => finish(other).await.map(Conditional::Modified),
        }
    }

    /// Every user matching `query`, page after page, as one stream.
    pub fn list_users(
        &self,
        query: ListUsersQuery,
    ) -> impl Stream<Item = Result<types::User, Error>> + Send + 'static {
        let client = self.clone();
        // State: the cursor of the next page (None before the first), whether
        // the last page was read, and the items of the current page.
        let state = (None::<String>, false, std::collections::VecDeque::new());
        futures::stream::try_unfold(state, move |(cursor, done, mut items)| {
            let client = client.clone();
            let query = query.clone();
            async move {
                let mut cursor = cursor;
                let mut done = done;
                loop {
                    if let Some(user) = items.pop_front() {
                        return Ok(Some((user, (cursor, done, items))));
                    }
                    if done {
                        return Ok(None);
                    }
                    let page = client.list_users_page(&query, cursor.as_deref()).await?;
                    items.extend(page.items);
                    done = page.next_cursor.is_none();
                    cursor = page.next_cursor;
                }
            }
        })
    }

    /// One page of users; pass its `next_cursor` to get the next.
    pub async fn list_users_page(
        &self,
        query: &ListUsersQuery,
        cursor: Option<&str>,
    ) -> Result<types::UserPage, Error> {
        let mut call = switched!(self, self.inner.list_users());
        if let Some(limit) = query.limit {
            let limit = std::num::NonZeroU32::new(limit)
                .ok_or_else(|| Error::InvalidRequest("limit must be at least 1".into()))?;
            call = call.limit(limit);
        }
        if let Some(email) = &query.email {
            call = call.email(email.as_str());
        }
        if let Some(status) = query.status {
            call = call.status(status);
        }
        if let Some(q) = &query.q {
            call = call.q(q.as_str());
        }
        if let Some(cursor) = cursor {
            call = call.cursor(cursor);
        }
        finish(call.send().await).await
    }

    /// Applies a merge patch; with `if_match` only if the user is still at
    /// that version (otherwise [`Error::is_precondition_failed`]).
    pub async fn update_user(
        &self,
        user_id: Uuid,
        patch: &UserPatch,
        if_match: Option<&str>,
    ) -> Result<types::User, Error> {
        let mut call = switched!(self, self.inner.update_user())
            .user_id(user_id)
            .body(patch.clone());
        if let Some(tag) = if_match {
            call = call.if_match(tag);
        }
        finish(call.send().await).await
    }

    /// Read-modify-write with optimistic concurrency: reads the user, asks
    /// `change` for a patch, sends it with `If-Match`, and on a 412 reads again
    /// and retries, at most `max_attempts` times. If the PATCH gets no answer
    /// the outcome is unknown and `change` is not applied again: the error is
    /// [`Error::OutcomeUnknown`].
    pub async fn update_user_with(
        &self,
        user_id: Uuid,
        max_attempts: u32,
        mut change: impl FnMut(&types::User) -> UserPatch,
    ) -> Result<types::User, Error> {
        let max_attempts = max_attempts.max(1);
        for _ in 0..max_attempts {
            let current = self.get_user(user_id).await?;
            let patch = change(&current);
            match self
                .update_user(user_id, &patch, Some(&crate::etag(&current)))
                .await
            {
                Ok(user) => return Ok(user),
                Err(err) if err.is_precondition_failed() => continue,
                Err(err @ Error::Transport(_)) => return Err(Error::OutcomeUnknown(Box::new(err))),
                Err(err) => return Err(err),
            }
        }
        Err(Error::TooManyConflicts {
            attempts: max_attempts,
        })
    }

    /// Replaces the profile; optional fields left out of `body` are cleared.
    pub async fn replace_user(
        &self,
        user_id: Uuid,
        body: &types::UserReplace,
        if_match: Option<&str>,
    ) -> Result<types::User, Error> {
        let mut call = switched!(self, self.inner.replace_user())
            .user_id(user_id)
            .body(body.clone());
        if let Some(tag) = if_match {
            call = call.if_match(tag);
        }
        finish(call.send().await).await
    }

    /// Deletes a user.
    pub async fn delete_user(&self, user_id: Uuid, if_match: Option<&str>) -> Result<(), Error> {
        let mut call = switched!(self, self.inner.delete_user()).user_id(user_id);
        if let Some(tag) = if_match {
            call = call.if_match(tag);
        }
        finish(call.send().await).await
    }

    /// Sets a user's password.
    pub async fn set_user_password(
        &self,
        user_id: Uuid,
        body: &types::PasswordChange,
        if_match: Option<&str>,
    ) -> Result<(), Error> {
        let mut call = switched!(self, self.inner.set_user_password())
            .user_id(user_id)
            .body(body.clone());
        if let Some(tag) = if_match {
            call = call.if_match(tag);
        }
        finish(call.send().await).await
    }

    /// The countries `address.countryCode` accepts.
    pub async fn list_countries(&self) -> Result<Vec<types::LookupEntry>, Error> {
        finish(self.inner.list_countries().send().await)
            .await
            .map(|list| list.items)
    }

    /// The languages `preferredLanguage` accepts.
    pub async fn list_languages(&self) -> Result<Vec<types::LookupEntry>, Error> {
        finish(self.inner.list_languages().send().await)
            .await
            .map(|list| list.items)
    }

    /// The locales `locale` accepts.
    pub async fn list_locales(&self) -> Result<Vec<types::LookupEntry>, Error> {
        finish(self.inner.list_locales().send().await)
            .await
            .map(|list| list.items)
    }

    /// The time zones `timeZone` accepts.
    pub async fn list_time_zones(&self) -> Result<Vec<types::LookupEntry>, Error> {
        finish(self.inner.list_time_zones().send().await)
            .await
            .map(|list| list.items)
    }
}

/// Unwraps what a generated method returned into this crate's result.
async fn finish<T>(
    result: Result<progenitor_client::ResponseValue<T>, progenitor_client::Error<types::Problem>>,
) -> Result<T, Error> {
    match result {
        Ok(value) => Ok(value.into_inner()),
        Err(err) => Err(Error::from_progenitor(err).await),
    }
}
