//! The four HTTP filter configs authz-svc serves Envoy over ECDS, built from a snapshot
//! of the registry (`GatewayView`). Together they let a call skip the ext_authz round
//! trip only when dcr itself would allow it; every other call (no token, an opaque or
//! invalid token, Basic, a session, a product without the fast path, anything in doubt)
//! goes on to ext_authz, which decides and explains as before. The fast path never
//! denies on its own.
//!
//! In the listener's order:
//! 1. `dcr.headers` removes `x-dcr-*` request headers, so none reaches the checks or
//!    the upstream unless dcr set it.
//! 2. `dcr.jwt_authn` (Envoy's jwt_authn): one provider per fast-path product (issuer,
//!    audience, the issuer's keys inline); a route picks its product with
//!    `JwtPerRoute.requirement_name` = product id (or name). A verified payload lands in
//!    dynamic metadata under the product id; failures are not answered here
//!    (`allow_missing_or_failed`). The client claim is copied to `x-dcr-client-id`.
//! 3. `dcr.route` (RBAC, shadow rules only): did the route declare the product the
//!    token was verified for in its metadata (`dcr.product_id` / `dcr.product`), is the
//!    token shaped as dcr reads it (an access-token `typ`, exactly one claim naming its
//!    client), does it hold every scope in the route's `dcr.required_scopes`, and was it
//!    issued before this second (ext_authz sees a token first)? Its verdict lands in
//!    metadata. It expires unless authz-svc renews it (xDS TTL).
//! 4. `dcr.fast` (RBAC, shadow matcher only): route verdict allowed, and the client in
//!    the product's hash map of APPROVED active apps (for an app with a revoked
//!    credential, with a token issued in a later second). Its verdict `allowed` is the
//!    only thing that turns ext_authz off for the call (`filter_enabled_metadata`).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use dcr_common::directory::{ApprovedClientEntry, ProductEntry};
use dcr_common::jwt::ACCESS_TOKEN_TYPES;
use envoy_types::pb::envoy::config::common::mutation_rules::v3 as mutation;
use envoy_types::pb::envoy::config::core::v3::{DataSource, TypedExtensionConfig, data_source};
use envoy_types::pb::envoy::config::rbac::v3 as rbac;
use envoy_types::pb::envoy::extensions::filters::http::header_mutation::v3 as header_mutation;
use envoy_types::pb::envoy::extensions::filters::http::jwt_authn::v3 as jwt;
use envoy_types::pb::envoy::extensions::filters::http::rbac::v3 as rbac_filter;
use envoy_types::pb::google::protobuf::Empty;
use envoy_types::pb::xds::r#type::matcher::v3::Matcher;
use envoy_types::pb::xds::r#type::matcher::v3::matcher::OnMatch;

use super::matchers::{self as m, JWT_AUTHN, RBAC};
use crate::check::MAX_PRODUCT_REF;
use crate::verify::ISSUED_TO_CLAIMS;

/// ECDS resource names: the listener's filters name these in `config_discovery`.
pub const HEADERS_FILTER: &str = "dcr.headers";
pub const JWT_FILTER: &str = "dcr.jwt_authn";
pub const ROUTE_FILTER: &str = "dcr.route";
pub const FAST_FILTER: &str = "dcr.fast";
pub const NAMES: [&str; 4] = [HEADERS_FILTER, JWT_FILTER, ROUTE_FILTER, FAST_FILTER];

/// Prefixes of the RBAC filters' shadow verdicts in `envoy.filters.http.rbac` metadata:
/// `dcr_fast_shadow_engine_result` is what ext_authz's `filter_enabled_metadata` reads.
pub const ROUTE_PREFIX: &str = "dcr_route_";
pub const FAST_PREFIX: &str = "dcr_fast_";

/// Route metadata (`metadata.filter_metadata`) namespace and keys.
pub const ROUTE_METADATA: &str = "dcr";
pub const ROUTE_PRODUCT_ID: &str = "product_id";
pub const ROUTE_PRODUCT_NAME: &str = "product";
pub const ROUTE_SCOPES: &str = "required_scopes";

pub const CLIENT_HEADER: &str = "x-dcr-client-id";
pub const SCOPES_HEADER: &str = "x-dcr-scopes";
/// What a client may not send upstream itself (ext_authz overwrites them too).
const DCR_HEADERS: [&str; 4] = [
    "x-dcr-application-id",
    CLIENT_HEADER,
    SCOPES_HEADER,
    "x-dcr-developer-id",
];

/// What the filters are built from: one consistent read of the registry.
#[derive(Debug, Clone, Default)]
pub struct GatewayView {
    pub products: Vec<ProductEntry>,
    pub clients: Vec<ApprovedClientEntry>,
    /// The issuers' signing keys as dcr accepts them; an issuer without keys has no
    /// fast path.
    pub jwks: HashMap<String, IssuerKeys>,
    pub leeway: Duration,
    /// Unix second from which tokens go to ext_authz first: the fast path allows only
    /// tokens issued in an earlier second. ext_authz then has seen every token issued
    /// in the second of a revocation before the fast path could allow it, which its
    /// rule for that second needs (`check/authorize.rs`). Advanced every second.
    pub fast_from: i64,
}

/// An issuer's keys for Envoy: only the keys dcr verifies with, each with the one
/// algorithm dcr allows it (Envoy would try more), and what `kid` a token must carry
/// for Envoy to pick the key dcr would pick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerKeys {
    pub jwks_json: String,
    pub kid: KidRule,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KidRule {
    /// Several keys: dcr picks by `kid` only, Envoy would try every key for a token
    /// without one.
    Required,
    /// One key without a `kid`: dcr uses it only for tokens without one.
    Absent,
    /// One key with a `kid`: dcr and Envoy agree either way.
    Either,
}

/// A product whose bearer JWTs may take the fast path, with the claims that may name
/// its client.
struct FastProduct<'a> {
    product: &'a ProductEntry,
    claims: Vec<&'a str>,
}

impl<'a> FastProduct<'a> {
    /// Bearer without sessions (an allow there sets a cookie, which only ext_authz
    /// does), keys at hand, and a strategy whose first credential claims name the client
    /// the token was issued to. dcr takes the first credential claim present; while
    /// those are issued-to claims, exactly one of them present is unambiguous. A claim
    /// like `sub` ends the list: its check needs a second claim compared with it, which
    /// only ext_authz does.
    fn of(product: &'a ProductEntry, view: &GatewayView) -> Option<Self> {
        let methods = product.strategy.methods;
        if !methods.bearer
            || methods.session
            || !view.jwks.contains_key(&product.issuer)
            || product.id.len() > MAX_PRODUCT_REF
            || product.name.len() > MAX_PRODUCT_REF
        {
            return None;
        }
        let claims: Vec<&str> = product
            .strategy
            .credential_claims
            .iter()
            .map(String::as_str)
            .take_while(|c| ISSUED_TO_CLAIMS.contains(c))
            .collect();
        (!claims.is_empty()).then_some(Self { product, claims })
    }

    fn id(&self) -> &str {
        &self.product.id
    }

    fn provider(&self) -> String {
        format!("product/{}", self.product.id)
    }

    fn header_key(&self) -> String {
        format!("{}/header", self.product.id)
    }
}

/// The four filters, in listener order.
/// The products whose tokens may take the fast path.
fn fast_products(view: &GatewayView) -> Vec<FastProduct<'_>> {
    view.products
        .iter()
        .filter_map(|p| FastProduct::of(p, view))
        .collect()
}

pub fn build(view: &GatewayView) -> Vec<TypedExtensionConfig> {
    let fast = fast_products(view);
    vec![
        typed(HEADERS_FILTER, &headers()),
        typed(JWT_FILTER, &jwt_authn(view, &fast)),
        typed(ROUTE_FILTER, &route_checks(view, &fast)),
        typed(FAST_FILTER, &fast_verdict(view, &fast)),
    ]
}

/// Only `dcr.route`, which changes every second (`fast_from`) while the rest does not.
pub fn route(view: &GatewayView) -> TypedExtensionConfig {
    let fast = fast_products(view);
    typed(ROUTE_FILTER, &route_checks(view, &fast))
}

fn typed<M: prost::Name>(name: &str, message: &M) -> TypedExtensionConfig {
    TypedExtensionConfig {
        name: name.to_owned(),
        typed_config: Some(m::any(message)),
    }
}

fn headers() -> header_mutation::HeaderMutation {
    header_mutation::HeaderMutation {
        mutations: Some(header_mutation::Mutations {
            request_mutations: DCR_HEADERS
                .iter()
                .map(|name| mutation::HeaderMutation {
                    action: Some(mutation::header_mutation::Action::Remove(
                        (*name).to_owned(),
                    )),
                })
                .collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn requirement(kind: jwt::jwt_requirement::RequiresType) -> jwt::JwtRequirement {
    jwt::JwtRequirement {
        requires_type: Some(kind),
    }
}

fn jwt_authn(view: &GatewayView, fast: &[FastProduct<'_>]) -> jwt::JwtAuthentication {
    use jwt::jwt_requirement::RequiresType;
    let pass_on = || requirement(RequiresType::AllowMissingOrFailed(Empty {}));
    let mut providers = HashMap::new();
    let mut requirements = HashMap::new();
    // Every product gets a requirement, so any route naming one is valid; only the
    // fast ones verify anything.
    for product in &view.products {
        requirements.insert(product.id.clone(), pass_on());
        requirements.insert(product.name.clone(), pass_on());
    }
    for f in fast {
        providers.insert(f.provider(), provider(view, f));
        let verify_or_pass_on = requirement(RequiresType::RequiresAny(jwt::JwtRequirementOrList {
            requirements: vec![
                requirement(RequiresType::ProviderName(f.provider())),
                pass_on(),
            ],
        }));
        requirements.insert(f.product.name.clone(), verify_or_pass_on.clone());
        requirements.insert(f.id().to_owned(), verify_or_pass_on);
    }
    jwt::JwtAuthentication {
        providers,
        requirement_map: requirements,
        ..Default::default()
    }
}

fn provider(view: &GatewayView, f: &FastProduct<'_>) -> jwt::JwtProvider {
    let mut to_headers: Vec<jwt::JwtClaimToHeader> = f
        .claims
        .iter()
        .map(|claim| jwt::JwtClaimToHeader {
            header_name: CLIENT_HEADER.to_owned(),
            claim_name: (*claim).to_owned(),
            ..Default::default()
        })
        .collect();
    to_headers.push(jwt::JwtClaimToHeader {
        header_name: SCOPES_HEADER.to_owned(),
        claim_name: "scope".to_owned(),
        ..Default::default()
    });
    jwt::JwtProvider {
        // Only where dcr reads a bearer token: not the `access_token` query parameter or
        // "Bearer " inside another scheme, which Envoy's defaults would also try.
        from_headers: vec![jwt::JwtHeader {
            name: "authorization".to_owned(),
            value_prefix: "Bearer ".to_owned(),
        }],
        issuer: f.product.issuer.clone(),
        audiences: f.product.audience.iter().cloned().collect(),
        require_expiration: true,
        forward: true,
        payload_in_metadata: f.id().to_owned(),
        header_in_metadata: f.header_key(),
        normalize_payload_in_metadata: Some(jwt::jwt_provider::NormalizePayload {
            space_delimited_claims: vec!["scope".to_owned(), "scp".to_owned()],
        }),
        // Envoy reads 0 as its default of 60 s: 1 s is the closest to dcr's 0.
        clock_skew_seconds: u32::try_from(view.leeway.as_secs())
            .unwrap_or(u32::MAX)
            .max(1),
        jwt_cache_config: Some(jwt::JwtCacheConfig {
            jwt_cache_size: 10_000,
            ..Default::default()
        }),
        claim_to_headers: to_headers,
        jwks_source_specifier: Some(jwt::jwt_provider::JwksSourceSpecifier::LocalJwks(
            DataSource {
                specifier: Some(data_source::Specifier::InlineString(
                    view.jwks
                        .get(&f.product.issuer)
                        .map(|k| k.jwks_json.clone())
                        .unwrap_or_default(),
                )),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

fn permission(rule: rbac::permission::Rule) -> rbac::Permission {
    rbac::Permission { rule: Some(rule) }
}

fn route_value(
    key: &str,
    value: envoy_types::pb::envoy::r#type::matcher::v3::ValueMatcher,
) -> rbac::Permission {
    permission(rbac::permission::Rule::SourcedMetadata(m::sourced(
        rbac::MetadataSource::Route,
        ROUTE_METADATA,
        &[key],
        value,
    )))
}

fn route_present(key: &str) -> rbac::Permission {
    route_value(
        key,
        m::value(
            envoy_types::pb::envoy::r#type::matcher::v3::value_matcher::MatchPattern::PresentMatch(
                true,
            ),
        ),
    )
}

fn and(rules: Vec<rbac::Permission>) -> rbac::Permission {
    permission(rbac::permission::Rule::AndRules(rbac::permission::Set {
        rules,
    }))
}

fn or(rules: Vec<rbac::Permission>) -> rbac::Permission {
    permission(rbac::permission::Rule::OrRules(rbac::permission::Set {
        rules,
    }))
}

fn not(rule: rbac::Permission) -> rbac::Permission {
    permission(rbac::permission::Rule::NotRule(Box::new(rule)))
}

fn verified_for(f: &FastProduct<'_>) -> rbac::Permission {
    jwt_value(&[f.id()], present_value())
}

/// A policy that matches when all of `conditions` hold (RBAC ORs a policy's
/// permissions, so they go in as one AND).
fn policy(mut conditions: Vec<rbac::Permission>) -> rbac::Policy {
    let all = if conditions.len() == 1 {
        conditions.remove(0)
    } else {
        and(conditions)
    };
    rbac::Policy {
        permissions: vec![all],
        principals: vec![rbac::Principal {
            identifier: Some(rbac::principal::Identifier::Any(true)),
        }],
        ..Default::default()
    }
}

/// DENY policies (as shadow rules: a verdict, never an answer): any that matches sends
/// the call to ext_authz.
fn route_checks(view: &GatewayView, fast: &[FastProduct<'_>]) -> rbac_filter::Rbac {
    let mut policies = HashMap::new();
    // The Authorization header as dcr reads a bearer JWT: one value, the scheme, then
    // base64url and dots only (no padding, nothing after the token, which jwt_authn
    // would skip); anything else is for ext_authz. (jwt_authn checks the three parts.)
    policies.insert(
        "authorization".to_owned(),
        policy(vec![not(permission(rbac::permission::Rule::Header(
            envoy_types::pb::envoy::config::route::v3::HeaderMatcher {
                name: "authorization".to_owned(),
                header_match_specifier: Some(
                    envoy_types::pb::envoy::config::route::v3::header_matcher::HeaderMatchSpecifier::StringMatch(
                        envoy_types::pb::envoy::r#type::matcher::v3::StringMatcher {
                            ignore_case: false,
                            match_pattern: Some(
                                envoy_types::pb::envoy::r#type::matcher::v3::string_matcher::MatchPattern::SafeRegex(
                                    envoy_types::pb::envoy::r#type::matcher::v3::RegexMatcher {
                                        regex: "Bearer [A-Za-z0-9._-]+".to_owned(),
                                        ..Default::default()
                                    },
                                ),
                            ),
                        },
                    ),
                ),
                ..Default::default()
            },
        )))]),
    );
    // Per product, one policy: verified for it (one metadata lookup), and then any of
    // the reasons ext_authz must judge the call instead.
    for f in fast {
        policies.insert(
            format!("product:{}", f.id()),
            policy(vec![verified_for(f), or(product_denials(view, f))]),
        );
    }
    // Each scope a route may require, where the verified token lacks it.
    let known: BTreeSet<&str> = fast
        .iter()
        .flat_map(|f| f.product.strategy.scopes.iter().map(String::as_str))
        .collect();
    for scope in &known {
        let holds: Vec<rbac::Permission> = fast
            .iter()
            .flat_map(|f| {
                ["scope", "scp"].map(|claim| {
                    permission(rbac::permission::Rule::SourcedMetadata(m::sourced(
                        rbac::MetadataSource::Dynamic,
                        JWT_AUTHN,
                        &[f.id(), claim],
                        m::list_has(scope),
                    )))
                })
            })
            .collect();
        policies.insert(
            format!("scope:{scope}"),
            policy(vec![
                route_value(ROUTE_SCOPES, m::list_has(scope)),
                not(or(holds)),
            ]),
        );
    }
    // A required scope no fast-path strategy knows, or required scopes that are not a
    // list of strings: only ext_authz can judge them.
    policies.insert(
        "scope:unknown".to_owned(),
        policy(vec![route_value(
            ROUTE_SCOPES,
            list_with(&not_one_of(&known)),
        )]),
    );
    // Required scopes that are not a list, or a list with an entry that is not a
    // string (Check reads such an entry as a scope no token holds).
    use envoy_types::pb::envoy::r#type::matcher::v3 as em;
    let not_a_string = m::value(em::value_matcher::MatchPattern::OrMatch(em::OrMatcher {
        value_matchers: vec![
            m::value(em::value_matcher::MatchPattern::NullMatch(
                em::value_matcher::NullMatch {},
            )),
            m::value(em::value_matcher::MatchPattern::BoolMatch(true)),
            m::value(em::value_matcher::MatchPattern::BoolMatch(false)),
            m::value(em::value_matcher::MatchPattern::DoubleMatch(
                em::DoubleMatcher {
                    match_pattern: Some(em::double_matcher::MatchPattern::Range(
                        envoy_types::pb::envoy::r#type::v3::DoubleRange {
                            start: f64::MIN,
                            end: f64::MAX,
                        },
                    )),
                },
            )),
            m::value(em::value_matcher::MatchPattern::ListMatch(Box::new(
                em::ListMatcher {
                    match_pattern: Some(em::list_matcher::MatchPattern::OneOf(Box::new(
                        present_value(),
                    ))),
                },
            ))),
        ],
    }));
    policies.insert(
        "scope:unreadable".to_owned(),
        policy(vec![
            route_present(ROUTE_SCOPES),
            or(vec![
                not(route_value(ROUTE_SCOPES, list_with("(?s).*"))),
                route_value(
                    ROUTE_SCOPES,
                    m::value(em::value_matcher::MatchPattern::ListMatch(Box::new(
                        em::ListMatcher {
                            match_pattern: Some(em::list_matcher::MatchPattern::OneOf(Box::new(
                                not_a_string,
                            ))),
                        },
                    ))),
                ),
            ]),
        ]),
    );
    rbac_filter::Rbac {
        shadow_rules: Some(rbac::Rbac {
            action: rbac::rbac::Action::Deny as i32,
            policies,
            ..Default::default()
        }),
        shadow_rules_stat_prefix: ROUTE_PREFIX.to_owned(),
        ..Default::default()
    }
}

/// A list value with an entry matching `regex` (RE2).
fn list_with(regex: &str) -> envoy_types::pb::envoy::r#type::matcher::v3::ValueMatcher {
    use envoy_types::pb::envoy::r#type::matcher::v3 as em;
    m::value(em::value_matcher::MatchPattern::ListMatch(Box::new(
        em::ListMatcher {
            match_pattern: Some(em::list_matcher::MatchPattern::OneOf(Box::new(m::value(
                em::value_matcher::MatchPattern::StringMatch(em::StringMatcher {
                    ignore_case: false,
                    match_pattern: Some(em::string_matcher::MatchPattern::SafeRegex(
                        em::RegexMatcher {
                            regex: regex.to_owned(),
                            ..Default::default()
                        },
                    )),
                }),
            )))),
        },
    )))
}

/// An RE2 pattern (matched in full) for every string that is not one of `known`:
/// walks the trie of `known`, so it needs no look-ahead, which RE2 lacks.
pub fn not_one_of(known: &BTreeSet<&str>) -> String {
    fn node(words: &[&[char]]) -> String {
        let ends_here = words.iter().any(|w| w.is_empty());
        let mut next: std::collections::BTreeMap<char, Vec<&[char]>> = Default::default();
        for w in words.iter().filter(|w| !w.is_empty()) {
            next.entry(w[0]).or_default().push(&w[1..]);
        }
        let mut alternatives = Vec::new();
        if !ends_here {
            alternatives.push(String::new());
        }
        if next.is_empty() {
            alternatives.push("(?s:.+)".to_owned());
        } else {
            let firsts: String = next.keys().map(|c| class_char(*c)).collect();
            alternatives.push(format!("[^{firsts}](?s:.*)"));
            for (c, rest) in &next {
                alternatives.push(format!("{}(?:{})", regex_char(*c), node(rest)));
            }
        }
        alternatives.join("|")
    }
    let chars: Vec<Vec<char>> = known.iter().map(|w| w.chars().collect()).collect();
    let words: Vec<&[char]> = chars.iter().map(Vec::as_slice).collect();
    format!("(?:{})", node(&words))
}

fn regex_char(c: char) -> String {
    if c.is_ascii_alphanumeric() {
        c.to_string()
    } else {
        format!("\\x{{{:x}}}", u32::from(c))
    }
}

fn class_char(c: char) -> String {
    regex_char(c)
}

/// The verdict: ALLOW only where every condition of dcr's own allow is shown.
fn fast_verdict(view: &GatewayView, fast: &[FastProduct<'_>]) -> rbac_filter::Rbac {
    let mut approved: HashMap<&str, Vec<&ApprovedClientEntry>> = HashMap::new();
    // A client whose every token needs token-svc's record (a revoked secret may still
    // work at its IdP) is left to ext_authz, which looks the record up.
    for client in view.clients.iter().filter(|c| !c.issue_records.always) {
        approved
            .entry(client.product_id.as_str())
            .or_default()
            .push(client);
    }
    let fallback = || m::action("fallback", false);
    let clients_of = |f: &FastProduct<'_>| match approved.get(f.id()) {
        Some(clients) => m::then(client_map(f, clients)),
        // An empty map is not a valid matcher: no approved client, no fast allow.
        None => fallback(),
    };
    let by_product = match fast {
        // One fast product: only its provider sets `x-dcr-client-id` (after verifying
        // the token; dcr.headers removed any the client sent), so its map decides.
        [only] => clients_of(only),
        // The product whose provider verified the token (its payload's `iss` is a small
        // value: the matcher copies what it reads).
        _ => m::then(m::first_of(
            fast.iter()
                .map(|f| (m::present(JWT_AUTHN, &[f.id(), "iss"]), clients_of(f)))
                .collect(),
            fallback(),
        )),
    };
    // dcr.route's verdict first: it checked the route and the token's shape.
    let verdict = m::metadata(
        RBAC,
        &[&format!("{ROUTE_PREFIX}shadow_engine_result")],
        m::string_value("allowed", false),
    );
    rbac_filter::Rbac {
        shadow_matcher: Some(m::first_of(vec![(verdict, by_product)], fallback())),
        shadow_rules_stat_prefix: FAST_PREFIX.to_owned(),
        ..Default::default()
    }
}

/// Why a token verified for product `f` must still go to ext_authz.
fn product_denials(view: &GatewayView, f: &FastProduct<'_>) -> Vec<rbac::Permission> {
    let fast_from = view.fast_from;
    // The route must name the product the token was verified for, the way ext_authz
    // reads it: an id or a name that are this product, at least one of them.
    let wrong_id = and(vec![
        route_present(ROUTE_PRODUCT_ID),
        not(route_value(
            ROUTE_PRODUCT_ID,
            m::string_value(f.id(), false),
        )),
    ]);
    let wrong_name = and(vec![
        route_present(ROUTE_PRODUCT_NAME),
        not(route_value(
            ROUTE_PRODUCT_NAME,
            m::string_value(&f.product.name, false),
        )),
    ]);
    let unnamed = and(vec![
        not(route_present(ROUTE_PRODUCT_ID)),
        not(route_present(ROUTE_PRODUCT_NAME)),
    ]);
    let mut denials = vec![wrong_id, wrong_name, unnamed, not(token_shape_ok(f))];
    // jwt_authn compares audiences loosely (scheme and trailing slash ignored); dcr
    // exactly.
    if let Some(audience) = &f.product.audience {
        let exact = m::value(
            envoy_types::pb::envoy::r#type::matcher::v3::value_matcher::MatchPattern::OrMatch(
                envoy_types::pb::envoy::r#type::matcher::v3::OrMatcher {
                    value_matchers: vec![m::string_value(audience, false), m::list_has(audience)],
                },
            ),
        );
        denials.push(not(jwt_value(&[f.id(), "aud"], exact)));
    }
    let kid = || jwt_value(&[&f.header_key(), "kid"], present_value());
    match view.jwks.get(&f.product.issuer).map(|k| k.kid) {
        Some(KidRule::Required) => denials.push(not(kid())),
        Some(KidRule::Absent) => denials.push(kid()),
        Some(KidRule::Either) | None => {}
    }
    // Envoy's clock and its skew rules are not dcr's: a token within a few seconds of
    // its expiry (by dcr's clock and leeway, for as long as this config may live), or
    // not valid yet by dcr's, goes to ext_authz. And a token issued this second or
    // later: ext_authz sees it first.
    let leeway = i64::try_from(view.leeway.as_secs()).unwrap_or(i64::MAX);
    let config_lives = i64::try_from(super::ecds::ROUTE_TTL.as_secs()).unwrap_or(0) + 1;
    #[allow(clippy::cast_precision_loss)] // seconds since 1970 fit an f64 exactly
    let (ends_by, starts_by, issued_by) = (
        (fast_from + config_lives - leeway + 1) as f64,
        (fast_from + leeway + 1) as f64,
        fast_from as f64,
    );
    denials.push(not(jwt_value(&[f.id(), "exp"], m::at_least(ends_by))));
    denials.push(jwt_value(&[f.id(), "nbf"], m::at_least(starts_by)));
    denials.push(jwt_value(&[f.id(), "iat"], m::at_least(issued_by)));
    denials
}

/// A token dcr would read the same way: no `typ` or an access-token one, and exactly
/// one claim naming a client, one of the product's credential claims (then
/// `x-dcr-client-id` holds it alone, and dcr would have picked it).
fn token_shape_ok(f: &FastProduct<'_>) -> rbac::Permission {
    let header = f.header_key();
    let typ = |value| jwt_value(&[&header, "typ"], value);
    let mut types = vec![not(typ(present_value()))];
    types.extend(
        ACCESS_TOKEN_TYPES
            .iter()
            .map(|t| typ(m::string_value(t, true))),
    );
    let one_claim = f
        .claims
        .iter()
        .map(|claim| {
            let mut only = vec![jwt_value(&[f.id(), claim], present_value())];
            only.extend(
                ISSUED_TO_CLAIMS
                    .iter()
                    .filter(|other| *other != claim)
                    .map(|other| not(jwt_value(&[f.id(), other], present_value()))),
            );
            and(only)
        })
        .collect();
    and(vec![or(types), or(one_claim)])
}

fn present_value() -> envoy_types::pb::envoy::r#type::matcher::v3::ValueMatcher {
    m::value(
        envoy_types::pb::envoy::r#type::matcher::v3::value_matcher::MatchPattern::PresentMatch(
            true,
        ),
    )
}

/// A value in jwt_authn's metadata.
fn jwt_value(
    path: &[&str],
    value: envoy_types::pb::envoy::r#type::matcher::v3::ValueMatcher,
) -> rbac::Permission {
    permission(rbac::permission::Rule::SourcedMetadata(m::sourced(
        rbac::MetadataSource::Dynamic,
        JWT_AUTHN,
        path,
        value,
    )))
}

/// The product's APPROVED active clients by id. A client with a revoked credential
/// passes only with a token issued in a later second than the revocation (and than the
/// IdP's confirmation of one, before which only tokens token-svc recorded count); a
/// token from that very second goes to ext_authz, which knows when it first saw it.
fn client_map(f: &FastProduct<'_>, clients: &[&ApprovedClientEntry]) -> Matcher {
    let map: HashMap<String, OnMatch> = clients
        .iter()
        .map(|client| {
            let outcome = match client.revoked_before.max(client.issue_records.before) {
                None => m::action("allow", true),
                Some(revoked) => {
                    #[allow(clippy::cast_precision_loss)] // seconds since 1970 fit an f64 exactly
                    let later = (revoked.timestamp() + 1) as f64;
                    m::then(m::first_of(
                        vec![(
                            m::metadata(JWT_AUTHN, &[f.id(), "iat"], m::at_least(later)),
                            m::action("allow", true),
                        )],
                        m::action("fallback", false),
                    ))
                }
            };
            (client.client_id.clone(), outcome)
        })
        .collect();
    m::by_header(CLIENT_HEADER, map, m::action("fallback", false))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use dcr_common::directory::{AuthMethods, StrategyPolicy};
    use prost::Message as _;

    fn product(id: &str) -> ProductEntry {
        ProductEntry {
            id: id.to_owned(),
            name: format!("{id}-name"),
            audience: Some("https://api.example.com".to_owned()),
            strategy: StrategyPolicy {
                id: "s".to_owned(),
                methods: AuthMethods {
                    client_credentials: true,
                    bearer: true,
                    session: false,
                },
                scopes: vec!["read".to_owned()],
                credential_claims: vec!["client_id".to_owned()],
                session_cookie_name: String::new(),
                session_ttl_seconds: 0,
            },
            provider_id: "p".to_owned(),
            provider_type: "rfc7591".to_owned(),
            issuer: "https://idp.example.com".to_owned(),
        }
    }

    fn client(product: &str, client: usize) -> ApprovedClientEntry {
        ApprovedClientEntry {
            product_id: product.to_owned(),
            client_id: format!("client-{client}"),
            application_id: format!("app-{client}"),
            revoked_before: client.is_multiple_of(10).then(chrono::Utc::now),
            issue_records: Default::default(),
        }
    }

    /// The client map of `dcr.fast` for the first product, decoded back.
    fn client_map_of(filters: &[TypedExtensionConfig]) -> HashMap<String, OnMatch> {
        use envoy_types::pb::xds::r#type::matcher::v3::matcher::{
            MatcherType, matcher_tree::TreeType, on_match,
        };
        let fast = filters.iter().find(|f| f.name == FAST_FILTER).unwrap();
        let rbac = rbac_filter::Rbac::decode(fast.typed_config.as_ref().unwrap().value.as_slice())
            .unwrap();
        let next = |m: &Matcher| -> Matcher {
            let Some(MatcherType::MatcherList(list)) = &m.matcher_type else {
                panic!("a list")
            };
            let Some(on_match::OnMatch::Matcher(inner)) =
                &list.matchers[0].on_match.as_ref().unwrap().on_match
            else {
                panic!("a nested matcher")
            };
            (**inner).clone()
        };
        let by_product = next(&rbac.shadow_matcher.unwrap());
        let tree = next(&by_product);
        let Some(MatcherType::MatcherTree(tree)) = tree.matcher_type else {
            panic!("a tree")
        };
        let Some(TreeType::ExactMatchMap(map)) = tree.tree_type else {
            panic!("an exact map")
        };
        map.map
    }

    #[test]
    fn every_approved_client_of_a_fast_product_is_in_its_map_and_no_other() {
        let view = GatewayView {
            products: vec![product("p1"), product("p2")],
            clients: (0..10_000)
                .map(|i| client("p1", i))
                .chain([client("p2", 99_999)])
                // A client whose every token needs token-svc's record: ext_authz's.
                .chain([ApprovedClientEntry {
                    issue_records: dcr_common::directory::IssueRecords {
                        always: true,
                        before: None,
                    },
                    ..client("p1", 77_777)
                }])
                .collect(),
            jwks: [(
                "https://idp.example.com".to_owned(),
                IssuerKeys {
                    jwks_json: "{\"keys\":[]}".to_owned(),
                    kid: KidRule::Either,
                },
            )]
            .into(),
            leeway: Duration::from_secs(30),
            fast_from: 1_800_000_000,
        };
        let filters = build(&view);
        let map = client_map_of(&filters);
        assert_eq!(map.len(), 10_000);
        assert!(map.contains_key("client-0") && map.contains_key("client-9999"));
        assert!(
            !map.contains_key("client-99999"),
            "another product's client"
        );
        assert!(
            !map.contains_key("client-77777"),
            "a client whose tokens need token-svc's record"
        );
        let bytes: usize = filters.iter().map(prost::Message::encoded_len).sum();
        assert!(bytes > 10_000 * 20, "{bytes} bytes for 10,000 clients");
    }

    #[test]
    fn not_one_of_matches_exactly_the_strings_outside_the_set() {
        let known: BTreeSet<&str> = ["read", "write", "re", "orders:read"].into();
        let pattern = regex::Regex::new(&format!("^{}$", not_one_of(&known))).unwrap();
        for inside in &known {
            assert!(!pattern.is_match(inside), "{inside}");
        }
        for outside in [
            "",
            "r",
            "rea",
            "reads",
            "red",
            "writes",
            "w",
            "x",
            "orders:",
            "orders:readx",
            "ré",
            "read\n",
        ] {
            assert!(pattern.is_match(outside), "{outside:?}");
        }
        let nothing_known =
            regex::Regex::new(&format!("^{}$", not_one_of(&BTreeSet::new()))).unwrap();
        assert!(nothing_known.is_match("read") && nothing_known.is_match(""));
    }
}
