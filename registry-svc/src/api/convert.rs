//! Strategies, products, applications and the rest: requests to domain, domain to wire.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dcr_common::error::{ApiError, Violations};
use dcr_common::text::echo;
use dcr_proto::registry::v1 as pb;
use uuid::Uuid;

use crate::domain::strategy::{DEFAULT_SESSION_TTL, default_session_cookie};
use crate::domain::validate;
use crate::domain::{
    ApiProduct, AppState, Application, AuthMethod, AuthStrategy, Credential, ListedRegistration,
    Owner, ProviderType, Registration, RegistrationStatus,
};
use crate::lifecycle::NewApplication;
use crate::store::{AuditEvent, Change};

pub fn timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// A resource id from a request field.
pub fn parse_id(field: &str, value: &str) -> Result<Uuid, ApiError> {
    id(value).map_err(|reason| ApiError::invalid(field, reason))
}

/// An id, or why it is not one (for `Violations`, which names the field itself).
fn id(value: &str) -> Result<Uuid, String> {
    if value.is_empty() {
        return Err("is required".into());
    }
    value.parse().map_err(|_| "is not a valid id".into())
}

/// Update mask paths, checked against what may change. None: the mask was empty.
pub fn mask_paths(
    mask: Option<prost_types::FieldMask>,
    allowed: &[&str],
) -> Result<Option<HashSet<String>>, ApiError> {
    let Some(mask) = mask.filter(|m| !m.paths.is_empty()) else {
        return Ok(None);
    };
    let mut v = Violations::new();
    for path in &mask.paths {
        if !allowed.contains(&path.as_str()) {
            v.add(
                "update_mask",
                format!(
                    "unknown or immutable path \"{}\"; allowed: {}",
                    echo(path),
                    allowed.join(", ")
                ),
            );
        }
    }
    v.finish()?;
    Ok(Some(mask.paths.into_iter().collect()))
}

fn wants(paths: &Option<HashSet<String>>, path: &str) -> bool {
    paths.as_ref().is_none_or(|p| p.contains(path))
}

/// A scope token per RFC 6749 section 3.3.
fn scope_token(scope: &str) -> Result<String, String> {
    if dcr_common::oauth::is_scope_token(scope) {
        Ok(scope.to_owned())
    } else {
        Err(format!(
            "\"{}\" is not a valid scope token (RFC 6749 section 3.3)",
            echo(scope)
        ))
    }
}

/// A cookie name: an RFC 6265 token (section 4.1.1), so browsers and gateways read the
/// Set-Cookie as written. A `__Host-` or `__Secure-` name needs nothing more: authz-svc
/// always sets `Secure; Path=/` and never `Domain`, which both prefixes accept.
fn cookie_name(name: &str) -> Result<String, String> {
    let separators = "()<>@,;:\\\"/[]?={} \t";
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && !separators.contains(c));
    if ok {
        Ok(name.to_owned())
    } else {
        Err(format!(
            "\"{}\" is not a cookie name: use 1-64 letters, digits or !#$%&'*+-.^_`|~ \
             (an RFC 6265 token), or leave it empty for the strategy's own __Host- name",
            echo(name)
        ))
    }
}

// ---- strategies ----

const STRATEGY_PATHS: &[&str] = &[
    "name",
    "credential_claims",
    "scopes",
    "audience",
    "auth_methods",
    "session_cookie_name",
    "session_ttl",
    "auto_approve",
];

/// Fills `target` from the request fields `paths` selects, validating each.
fn apply_strategy_fields(
    target: &mut AuthStrategy,
    s: &pb::AuthStrategy,
    paths: &Option<HashSet<String>>,
    provider_type: ProviderType,
    v: &mut Violations,
) {
    if wants(paths, "name")
        && let Some(name) = v.check("strategy.name", validate::name(&s.name))
    {
        target.name = name;
    }
    if wants(paths, "credential_claims") {
        target.credential_claims = credential_claims(s, provider_type, v);
    }
    if wants(paths, "scopes") {
        target.scopes = s
            .scopes
            .iter()
            .filter_map(|scope| v.check("strategy.scopes", scope_token(scope)))
            .collect();
    }
    if wants(paths, "audience")
        && let Some(audience) = v.check("strategy.audience", validate::audience(&s.audience))
    {
        target.audience = audience;
    }
    if wants(paths, "auth_methods") {
        target.auth_methods = auth_methods(s, v);
    }
    if wants(paths, "session_cookie_name") {
        // Set whether or not SESSION is on, so a later update that turns it on finds a
        // name of the strategy's own. A name given is kept as given.
        target.session_cookie_name = if s.session_cookie_name.is_empty() {
            default_session_cookie(target.id)
        } else {
            v.check(
                "strategy.session_cookie_name",
                cookie_name(&s.session_cookie_name),
            )
            .unwrap_or_default()
        };
    }
    if wants(paths, "session_ttl") {
        target.session_ttl = session_ttl(s, v);
    }
    if wants(paths, "auto_approve") {
        target.auto_approve = s.auto_approve;
    }
}

/// The claims that name the client in a token; the provider type's when none are given.
fn credential_claims(
    s: &pb::AuthStrategy,
    provider_type: ProviderType,
    v: &mut Violations,
) -> Vec<String> {
    let claims: Vec<String> = s
        .credential_claims
        .iter()
        .map(|c| c.trim().to_owned())
        .collect();
    // Claim names are names: one line, shown in tables.
    if claims
        .iter()
        .any(|c| c.is_empty() || c.len() > 64 || c.chars().any(char::is_control))
    {
        v.add(
            "strategy.credential_claims",
            "each claim name must be 1-64 characters, without control characters",
        );
    }
    if claims.is_empty() {
        provider_type.default_credential_claims()
    } else {
        claims
    }
}

/// The auth methods, each once; client credentials and bearer when none are given.
fn auth_methods(s: &pb::AuthStrategy, v: &mut Violations) -> Vec<AuthMethod> {
    let mut methods = Vec::new();
    for raw in &s.auth_methods {
        match pb::AuthMethod::try_from(*raw) {
            Ok(pb::AuthMethod::ClientCredentials) => methods.push(AuthMethod::ClientCredentials),
            Ok(pb::AuthMethod::Bearer) => methods.push(AuthMethod::Bearer),
            Ok(pb::AuthMethod::Session) => methods.push(AuthMethod::Session),
            _ => v.add(
                "strategy.auth_methods",
                format!("{raw} is not an auth method"),
            ),
        }
    }
    methods.sort();
    methods.dedup();
    if methods.is_empty() {
        vec![AuthMethod::ClientCredentials, AuthMethod::Bearer]
    } else {
        methods
    }
}

/// Whole seconds between a minute and 30 days; the default when unset.
fn session_ttl(s: &pb::AuthStrategy, v: &mut Violations) -> Duration {
    match &s.session_ttl {
        None => DEFAULT_SESSION_TTL,
        Some(d) if d.seconds >= 60 && d.seconds <= 30 * 86400 && d.nanos == 0 => {
            Duration::from_secs(u64::try_from(d.seconds).unwrap_or(3600))
        }
        Some(_) => {
            v.add(
                "strategy.session_ttl",
                "must be whole seconds between 60 s and 30 days",
            );
            DEFAULT_SESSION_TTL
        }
    }
}

pub fn parse_new_strategy(
    s: &pb::AuthStrategy,
    provider_type: ProviderType,
    now: DateTime<Utc>,
) -> Result<AuthStrategy, ApiError> {
    let mut v = Violations::new();
    let provider_id = v.check("strategy.provider_id", id(&s.provider_id));
    let mut strategy = AuthStrategy {
        id: Uuid::now_v7(),
        name: String::new(),
        provider_id: provider_id.unwrap_or_default(),
        credential_claims: Vec::new(),
        scopes: Vec::new(),
        audience: String::new(),
        auth_methods: Vec::new(),
        session_cookie_name: String::new(),
        session_ttl: DEFAULT_SESSION_TTL,
        auto_approve: false,
        create_time: now,
        update_time: now,
    };
    apply_strategy_fields(&mut strategy, s, &None, provider_type, &mut v);
    v.finish()?;
    Ok(strategy)
}

pub fn apply_strategy_update(
    mut stored: AuthStrategy,
    s: &pb::AuthStrategy,
    mask: Option<prost_types::FieldMask>,
    provider_type: ProviderType,
    now: DateTime<Utc>,
) -> Result<AuthStrategy, ApiError> {
    let paths = mask_paths(mask, STRATEGY_PATHS)?;
    let mut v = Violations::new();
    if !s.provider_id.is_empty() && s.provider_id != stored.provider_id.to_string() {
        v.add(
            "strategy.provider_id",
            "cannot change; create a new strategy instead",
        );
    }
    apply_strategy_fields(&mut stored, s, &paths, provider_type, &mut v);
    v.finish()?;
    stored.update_time = now;
    Ok(stored)
}

pub fn auth_methods_to_proto(methods: &[AuthMethod]) -> Vec<i32> {
    methods
        .iter()
        .map(|m| match m {
            AuthMethod::ClientCredentials => pb::AuthMethod::ClientCredentials as i32,
            AuthMethod::Bearer => pb::AuthMethod::Bearer as i32,
            AuthMethod::Session => pb::AuthMethod::Session as i32,
        })
        .collect()
}

/// A product as the catalog shows it to developers, with what its strategy asks of callers.
pub fn catalog_product_to_proto(p: &ApiProduct, s: &AuthStrategy) -> pb::CatalogProduct {
    pb::CatalogProduct {
        id: p.id.to_string(),
        name: p.name.clone(),
        description: p.description.clone(),
        strategy_id: s.id.to_string(),
        strategy_name: s.name.clone(),
        auth_methods: auth_methods_to_proto(&s.auth_methods),
        scopes: s.scopes.clone(),
        auto_approve: s.auto_approve,
    }
}

pub fn strategy_to_proto(s: &AuthStrategy) -> pb::AuthStrategy {
    pb::AuthStrategy {
        id: s.id.to_string(),
        name: s.name.clone(),
        provider_id: s.provider_id.to_string(),
        credential_claims: s.credential_claims.clone(),
        scopes: s.scopes.clone(),
        audience: s.audience.clone(),
        auth_methods: auth_methods_to_proto(&s.auth_methods),
        session_cookie_name: s.session_cookie_name.clone(),
        session_ttl: Some(prost_types::Duration {
            seconds: i64::try_from(s.session_ttl.as_secs()).unwrap_or(i64::MAX),
            nanos: 0,
        }),
        auto_approve: s.auto_approve,
        create_time: Some(timestamp(s.create_time)),
        update_time: Some(timestamp(s.update_time)),
    }
}

// ---- products ----

const PRODUCT_PATHS: &[&str] = &["name", "description", "strategy_id", "audience"];

fn apply_product_fields(
    target: &mut ApiProduct,
    p: &pb::ApiProduct,
    paths: &Option<HashSet<String>>,
    v: &mut Violations,
) {
    if wants(paths, "name")
        && let Some(name) = v.check("product.name", validate::name(&p.name))
    {
        target.name = name;
    }
    if wants(paths, "description")
        && let Some(description) = v.check(
            "product.description",
            validate::text(&p.description, validate::MAX_DESCRIPTION),
        )
    {
        target.description = description;
    }
    if wants(paths, "strategy_id")
        && let Some(id) = v.check("product.strategy_id", id(&p.strategy_id))
    {
        target.strategy_id = id;
    }
    if wants(paths, "audience")
        && let Some(audience) = v.check("product.audience", validate::audience(&p.audience))
    {
        target.audience = audience;
    }
}

pub fn parse_new_product(p: &pb::ApiProduct, now: DateTime<Utc>) -> Result<ApiProduct, ApiError> {
    let mut v = Violations::new();
    let mut product = ApiProduct {
        id: Uuid::now_v7(),
        name: String::new(),
        description: String::new(),
        strategy_id: Uuid::nil(),
        audience: String::new(),
        create_time: now,
        update_time: now,
    };
    apply_product_fields(&mut product, p, &None, &mut v);
    v.finish()?;
    Ok(product)
}

pub fn apply_product_update(
    mut stored: ApiProduct,
    p: &pb::ApiProduct,
    mask: Option<prost_types::FieldMask>,
    now: DateTime<Utc>,
) -> Result<ApiProduct, ApiError> {
    let paths = mask_paths(mask, PRODUCT_PATHS)?;
    let mut v = Violations::new();
    apply_product_fields(&mut stored, p, &paths, &mut v);
    v.finish()?;
    stored.update_time = now;
    Ok(stored)
}

pub fn product_to_proto(p: &ApiProduct) -> pb::ApiProduct {
    pb::ApiProduct {
        id: p.id.to_string(),
        name: p.name.clone(),
        description: p.description.clone(),
        strategy_id: p.strategy_id.to_string(),
        audience: p.audience.clone(),
        create_time: Some(timestamp(p.create_time)),
        update_time: Some(timestamp(p.update_time)),
    }
}

// ---- applications ----

fn redirect_uris(uris: &[String], v: &mut Violations) -> Vec<url::Url> {
    if uris.len() > validate::MAX_REDIRECT_URIS {
        v.add(
            "redirect_uris",
            format!("at most {} redirect URIs", validate::MAX_REDIRECT_URIS),
        );
    }
    uris.iter()
        .enumerate()
        .filter_map(|(i, uri)| v.check(&format!("redirect_uris[{i}]"), validate::redirect_uri(uri)))
        .collect()
}

pub fn parse_new_application(
    r: pb::CreateApplicationRequest,
    owner: Owner,
) -> Result<NewApplication, ApiError> {
    let mut v = Violations::new();
    let name = v.check("name", validate::name(&r.name));
    let description = v.check(
        "description",
        validate::text(&r.description, validate::MAX_DESCRIPTION),
    );
    let strategy_id = v.check("strategy_id", id(&r.strategy_id));
    let redirect_uris = redirect_uris(&r.redirect_uris, &mut v);
    let request_id = r.request_id.trim().to_owned();
    if request_id.len() > 128 {
        v.add("request_id", "must be at most 128 characters");
    }
    v.finish()?;
    Ok(NewApplication {
        owner,
        name: name.unwrap_or_default(),
        description: description.unwrap_or_default(),
        strategy_id: strategy_id.unwrap_or_default(),
        redirect_uris,
        request_id: (!request_id.is_empty()).then_some(request_id),
    })
}

const APPLICATION_PATHS: &[&str] = &["name", "description", "redirect_uris"];

pub fn apply_application_update(
    mut stored: Application,
    a: &pb::Application,
    mask: Option<prost_types::FieldMask>,
    now: DateTime<Utc>,
) -> Result<Application, ApiError> {
    let paths = mask_paths(mask, APPLICATION_PATHS)?;
    let mut v = Violations::new();
    if wants(&paths, "name")
        && let Some(name) = v.check("application.name", validate::name(&a.name))
    {
        stored.name = name;
    }
    if wants(&paths, "description")
        && let Some(d) = v.check(
            "application.description",
            validate::text(&a.description, validate::MAX_DESCRIPTION),
        )
    {
        stored.description = d;
    }
    if wants(&paths, "redirect_uris") {
        stored.redirect_uris = redirect_uris(&a.redirect_uris, &mut v);
    }
    v.finish()?;
    stored.update_time = now;
    Ok(stored)
}

pub fn application_to_proto(a: &Application) -> pb::Application {
    let state = match a.state {
        AppState::Provisioning => pb::ApplicationState::Provisioning,
        AppState::Active => pb::ApplicationState::Active,
        AppState::Deleting => pb::ApplicationState::Deleting,
        AppState::Failed => pb::ApplicationState::Failed,
    };
    pb::Application {
        id: a.id.to_string(),
        developer_id: a.owner.developer().unwrap_or_default().to_owned(),
        owner: a.owner.to_string(),
        name: a.name.clone(),
        description: a.description.clone(),
        strategy_id: a.strategy_id.to_string(),
        client_id: a.client_id.clone().unwrap_or_default(),
        redirect_uris: a.redirect_uris.iter().map(|u| u.to_string()).collect(),
        state: state as i32,
        create_time: Some(timestamp(a.create_time)),
        update_time: Some(timestamp(a.update_time)),
        failure_reason: a.failure_reason.clone(),
        attention: a.attention.clone(),
    }
}

pub fn credential_to_proto(
    c: &Credential,
    client_id: &str,
    secret: Option<&str>,
) -> pb::Credential {
    pb::Credential {
        id: c.id.to_string(),
        client_id: client_id.to_owned(),
        client_secret: secret.unwrap_or_default().to_owned(),
        secret_hint: c.secret_hint.clone(),
        create_time: Some(timestamp(c.create_time)),
        expire_time: c.expire_time.map(timestamp),
        revoke_time: c.revoke_time.map(timestamp),
        idp_pending: false,
    }
}

pub fn registration_status_to_proto(s: RegistrationStatus) -> pb::RegistrationStatus {
    match s {
        RegistrationStatus::Pending => pb::RegistrationStatus::Pending,
        RegistrationStatus::Approved => pb::RegistrationStatus::Approved,
        RegistrationStatus::Rejected => pb::RegistrationStatus::Rejected,
    }
}

/// A registration, named by its application (`application_name`, and the owning
/// `developer_id`, empty for a team's).
pub fn registration_to_proto(r: &Registration, app_name: &str, owner: &Owner) -> pb::Registration {
    pb::Registration {
        id: r.id.to_string(),
        application_id: r.application_id.to_string(),
        product_id: r.product_id.to_string(),
        status: registration_status_to_proto(r.status) as i32,
        scopes: r.scopes.clone(),
        create_time: Some(timestamp(r.create_time)),
        update_time: Some(timestamp(r.update_time)),
        idp_pending: false,
        application_name: app_name.to_owned(),
        developer_id: owner.developer().unwrap_or_default().to_owned(),
    }
}

pub fn listed_registration_to_proto(r: &ListedRegistration) -> pb::Registration {
    registration_to_proto(&r.registration, &r.application_name, &r.owner)
}

pub fn change_to_proto(c: &Change) -> pb::Change {
    let kind = match c.kind {
        "provider" => pb::ChangeKind::Provider,
        "strategy" => pb::ChangeKind::Strategy,
        "product" => pb::ChangeKind::Product,
        "application" => pb::ChangeKind::Application,
        "credential" => pb::ChangeKind::Credential,
        "registration" => pb::ChangeKind::Registration,
        _ => pb::ChangeKind::Unspecified,
    };
    pb::Change {
        seq: c.seq,
        kind: kind as i32,
        action: c.action.clone(),
        resource_id: c.resource_id.clone(),
        application_id: c.application_id.clone(),
        client_id: c.client_id.clone(),
        time: Some(timestamp(c.time)),
    }
}

pub fn audit_to_proto(e: &AuditEvent) -> pb::AuditEvent {
    pb::AuditEvent {
        id: e.id,
        time: Some(timestamp(e.time)),
        actor: e.actor.clone(),
        action: e.action.clone(),
        resource_type: e.resource_type.clone(),
        resource_id: e.resource_id.clone(),
        outcome: e.outcome.clone(),
        role: e.role.clone(),
        actor_name: e.actor_name.clone().unwrap_or_default(),
        actor_email: e.actor_email.clone().unwrap_or_default(),
    }
}
