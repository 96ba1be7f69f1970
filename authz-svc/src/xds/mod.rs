//! The Envoy fast path: authz-svc as an xDS (ECDS) server that programs Envoy's own
//! jwt_authn and RBAC filters with dcr's products, keys and APPROVED clients, so a
//! bearer JWT that dcr would allow passes inside Envoy without the ext_authz round trip.
//! Everything else still goes to ext_authz (`filters.rs` says exactly what passes).
//!
//! The config is rebuilt from a full read of the registry whenever the change stream
//! delivers a change (so revocation, rejection and deletion reach Envoy within the
//! same second), every minute (issuer keys rotate), and when the change stream drops
//! or returns. While dcr cannot read the registry or follow its changes, it publishes
//! the config with no fast path at all: every call then goes to ext_authz, which fails
//! closed on its own.

mod ecds;
pub mod filters;
mod matchers;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dcr_common::clock::SharedClock;
use dcr_common::directory::Directory;
use dcr_proto::token::v1 as token_pb;
use envoy_types::pb::envoy::config::core::v3::TypedExtensionConfig;
use tokio::sync::watch;

pub use ecds::{Ecds, ROUTE_TTL};
pub use filters::GatewayView;

use crate::tokens::TokenClient;

/// Whether two filter configs say the same, compared as decoded messages.
fn same_config(a: &TypedExtensionConfig, b: &TypedExtensionConfig) -> bool {
    use envoy_types::pb::envoy::extensions::filters::http::{
        header_mutation::v3::HeaderMutation, jwt_authn::v3::JwtAuthentication, rbac::v3::Rbac,
    };
    fn decoded<M: prost::Message + prost::Name + Default>(c: &TypedExtensionConfig) -> Option<M> {
        let any = c.typed_config.as_ref()?;
        (any.type_url == M::type_url())
            .then(|| M::decode(any.value.as_slice()).ok())
            .flatten()
    }
    fn equal<M: prost::Message + prost::Name + Default + PartialEq>(
        a: &TypedExtensionConfig,
        b: &TypedExtensionConfig,
    ) -> Option<bool> {
        Some(decoded::<M>(a)? == decoded::<M>(b)?)
    }
    a.name == b.name
        && (a == b
            || equal::<Rbac>(a, b)
                .or_else(|| equal::<JwtAuthentication>(a, b))
                .or_else(|| equal::<HeaderMutation>(a, b))
                .unwrap_or(false))
}

/// How often the config is rebuilt without a change (issuer keys rotate).
const REFRESH: Duration = Duration::from_secs(60);
/// How often the fast path's start second moves on and the change stream's state is
/// looked at: a new token goes to ext_authz for at most about this long.
const TICK: Duration = Duration::from_secs(1);

/// One published config: each filter by its ECDS name with a version that changes
/// exactly when its config does (so an Envoy gets only the filters that changed).
#[derive(Debug, Default, Clone)]
pub struct Published {
    pub filters: HashMap<String, (String, Arc<TypedExtensionConfig>)>,
}

impl Published {
    /// `filters` in place of `previous`'s, each keeping its version when its config is
    /// the same. "The same" is judged on the decoded messages: their maps (providers,
    /// policies, the client map) encode in hash order, so equal configs can differ in
    /// bytes, and only a real change should reach Envoy.
    fn of(filters: Vec<TypedExtensionConfig>, previous: Option<&Self>) -> Self {
        let mut next = previous.cloned().unwrap_or_default();
        for f in filters {
            let kept = previous
                .and_then(|p| p.filters.get(&f.name))
                .filter(|(_, before)| same_config(before, &f))
                .map(|(version, _)| version.clone());
            let version = kept.unwrap_or_else(|| {
                blake3::hash(&prost::Message::encode_to_vec(&f)).to_hex()[..16].to_owned()
            });
            next.filters.insert(f.name.clone(), (version, Arc::new(f)));
        }
        next
    }

    /// The versions of `names`, as one: what a stream asking for them was last sent.
    pub fn version(&self, names: &[String]) -> String {
        names
            .iter()
            .map(|name| self.filters.get(name).map_or("-", |(v, _)| v.as_str()))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The filters whose version differs from `other`'s.
    fn changed_from(&self, other: Option<&Self>) -> Vec<&str> {
        self.filters
            .iter()
            .filter(|(name, (version, _))| {
                other.and_then(|o| o.filters.get(*name)).map(|(v, _)| v) != Some(version)
            })
            .map(|(name, _)| name.as_str())
            .collect()
    }

    fn bytes(&self) -> usize {
        self.filters
            .values()
            .map(|(_, f)| prost::Message::encoded_len(f.as_ref()))
            .sum()
    }
}

#[derive(Clone)]
pub struct FastPath {
    published: Arc<watch::Sender<Option<Arc<Published>>>>,
    closing: Arc<watch::Sender<bool>>,
    rejections: ecds::Rejections,
    directory: Directory,
    tokens: TokenClient,
    clock: SharedClock,
    leeway: Duration,
}

impl FastPath {
    pub fn new(
        directory: Directory,
        tokens: TokenClient,
        clock: SharedClock,
        leeway: Duration,
    ) -> Self {
        Self {
            published: Arc::new(watch::channel(None).0),
            closing: Arc::new(watch::channel(false).0),
            rejections: ecds::Rejections::default(),
            directory,
            tokens,
            clock,
            leeway,
        }
    }

    pub fn ecds(&self) -> Ecds {
        Ecds {
            published: self.published.subscribe(),
            closing: self.closing.subscribe(),
            rejections: self.rejections.clone(),
        }
    }

    /// Ends every Envoy's ECDS stream (they never end on their own), so that a shutting
    /// down server can drain. The Envoys reconnect to another replica, or their
    /// `dcr.route` expires (`ROUTE_TTL`) and the fast path with it.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Keeps the published config current, forever.
    pub async fn keep_current(self) {
        let mut changes = self.directory.subscribe_changes();
        let mut known_products = Vec::new();
        loop {
            changes.borrow_and_update();
            let following = self.directory.is_following();
            let read = if following {
                self.read().await.map_err(|error| {
                    tracing::warn!(%error, "cannot read the registry: no Envoy fast path until it can");
                })
            } else {
                Err(())
            };
            let mut view = match read {
                Ok(view) => {
                    known_products = view.products.clone();
                    view
                }
                // Until the first read Envoy waits (its listener warms until it has the
                // configs); after it, the products stay known, so jwt_authn passes their
                // routes on to ext_authz, but nothing is fast.
                Err(()) if known_products.is_empty() && self.published.borrow().is_none() => {
                    tokio::select! {
                        _ = changes.changed() => {}
                        () = tokio::time::sleep(TICK) => {}
                    }
                    continue;
                }
                Err(()) => GatewayView {
                    products: known_products.clone(),
                    leeway: self.leeway,
                    ..Default::default()
                },
            };
            view.fast_from = self.clock.now().timestamp();
            self.publish(&view);
            let mut every = tokio::time::interval(TICK);
            every.tick().await;
            let refresh = tokio::time::sleep(REFRESH);
            tokio::pin!(refresh);
            loop {
                tokio::select! {
                    _ = changes.changed() => break,
                    () = &mut refresh => break,
                    _ = every.tick() => if self.directory.is_following() != following { break },
                }
                // Each tick moves `fast_from` on; only dcr.route changes with it.
                view.fast_from = self.clock.now().timestamp();
                self.publish_route(&view);
            }
        }
    }

    /// Every filter, rebuilt from `view`; logged when more than `dcr.route` changed.
    fn publish(&self, view: &GatewayView) {
        let current = self.published.borrow().clone();
        let next = Published::of(filters::build(view), current.as_deref());
        let changed = next.changed_from(current.as_deref());
        if changed.is_empty() {
            return;
        }
        if changed.iter().any(|name| *name != filters::ROUTE_FILTER) {
            tracing::info!(
                changed = ?changed,
                products = view.products.len(),
                approved_clients = view.clients.len(),
                bytes = next.bytes(),
                "Envoy fast path config published"
            );
        }
        self.published.send_replace(Some(Arc::new(next)));
    }

    /// Only `dcr.route`, for a new `fast_from`: the rest is as it was.
    fn publish_route(&self, view: &GatewayView) {
        let Some(current) = self.published.borrow().clone() else {
            return;
        };
        let next = Published::of(vec![filters::route(view)], Some(&current));
        if !next.changed_from(Some(&current)).is_empty() {
            self.published.send_replace(Some(Arc::new(next)));
        }
    }

    async fn read(&self) -> anyhow::Result<GatewayView> {
        let products = self.directory.list_products().await?;
        let clients = self.directory.list_approved_clients().await?;
        let mut jwks = HashMap::new();
        for product in &products {
            if jwks.contains_key(&product.issuer) || !product.strategy.methods.bearer {
                continue;
            }
            match self.issuer_keys(&product.issuer).await {
                Some(keys) => {
                    jwks.insert(product.issuer.clone(), keys);
                }
                None => {
                    tracing::warn!(issuer = %product.issuer, "no keys for this issuer: its products have no fast path")
                }
            }
        }
        Ok(GatewayView {
            products,
            clients,
            jwks,
            leeway: self.leeway,
            fast_from: 0,
        })
    }

    /// The issuer's keys as dcr verifies with them (`dcr_common::jwt::key_algorithms`):
    /// each with its one algorithm named, keys without a `kid` only when they are the
    /// only key. None when it has none or they cannot be had.
    async fn issuer_keys(&self, issuer: &str) -> Option<filters::IssuerKeys> {
        let answer = self
            .tokens
            .issuer_keys(token_pb::GetIssuerKeysRequest {
                issuer: issuer.to_owned(),
                kid: String::new(),
            })
            .await
            .ok()?;
        envoy_keys(&answer.jwks_json)
    }
}

/// `jwks_json` rewritten for Envoy by dcr's key rules (see `issuer_keys`).
fn envoy_keys(jwks_json: &str) -> Option<filters::IssuerKeys> {
    let set: serde_json::Value = serde_json::from_str(jwks_json).ok()?;
    let mut keys: Vec<serde_json::Value> = set
        .get("keys")?
        .as_array()?
        .iter()
        .filter_map(|key| {
            let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.clone()).ok()?;
            let algorithms = dcr_common::jwt::key_algorithms(&jwk);
            jsonwebtoken::DecodingKey::from_jwk(&jwk).ok()?;
            let mut key = key.clone();
            // One algorithm per key where dcr allows one (EC, Ed25519): Envoy would try
            // any of the key type's.
            if let [only] = algorithms[..] {
                key["alg"] = serde_json::Value::String(format!("{only:?}"));
            }
            (!algorithms.is_empty()).then_some(key)
        })
        .collect();
    if keys.len() > 1 {
        keys.retain(|key| key.get("kid").is_some_and(serde_json::Value::is_string));
    }
    let kid = match &keys[..] {
        [] => return None,
        [only] if only.get("kid").is_some_and(serde_json::Value::is_string) => {
            filters::KidRule::Either
        }
        [_] => filters::KidRule::Absent,
        _ => filters::KidRule::Required,
    };
    Some(filters::IssuerKeys {
        jwks_json: serde_json::json!({ "keys": keys }).to_string(),
        kid,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const RSA_N: &str = "u1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0_IzW7yWR7QkrmBL7jTKEn5u-qKhbwKfBstIs-bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW_VDL5AaWTg0nLVkjRo9z-40RQzuVaE8AkAFmxZzow3x-VJYKdjykkJ0iT9wCS0DRTXu269V264Vf_3jvredZiKRkgwlL9xNAwxXFg0x_XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC-9aGVd-Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmw";

    fn rsa(kid: Option<&str>, use_: Option<&str>) -> serde_json::Value {
        let mut key = serde_json::json!({"kty": "RSA", "n": RSA_N, "e": "AQAB"});
        if let Some(kid) = kid {
            key["kid"] = kid.into();
        }
        if let Some(use_) = use_ {
            key["use"] = use_.into();
        }
        key
    }

    fn keys(set: serde_json::Value) -> Option<filters::IssuerKeys> {
        envoy_keys(&serde_json::json!({ "keys": set }).to_string())
    }

    fn kids(k: &filters::IssuerKeys) -> Vec<String> {
        let set: serde_json::Value = serde_json::from_str(&k.jwks_json).unwrap();
        set["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap_or("-").to_owned())
            .collect()
    }

    #[test]
    fn envoy_gets_only_the_keys_dcr_verifies_with_and_picks_them_as_dcr_does() {
        // Encryption keys and shared secrets are never verification keys.
        let k = keys(serde_json::json!([
            rsa(Some("sig"), Some("sig")),
            rsa(Some("enc"), Some("enc")),
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        ]))
        .unwrap();
        assert_eq!(kids(&k), ["sig"]);
        assert_eq!(k.kid, filters::KidRule::Either);
        // Several keys: only those with a kid, and tokens must name one.
        let k = keys(serde_json::json!([
            rsa(Some("a"), None),
            rsa(None, None),
            rsa(Some("b"), None)
        ]))
        .unwrap();
        assert_eq!(kids(&k), ["a", "b"]);
        assert_eq!(k.kid, filters::KidRule::Required);
        // One key without a kid: tokens must not name one.
        let k = keys(serde_json::json!([rsa(None, None)])).unwrap();
        assert_eq!(k.kid, filters::KidRule::Absent);
        // Nothing usable: no fast path for the issuer.
        assert!(keys(serde_json::json!([rsa(Some("enc"), Some("enc"))])).is_none());
        assert!(envoy_keys("not json").is_none());
    }
}
