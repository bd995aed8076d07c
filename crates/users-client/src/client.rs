//! The client and its configuration. The methods per operation are
//! generated (`generated_sdk.rs`); every call goes through progenitor's
//! builders, so what goes on the wire is what progenitor derived from the
//! spec, and through the runtime's hooks.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;

use crate::error::Error;
use crate::generated;
use crate::runtime::{bearer, Auth, RetryPolicy, Runtime, Secret, TokenProvider};

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

    /// Sends `user` and `password` as HTTP basic credentials to the
    /// operations whose security names an HTTP basic scheme.
    pub fn basic_auth(mut self, user: impl AsRef<str>, password: impl AsRef<str>) -> Self {
        use base64::Engine as _;
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            user.as_ref(),
            password.as_ref()
        ));
        match reqwest::header::HeaderValue::try_from(format!("Basic {credentials}")) {
            Ok(mut value) => {
                value.set_sensitive(true);
                self.runtime.basic = Some(value);
            }
            Err(_) => self.refused = Some("the basic credentials are not valid".into()),
        }
        self
    }

    /// Sends `key` for the API key scheme named `scheme` in the spec (in
    /// the header, query parameter or cookie the scheme names) to the
    /// operations whose security names it. A scheme the spec does not
    /// declare makes [`ClientBuilder::build`] fail.
    pub fn api_key(mut self, scheme: impl AsRef<str>, key: impl Into<String>) -> Self {
        let scheme = scheme.as_ref();
        if !crate::sdk::API_KEY_SCHEMES.contains(&scheme) {
            self.refused = Some(format!(
                "the spec declares no API key scheme {scheme:?} (it declares {:?})",
                crate::sdk::API_KEY_SCHEMES
            ));
            return self;
        }
        self.runtime.api_keys.retain(|(s, _)| s != scheme);
        self.runtime
            .api_keys
            .push((scheme.to_owned(), Secret(key.into())));
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

    /// Acts on this tenant on every call: the value of the parameter the
    /// spec marks `x-tenant-switch` (`accountSwitchKey` in the Users API),
    /// sent on every operation that declares it. The token must allow it.
    pub fn tenant(mut self, key: impl Into<String>) -> Self {
        self.runtime.tenant = Some(key.into());
        self
    }

    /// How failed requests are retried (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.runtime.retry = policy;
        self
    }

    /// Builds the client.
    pub fn build(mut self) -> Result<Client, Error> {
        if let Some(refused) = self.refused {
            return Err(Error::InvalidRequest(refused));
        }
        url::Url::parse(&self.base_url)
            .map_err(|e| Error::InvalidRequest(format!("base URL {}: {e}", self.base_url)))?;
        let mut http = reqwest::Client::builder().connect_timeout(self.connect_timeout);
        // The client's timeout is reqwest's own; a per-request one (set on
        // the request, which costs an extension per call) only for clients
        // made by `with_timeout`.
        if let Some(timeout) = self.runtime.timeout.take() {
            http = http.timeout(timeout);
        }
        #[cfg(feature = "native-tls")]
        let http = http.tls_backend_native();
        #[cfg(all(feature = "rustls", not(feature = "native-tls")))]
        let http = {
            // rustls with ring, unless the program installed a provider of
            // its own first (then that one is used).
            let _ = rustls::crypto::ring::default_provider().install_default();
            http.tls_backend_rustls()
        };
        let http = http.build().map_err(Error::Transport)?;
        let base = self.base_url.trim_end_matches('/');
        Ok(Client {
            inner: generated::Client::new_with_client(base, http, self.runtime),
        })
    }
}

/// A client of the API. Cheap to clone; clones share connections.
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
                basic: None,
                api_keys: Vec::new(),
                user_agent: HeaderValue::from_static(concat!(
                    "users-client/",
                    env!("CARGO_PKG_VERSION")
                )),
                timeout: Some(Duration::from_secs(30)),
                tenant: None,
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

    /// A client like this one that acts on another tenant (see
    /// [`ClientBuilder::tenant`]).
    pub fn for_tenant(&self, key: impl Into<String>) -> Client {
        let key = key.into();
        self.with_runtime(move |r| r.tenant = Some(key))
    }

    /// The tenant every call acts on, when not the token's own.
    #[allow(dead_code)] // used by generated code when the spec has a tenant switch
    pub(crate) fn tenant(&self) -> Option<&str> {
        self.inner.inner.tenant.as_deref()
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
}
