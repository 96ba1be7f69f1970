//! Creating and editing an auth strategy: one form (its provider is chosen once, on
//! create); an edit sends only the fields that changed (the update mask).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use dcr_proto::registry::v1 as pb;

use super::METHODS;
use crate::Portal;
use crate::errors::PageError;
use crate::pages::admin::field::{Choice, Field, Input, Section};
use crate::pages::admin::manage::{self, FormPage, Posted, form_failed, invalid, words};
use crate::pages::admin::staff;
use crate::views::{FormErrors, Layout};
use crate::web::Me;

/// The strategy a form describes; the session TTL must be whole seconds.
fn posted_strategy(posted: &Posted) -> (pb::AuthStrategy, Result<(), PageError>) {
    let ttl = posted.get("session_ttl").trim();
    let (session_ttl, checked) = if ttl.is_empty() {
        (None, Ok(()))
    } else {
        match ttl.parse::<i64>() {
            Ok(seconds) => (Some(prost_types::Duration { seconds, nanos: 0 }), Ok(())),
            Err(_) => (
                None,
                Err(invalid(
                    "session_ttl",
                    "whole seconds, e.g. 3600 for an hour",
                )),
            ),
        }
    };
    let strategy = pb::AuthStrategy {
        name: posted.get("name").trim().to_owned(),
        provider_id: posted.get("provider_id").to_owned(),
        credential_claims: words(posted.get("credential_claims")),
        scopes: words(posted.get("scopes")),
        audience: posted.get("audience").trim().to_owned(),
        auth_methods: posted
            .all("auth_methods")
            .iter()
            .filter_map(|v| METHODS.iter().find(|(name, _, _)| name == v))
            .map(|(_, m, _)| *m as i32)
            .collect(),
        session_cookie_name: posted.get("session_cookie_name").trim().to_owned(),
        session_ttl,
        auto_approve: posted.checked("auto_approve"),
        ..Default::default()
    };
    (strategy, checked)
}

/// The auth methods as the registry keeps them: sorted, and the default when none.
fn effective_methods(methods: &[i32]) -> Vec<i32> {
    let mut methods = methods.to_vec();
    if methods.is_empty() {
        methods = vec![
            pb::AuthMethod::ClientCredentials as i32,
            pb::AuthMethod::Bearer as i32,
        ];
    }
    methods.sort_unstable();
    methods.dedup();
    methods
}

fn ttl_seconds(ttl: Option<&prost_types::Duration>) -> i64 {
    ttl.map_or(
        i64::try_from(dcr_proto::strategies::DEFAULT_SESSION_TTL.as_secs()).unwrap_or(3600),
        |d| d.seconds,
    )
}

/// The update mask: the fields whose posted value differs from the stored one (empty
/// claims are the provider type's, as the registry fills them in).
fn changed_paths(
    current: &pb::AuthStrategy,
    wanted: &pb::AuthStrategy,
    kind: pb::ProviderType,
) -> Vec<String> {
    let claims = if wanted.credential_claims.is_empty() {
        kind.default_credential_claims()
    } else {
        wanted.credential_claims.clone()
    };
    let changes = [
        ("name", wanted.name != current.name),
        ("credential_claims", claims != current.credential_claims),
        ("scopes", wanted.scopes != current.scopes),
        ("audience", wanted.audience != current.audience),
        (
            "auth_methods",
            effective_methods(&wanted.auth_methods) != effective_methods(&current.auth_methods),
        ),
        (
            "session_cookie_name",
            wanted.session_cookie_name != current.session_cookie_name,
        ),
        (
            "session_ttl",
            ttl_seconds(wanted.session_ttl.as_ref()) != ttl_seconds(current.session_ttl.as_ref()),
        ),
        ("auto_approve", wanted.auto_approve != current.auto_approve),
    ];
    changes
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(path, _)| path.to_owned())
        .collect()
}

/// The form's fields; `providers` for a new strategy (the provider cannot change later).
/// `ttl_typed`: the lifetime as posted, shown again even when it is no number.
fn sections(
    shown: &pb::AuthStrategy,
    providers: Option<&[pb::Provider]>,
    ttl_typed: Option<&str>,
) -> Vec<Section> {
    let mut fields = vec![
        Field::text("name", "Name", "Unique among the strategies.", &shown.name).required(true),
    ];
    if let Some(providers) = providers {
        let mut options = vec![Choice::new("", "Choose…", shown.provider_id.is_empty())];
        options.extend(
            providers
                .iter()
                .map(|p| Choice::new(&p.id, &p.name, p.id == shown.provider_id)),
        );
        fields.push(
            Field::new(
                "provider_id",
                "Provider",
                "Where the apps' clients are made. It cannot change later.",
                Input::Select { options },
            )
            .required(true),
        );
    }
    fields.extend([
        Field::text(
            "scopes",
            "Scopes",
            "Space-separated scopes the apps' clients get, e.g. read write.",
            &shown.scopes.join(" "),
        ),
        Field::text(
            "audience",
            "Audience",
            "The audience of the tokens gateways accept; a product may override it.",
            &shown.audience,
        ),
        Field::new(
            "auth_methods",
            "Auth methods",
            "How callers authenticate at the gateways. None checked: client credentials and bearer.",
            Input::Checks {
                options: METHODS
                    .iter()
                    .map(|(name, m, label)| {
                        Choice::new(*name, *label, shown.auth_methods.contains(&(*m as i32)))
                    })
                    .collect(),
            },
        ),
        Field::text(
            "session_cookie_name",
            "Session cookie name",
            "With the session method. Empty: a name of the strategy's own (__Host-dcr-session-…).",
            &shown.session_cookie_name,
        ),
        Field::new(
            "session_ttl",
            "Session lifetime (seconds)",
            "With the session method: 60 to 2592000 (30 days). Empty: 3600.",
            Input::Text {
                kind: "number",
                value: ttl_typed.map_or_else(
                    || {
                        shown
                            .session_ttl
                            .map(|d| d.seconds.to_string())
                            .unwrap_or_default()
                    },
                    str::to_owned,
                ),
            },
        ),
        Field::text(
            "credential_claims",
            "Credential claims",
            "Token claims that carry the client id, space-separated. Empty: the provider type's (e.g. azp for Auth0, client_id cid for Okta).",
            &shown.credential_claims.join(" "),
        ),
        Field::check(
            "auto_approve",
            "Approve registrations automatically",
            "Registrations for this strategy's products are approved at once, without an approver.",
            shown.auto_approve,
        ),
    ]);
    vec![Section::new("", fields)]
}

fn new_form(
    portal: &Portal,
    me: &Me,
    shown: &pb::AuthStrategy,
    providers: &[pb::Provider],
    ttl_typed: Option<&str>,
    errors: FormErrors,
) -> FormPage {
    FormPage {
        layout: Layout::of(portal, me, "New auth strategy", "admin"),
        section: "strategies",
        heading: "New auth strategy".into(),
        intro: "How gateways accept the apps of one provider.".into(),
        action: "/admin/strategies".into(),
        sections: sections(shown, Some(providers), ttl_typed),
        errors,
        submit: "Create the strategy".into(),
        cancel: "/admin/strategies".into(),
    }
}

pub async fn new(State(portal): State<Portal>, me: Me) -> Result<Response, PageError> {
    staff(&me)?;
    let providers = manage::providers(&me.registry(&portal)?).await?;
    let blank = pb::AuthStrategy {
        auth_methods: effective_methods(&[]),
        ..Default::default()
    };
    Ok(new_form(
        &portal,
        &me,
        &blank,
        &providers,
        None,
        FormErrors::default(),
    )
    .respond())
}

pub async fn create(
    State(portal): State<Portal>,
    me: Me,
    axum::Form(posted): axum::Form<Posted>,
) -> Result<Response, PageError> {
    staff(&me)?;
    let registry = me.registry(&portal)?;
    let (strategy, checked) = posted_strategy(&posted);
    let created = match checked {
        Ok(()) => registry
            .strategies()
            .create_strategy(pb::CreateStrategyRequest {
                strategy: Some(strategy.clone()),
            })
            .await
            .map(tonic::Response::into_inner)
            .map_err(PageError::from),
        Err(error) => Err(error),
    };
    match created {
        Ok(saved) => {
            portal.sessions.notify(
                me.id,
                false,
                format!("The auth strategy {} was created.", saved.name),
            );
            Ok(Redirect::to("/admin/strategies").into_response())
        }
        // A refusal is the error page before anything else is asked of the registry.
        Err(error) if FormErrors::from(&error).is_none() => Err(error),
        Err(error) => {
            let providers = manage::providers(&registry).await?;
            form_failed(error, |errors| {
                new_form(
                    &portal,
                    &me,
                    &strategy,
                    &providers,
                    Some(posted.get("session_ttl")),
                    errors,
                )
            })
        }
    }
}

fn edit_form(
    portal: &Portal,
    me: &Me,
    (id, name, provider): (&str, &str, &str),
    shown: &pb::AuthStrategy,
    ttl_typed: Option<&str>,
    errors: FormErrors,
) -> FormPage {
    FormPage {
        layout: Layout::of(portal, me, format!("Edit {name}"), "admin"),
        section: "strategies",
        heading: format!("Edit the auth strategy {name}"),
        intro: format!(
            "Its provider is {provider}; that cannot change (create another strategy for another provider)."
        ),
        action: format!("/admin/strategies/{id}/edit"),
        sections: sections(shown, None, ttl_typed),
        errors,
        submit: "Save changes".into(),
        cancel: "/admin/strategies".into(),
    }
}

/// The strategy, and its provider's name and type.
pub(super) async fn current(
    portal: &Portal,
    me: &Me,
    id: &str,
) -> Result<(pb::AuthStrategy, (String, pb::ProviderType)), PageError> {
    let registry = me.registry(portal)?;
    let strategy = registry
        .strategies()
        .get_strategy(pb::GetStrategyRequest { id: id.to_owned() })
        .await?
        .into_inner();
    let provider = registry
        .providers()
        .get_provider(pb::GetProviderRequest {
            id: strategy.provider_id.clone(),
        })
        .await
        .map(tonic::Response::into_inner)?;
    let kind = pb::ProviderType::try_from(provider.provider_type).unwrap_or_default();
    Ok((strategy, (provider.name, kind)))
}

pub async fn edit(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    staff(&me)?;
    let (strategy, (provider, _)) = current(&portal, &me, &id).await?;
    let names = (id.as_str(), strategy.name.as_str(), provider.as_str());
    Ok(edit_form(&portal, &me, names, &strategy, None, FormErrors::default()).respond())
}

pub async fn update(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
    axum::Form(posted): axum::Form<Posted>,
) -> Result<Response, PageError> {
    staff(&me)?;
    let (stored, (provider, kind)) = current(&portal, &me, &id).await?;
    let (wanted, checked) = posted_strategy(&posted);
    let paths = changed_paths(&stored, &wanted, kind);
    let saved = match checked {
        Err(error) => Err(error),
        Ok(()) if paths.is_empty() => Ok(None),
        Ok(()) => me
            .registry(&portal)?
            .strategies()
            .update_strategy(pb::UpdateStrategyRequest {
                strategy: Some(pb::AuthStrategy {
                    id: id.clone(),
                    provider_id: String::new(),
                    ..wanted.clone()
                }),
                update_mask: Some(prost_types::FieldMask { paths }),
            })
            .await
            .map(|s| Some(s.into_inner()))
            .map_err(PageError::from),
    };
    match saved {
        Ok(saved) => {
            let text = saved.map_or_else(
                || "Nothing changed.".to_owned(),
                |s| format!("The auth strategy {} was saved.", s.name),
            );
            portal.sessions.notify(me.id, false, text);
            Ok(Redirect::to("/admin/strategies").into_response())
        }
        Err(error) => form_failed(error, |errors| {
            let names = (id.as_str(), stored.name.as_str(), provider.as_str());
            edit_form(
                &portal,
                &me,
                names,
                &wanted,
                Some(posted.get("session_ttl")),
                errors,
            )
        }),
    }
}
