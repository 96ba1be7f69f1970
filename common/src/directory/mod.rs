//! What the other services know of the registry, through its DirectoryService: client
//! and product lookups cached briefly, and a follower of the change stream that
//! invalidates them and bumps a per-client generation (token-svc puts it in its cache
//! keys, so a change retires every cached token of that client at once). Answers are
//! cached as the domain values of `entries`, converted once per miss. Snapshots of every
//! product and approved client are not cached: their callers rebuild from them on each
//! tick of `subscribe_changes`.

mod entries;

pub use entries::{
    ApplicationEntry, ApprovedClientEntry, AuthMethods, ClientEntry, IssueRecords, ProductEntry,
    StrategyPolicy,
};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use dcr_proto::registry::v1 as pb;

use crate::auth::ServiceCredentials;
use moka::future::Cache;
use tokio_stream::StreamExt as _;
use tonic::Code;
use tonic::transport::Channel;

/// Directory entries live at most this long, so even a missed change ends quickly.
const RESOLVE_TTL: Duration = Duration::from_secs(30);
const RECONNECT_DELAY: Duration = Duration::from_millis(500);
/// The registry's largest pages: a snapshot takes as few round trips as it can.
const PRODUCTS_PAGE: i32 = 1000;
const CLIENTS_PAGE: i32 = 5000;
/// How long an answer of `issued_token_found` is kept. Either answer stays true for the
/// token's life: token-svc records a token before it hands it out, and a record lives
/// until the token expires.
const ISSUED_TTL: Duration = Duration::from_secs(60);

/// How dcr names an access token in token-svc's issue records: SHA-256 of the token
/// exactly as sent (directory.proto, RecordIssuedToken). Never the token itself.
pub fn token_digest(token: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.as_bytes()).into()
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum DirectoryError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    FailedPrecondition(String),
    /// The registry cannot be reached or failed; callers fail closed.
    #[error("{0}")]
    Unavailable(String),
}

impl DirectoryError {
    fn from_status(status: &tonic::Status) -> Self {
        match status.code() {
            Code::NotFound => Self::NotFound(status.message().to_owned()),
            Code::FailedPrecondition | Code::InvalidArgument => {
                Self::FailedPrecondition(status.message().to_owned())
            }
            code => Self::Unavailable(format!("the registry is unavailable ({code})")),
        }
    }
}

#[derive(Clone)]
pub struct Directory {
    channel: Channel,
    credentials: ServiceCredentials,
    clients: Cache<String, Option<Arc<ClientEntry>>>,
    products: Cache<String, Option<Arc<ProductEntry>>>,
    /// Products by name (gateway routes may name their product); invalidated with
    /// `products`.
    products_by_name: Cache<String, Option<Arc<ProductEntry>>>,
    /// `issued_token_found`'s answers, by client id and token digest.
    issued: Cache<(String, [u8; 32]), bool>,
    /// Bumped on every change of a client (or "provider:<id>"); part of token cache keys.
    generations: Arc<DashMap<String, u64>>,
    /// Bumped before every invalidation: a lookup that was in flight across one may
    /// carry the state from before the change, so its answer is used but not cached.
    epoch: Arc<AtomicU64>,
    /// The follower's position in the change stream.
    last_seq: Arc<AtomicU64>,
    following: Arc<tokio::sync::watch::Sender<bool>>,
    /// Ticks on every change applied and on every (re)connect of the follower, after its
    /// invalidations: see `subscribe_changes`.
    changes: Arc<tokio::sync::watch::Sender<u64>>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").finish_non_exhaustive()
    }
}

impl Directory {
    pub fn new(channel: Channel, credentials: ServiceCredentials) -> Self {
        Self {
            channel,
            credentials,
            clients: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(RESOLVE_TTL)
                .build(),
            products: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(RESOLVE_TTL)
                .build(),
            products_by_name: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(RESOLVE_TTL)
                .build(),
            issued: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ISSUED_TTL)
                .build(),
            generations: Arc::new(DashMap::new()),
            epoch: Arc::new(AtomicU64::new(0)),
            last_seq: Arc::new(AtomicU64::new(0)),
            following: Arc::new(tokio::sync::watch::channel(false).0),
            changes: Arc::new(tokio::sync::watch::channel(0).0),
        }
    }

    fn client(&self) -> pb::directory_service_client::DirectoryServiceClient<Channel> {
        pb::directory_service_client::DirectoryServiceClient::new(self.channel.clone())
    }

    pub fn generation(&self, key: &str) -> u64 {
        self.generations.get(key).map(|g| *g).unwrap_or(0)
    }

    /// The sequence number of the last change applied from the registry's stream.
    pub fn position(&self) -> u64 {
        self.last_seq.load(Ordering::Relaxed)
    }

    /// True while the change stream is connected (caches are being kept current).
    pub fn is_following(&self) -> bool {
        *self.following.borrow()
    }

    /// Resolves once the change stream is connected.
    pub async fn wait_following(&self) {
        let mut rx = self.following.subscribe();
        let _ = rx.wait_for(|following| *following).await;
    }

    /// Ticks whenever what the registry knows may have changed: a change from the
    /// stream was applied, or the follower (re)connected, after which anything may have
    /// changed while it was away. For consumers that hold a full snapshot
    /// (`list_products`, `list_approved_clients`) instead of per-key lookups, such as
    /// authz-svc's Envoy config: they rebuild on each tick. Ticks that come quickly
    /// coalesce into one wake-up.
    pub fn subscribe_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn tick_changes(&self) {
        self.changes
            .send_modify(|tick| *tick = tick.wrapping_add(1));
    }

    /// Every product with its strategy and issuer, all pages, straight from the registry.
    pub async fn list_products(&self) -> Result<Vec<ProductEntry>, DirectoryError> {
        all_pages(|page_token| async move {
            let request = self.credentials.request(pb::ListDirectoryProductsRequest {
                page_size: PRODUCTS_PAGE,
                page_token,
            });
            let page = self
                .client()
                .list_directory_products(request)
                .await
                .map_err(|status| DirectoryError::from_status(&status))?
                .into_inner();
            let products = page.products.into_iter().map(ProductEntry::try_from);
            Ok((products.collect::<Result<_, _>>()?, page.next_page_token))
        })
        .await
    }

    /// Every client that may call a product now, all pages, straight from the registry.
    pub async fn list_approved_clients(&self) -> Result<Vec<ApprovedClientEntry>, DirectoryError> {
        all_pages(|page_token| async move {
            let request = self.credentials.request(pb::ListApprovedClientsRequest {
                page_size: CLIENTS_PAGE,
                page_token,
            });
            let page = self
                .client()
                .list_approved_clients(request)
                .await
                .map_err(|status| DirectoryError::from_status(&status))?
                .into_inner();
            let clients = page.clients.into_iter().map(ApprovedClientEntry::try_from);
            Ok((clients.collect::<Result<_, _>>()?, page.next_page_token))
        })
        .await
    }

    /// The client, or None when the registry does not know it.
    pub async fn resolve_client(
        &self,
        client_id: &str,
    ) -> Result<Option<Arc<ClientEntry>>, DirectoryError> {
        cached(&self.clients, &self.epoch, client_id, |id| {
            let this = self.clone(); // only on a miss
            async move {
                let request = this
                    .credentials
                    .request(pb::ResolveClientRequest { client_id: id });
                Ok(this.client().resolve_client(request).await)
            }
        })
        .await
    }

    /// The product with its strategy and issuer, or None when it does not exist.
    pub async fn resolve_product(
        &self,
        product_id: &str,
    ) -> Result<Option<Arc<ProductEntry>>, DirectoryError> {
        cached(&self.products, &self.epoch, product_id, |id| {
            let this = self.clone(); // only on a miss
            async move {
                let request = this.credentials.request(pb::ResolveProductRequest {
                    product_id: id,
                    name: String::new(),
                });
                Ok(this.client().resolve_product(request).await)
            }
        })
        .await
    }

    /// The product named `name`, or None when there is none.
    pub async fn resolve_product_by_name(
        &self,
        name: &str,
    ) -> Result<Option<Arc<ProductEntry>>, DirectoryError> {
        cached(&self.products_by_name, &self.epoch, name, |name| {
            let this = self.clone(); // only on a miss
            async move {
                let request = this.credentials.request(pb::ResolveProductRequest {
                    product_id: String::new(),
                    name,
                });
                Ok(this.client().resolve_product(request).await)
            }
        })
        .await
    }

    /// A provider's management client (vendor providers) or introspection client.
    pub async fn provider_credentials(
        &self,
        provider_id: &str,
        purpose: pb::CredentialPurpose,
    ) -> Result<pb::GetProviderCredentialsResponse, DirectoryError> {
        let request = self.credentials.request(pb::GetProviderCredentialsRequest {
            provider_id: provider_id.to_owned(),
            purpose: purpose as i32,
        });
        self.client()
            .get_provider_credentials(request)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| DirectoryError::from_status(&status))
    }

    /// Records that token-svc hands out the token with `digest` to `client_id`, until
    /// `expires_at` (see `IssueRecords`).
    pub async fn record_issued_token(
        &self,
        client_id: &str,
        digest: [u8; 32],
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), DirectoryError> {
        let request = self.credentials.request(pb::RecordIssuedTokenRequest {
            client_id: client_id.to_owned(),
            token_digest: digest.to_vec(),
            expire_time: Some(prost_types::Timestamp {
                seconds: expires_at.timestamp(),
                nanos: 0,
            }),
        });
        self.client()
            .record_issued_token(request)
            .await
            .map(|_| ())
            .map_err(|status| DirectoryError::from_status(&status))
    }

    /// Whether token-svc recorded handing out the token with `digest` to `client_id`.
    /// Both answers are cached: neither changes while the token lives.
    pub async fn issued_token_found(
        &self,
        client_id: &str,
        digest: [u8; 32],
    ) -> Result<bool, DirectoryError> {
        let key = (client_id.to_owned(), digest);
        self.issued
            .try_get_with(key, async {
                let request = self.credentials.request(pb::FindIssuedTokenRequest {
                    client_id: client_id.to_owned(),
                    token_digest: digest.to_vec(),
                });
                self.client()
                    .find_issued_token(request)
                    .await
                    .map(|answer| answer.into_inner().found)
                    .map_err(|status| DirectoryError::from_status(&status))
            })
            .await
            .map_err(|shared| (*shared).clone())
    }

    /// Applies one change: forget the client, retire its tokens.
    async fn apply(&self, change: &pb::Change) {
        if let Some(time) = &change.time {
            let now = chrono::Utc::now();
            let at = chrono::DateTime::from_timestamp(
                time.seconds,
                u32::try_from(time.nanos).unwrap_or(0),
            )
            .unwrap_or(now);
            metrics::gauge!("dcr_change_stream_lag_seconds")
                .set((now - at).num_milliseconds() as f64 / 1000.0);
        }
        // Before the invalidations below: see `epoch`.
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if !change.client_id.is_empty() {
            self.clients.invalidate(&change.client_id).await;
            *self
                .generations
                .entry(change.client_id.clone())
                .or_insert(0) += 1;
        }
        let kind = pb::ChangeKind::try_from(change.kind).unwrap_or(pb::ChangeKind::Unspecified);
        if matches!(
            kind,
            pb::ChangeKind::Provider | pb::ChangeKind::Strategy | pb::ChangeKind::Product
        ) {
            // Issuers, audiences or strategies may have changed: drop every entry.
            self.clients.invalidate_all();
            self.products.invalidate_all();
            self.products_by_name.invalidate_all();
            *self
                .generations
                .entry(format!("provider:{}", change.resource_id))
                .or_insert(0) += 1;
        }
        self.last_seq
            .store(u64::try_from(change.seq).unwrap_or(0), Ordering::Relaxed);
        self.tick_changes();
    }

    /// Follows the change stream forever: from "now" at first, then resuming after the
    /// last change seen, so a reconnect misses nothing. While disconnected, entries expire
    /// on their own (RESOLVE_TTL, and the token cache's maximum age).
    pub async fn follow_changes(self) {
        let mut first = true;
        loop {
            let after = i64::try_from(self.last_seq.load(Ordering::Relaxed)).unwrap_or(0);
            let message = pb::WatchChangesRequest {
                after_seq: after,
                start_at_end: first,
            };
            let stream = self
                .client()
                .watch_changes(self.credentials.request(message))
                .await;
            match stream {
                Ok(response) => {
                    first = false;
                    self.following.send_replace(true);
                    // Whatever was cached before this point may have changed meanwhile.
                    self.epoch.fetch_add(1, Ordering::SeqCst);
                    self.clients.invalidate_all();
                    self.products.invalidate_all();
                    self.products_by_name.invalidate_all();
                    self.tick_changes();
                    tracing::info!(after_seq = after, "following the registry's change stream");
                    let mut changes = response.into_inner();
                    while let Some(next) = changes.next().await {
                        match next {
                            Ok(change) => self.apply(&change).await,
                            Err(status) => {
                                tracing::warn!(code = ?status.code(), "change stream ended");
                                break;
                            }
                        }
                    }
                }
                Err(status) => {
                    tracing::warn!(code = ?status.code(), "cannot watch the registry's changes")
                }
            }
            self.following.send_replace(false);
            tokio::time::sleep(RECONNECT_DELAY).await;
        }
    }
}

/// Every item of a paged listing: `page` fetches the page a token names (the first for
/// ""), answering its items and the next token ("" after the last).
async fn all_pages<T, F, Fut>(mut page: F) -> Result<Vec<T>, DirectoryError>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, String), DirectoryError>>,
{
    let mut items = Vec::new();
    let mut token = String::new();
    loop {
        let (mut more, next) = page(token).await?;
        items.append(&mut more);
        if next.is_empty() {
            return Ok(items);
        }
        token = next;
    }
}

/// Why a lookup's answer was not cached.
enum Uncached<T> {
    Failed(DirectoryError),
    /// An invalidation happened while the lookup was in flight: the answer may predate
    /// the change. It serves this call; caching it could keep it past the invalidation.
    Raced(Option<Arc<T>>),
}

/// A cached directory lookup: a hit costs a map lookup; concurrent misses of one key make
/// one registry call; NOT_FOUND (or a malformed id) is cached as None. The answer `A` is
/// converted to the entry `T` before it is cached, unless `epoch` moved meanwhile.
async fn cached<A, T, F, Fut>(
    cache: &Cache<String, Option<Arc<T>>>,
    epoch: &AtomicU64,
    key: &str,
    fetch: F,
) -> Result<Option<Arc<T>>, DirectoryError>
where
    T: TryFrom<A, Error = DirectoryError> + Send + Sync + 'static,
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<
            Output = Result<Result<tonic::Response<A>, tonic::Status>, DirectoryError>,
        >,
{
    if let Some(hit) = cache.get(key).await {
        return Ok(hit);
    }
    // The miss path's futures (the registry call, moka's loader) come to ~10 KB: boxed,
    // so that the hit path, which every warm Check takes, neither carries nor copies them
    // (callers' futures nest this one, and each move of theirs was a 10 KB memcpy).
    Box::pin(fetch_and_cache(cache, epoch, key, fetch)).await
}

/// `cached`'s miss: one registry call per key however many ask at once.
async fn fetch_and_cache<A, T, F, Fut>(
    cache: &Cache<String, Option<Arc<T>>>,
    epoch: &AtomicU64,
    key: &str,
    fetch: F,
) -> Result<Option<Arc<T>>, DirectoryError>
where
    T: TryFrom<A, Error = DirectoryError> + Send + Sync + 'static,
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<
            Output = Result<Result<tonic::Response<A>, tonic::Status>, DirectoryError>,
        >,
{
    let started = epoch.load(Ordering::SeqCst);
    let call = fetch(key.to_owned());
    let looked_up = cache
        .try_get_with(key.to_owned(), async move {
            let answer = match call.await.map_err(Uncached::Failed)? {
                Ok(response) => Some(Arc::new(
                    T::try_from(response.into_inner()).map_err(Uncached::Failed)?,
                )),
                Err(status) if matches!(status.code(), Code::NotFound | Code::InvalidArgument) => {
                    None
                }
                Err(status) => return Err(Uncached::Failed(DirectoryError::from_status(&status))),
            };
            if epoch.load(Ordering::SeqCst) == started {
                Ok(answer)
            } else {
                Err(Uncached::Raced(answer))
            }
        })
        .await;
    match looked_up {
        Ok(answer) => Ok(answer),
        Err(uncached) => match &*uncached {
            Uncached::Failed(error) => Err(error.clone()),
            Uncached::Raced(answer) => Ok(answer.clone()),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// An entry type whose answer is its own name.
    #[derive(Debug)]
    struct Named(String);

    impl TryFrom<String> for Named {
        type Error = DirectoryError;
        fn try_from(name: String) -> Result<Self, DirectoryError> {
            Ok(Self(name))
        }
    }

    type Answer = Result<Result<tonic::Response<String>, tonic::Status>, DirectoryError>;

    /// A snapshot consumer hears of every change applied.
    #[tokio::test]
    async fn an_applied_change_ticks_the_subscribers() {
        let channel = Channel::from_static("http://127.0.0.1:9").connect_lazy();
        let token = secrecy::SecretString::from("token");
        let directory = Directory::new(channel, ServiceCredentials::new(&token).unwrap());
        let mut changes = directory.subscribe_changes();
        let change = pb::Change {
            seq: 7,
            ..Default::default()
        };
        directory.apply(&change).await;
        directory.apply(&change).await;
        assert!(changes.has_changed().unwrap());
        assert_eq!(*changes.borrow_and_update(), 2);
    }

    /// A lookup in flight when a change is applied must not leave its (possibly older)
    /// answer in the cache after the invalidation; one that raced nothing is cached.
    #[tokio::test]
    async fn an_answer_that_raced_an_invalidation_is_used_but_not_cached() {
        let cache: Cache<String, Option<Arc<Named>>> = Cache::builder().build();
        let epoch = AtomicU64::new(0);
        let (answer_tx, answer_rx) = tokio::sync::oneshot::channel::<()>();
        let lookup = cached(&cache, &epoch, "client-1", |_| async {
            answer_rx.await.unwrap();
            Answer::Ok(Ok(tonic::Response::new("before the change".to_owned())))
        });
        let change = async {
            // The change is applied while the registry's answer is on its way.
            epoch.fetch_add(1, Ordering::SeqCst);
            cache.invalidate("client-1").await;
            answer_tx.send(()).unwrap();
        };
        let (answered, ()) = tokio::join!(lookup, change);
        assert_eq!(answered.unwrap().unwrap().0, "before the change");
        assert!(
            cache.get("client-1").await.is_none(),
            "the raced answer was not cached"
        );

        let fresh = cached(&cache, &epoch, "client-1", |_| async {
            Answer::Ok(Ok(tonic::Response::new("after".to_owned())))
        })
        .await;
        assert_eq!(fresh.unwrap().unwrap().0, "after");
        assert_eq!(cache.get("client-1").await.unwrap().unwrap().0, "after");
    }
}
