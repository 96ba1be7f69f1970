//! A developer's applications: the list, creating one (its secret shown once), its page
//! (credentials, registrations, how to get a token), and every change to it. Changes are
//! form posts answered with a redirect (post-redirect-get); the registry's refusals come
//! back as messages next to the field, or as a notice on the page.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use dcr_proto::registry::v1 as pb;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use crate::Portal;
use crate::errors::PageError;
use crate::pages::catalog::{self, Product};
use crate::pages::notice_and_go;
use crate::session::ShownOnce;
use crate::views::{FormErrors, Layout, render, when};
use crate::web::Me;

/// An application as the pages show it.
pub struct App {
    pub id: String,
    pub name: String,
    pub description: String,
    pub client_id: String,
    pub state: &'static str,
    pub redirect_uris: Vec<String>,
    pub created: String,
    pub attention: String,
    pub failure: String,
}

impl From<pb::Application> for App {
    fn from(a: pb::Application) -> Self {
        let state = match pb::ApplicationState::try_from(a.state) {
            Ok(pb::ApplicationState::Active) => "active",
            Ok(pb::ApplicationState::Provisioning) => "being created",
            Ok(pb::ApplicationState::Deleting) => "being deleted",
            Ok(pb::ApplicationState::Failed) => "failed",
            _ => "unknown",
        };
        Self {
            created: when(a.create_time.as_ref()),
            id: a.id,
            name: a.name,
            description: a.description,
            client_id: a.client_id,
            state,
            redirect_uris: a.redirect_uris,
            attention: a.attention,
            failure: a.failure_reason,
        }
    }
}

#[derive(Template)]
#[template(path = "apps.html")]
struct AppsPage {
    layout: Layout,
    apps: Vec<App>,
    more: bool,
}

/// The person's applications, newest first as the registry lists them.
pub async fn list(State(portal): State<Portal>, me: Me) -> Result<Response, PageError> {
    let mut client = me.registry(&portal)?.applications();
    let mut apps = Vec::new();
    let mut page_token = String::new();
    // Up to 1,000 on one page: enough for a person, bounded for the portal.
    let more = loop {
        let page = client
            .list_applications(pb::ListApplicationsRequest {
                page_size: 200,
                page_token: page_token.clone(),
            })
            .await?
            .into_inner();
        apps.extend(page.applications.into_iter().map(App::from));
        if page.next_page_token.is_empty() {
            break false;
        }
        if apps.len() >= 1000 {
            break true;
        }
        page_token = page.next_page_token;
    };
    Ok(render(&AppsPage {
        layout: Layout::of(&portal, &me, "My apps", "apps"),
        apps,
        more,
    }))
}

/// What the create form holds (also when it comes back with errors).
#[derive(Deserialize, Default)]
pub struct NewApp {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    product_id: String,
    /// One per line.
    #[serde(default)]
    redirect_uris: String,
    /// Rendered into the form, so a double submit creates one application.
    #[serde(default)]
    request_id: String,
}

#[derive(Template)]
#[template(path = "app_new.html")]
struct NewAppPage {
    layout: Layout,
    products: Vec<Product>,
    form: NewApp,
    errors: FormErrors,
}

pub async fn new(State(portal): State<Portal>, me: Me) -> Result<Response, PageError> {
    let products = catalog::products(&me.registry(&portal)?).await?;
    let form = NewApp {
        request_id: uuid::Uuid::new_v4().to_string(),
        ..NewApp::default()
    };
    Ok(render(&NewAppPage {
        layout: Layout::of(&portal, &me, "Create an app", "apps"),
        products,
        form,
        errors: FormErrors::default(),
    }))
}

pub async fn create(
    State(portal): State<Portal>,
    me: Me,
    Form(form): Form<NewApp>,
) -> Result<Response, PageError> {
    let registry = me.registry(&portal)?;
    let products = catalog::products(&registry).await?;
    let product = products.iter().find(|p| p.id == form.product_id);
    let result = match product {
        None => Err(PageError::Invalid {
            message: "Choose the API product the app is for.".into(),
            fields: vec![("product_id".into(), "choose a product".into())],
        }),
        Some(product) => registry
            .applications()
            .create_application(pb::CreateApplicationRequest {
                name: form.name.trim().to_owned(),
                description: form.description.trim().to_owned(),
                strategy_id: product.strategy_id.clone(),
                redirect_uris: form
                    .redirect_uris
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
                request_id: form.request_id.clone(),
            })
            .await
            .map(tonic::Response::into_inner)
            .map_err(PageError::from),
    };
    let created = match result {
        Ok(created) => created,
        Err(error) => {
            let Some(errors) = FormErrors::from(&error) else {
                return Err(error);
            };
            let page = NewAppPage {
                layout: Layout::of(&portal, &me, "Create an app", "apps"),
                products,
                form,
                errors,
            };
            return Ok((axum::http::StatusCode::BAD_REQUEST, render(&page)).into_response());
        }
    };
    let app = created.application.unwrap_or_default();
    // The app is for this product: register it right away (pending an approver where the
    // product asks for one).
    let registered = registry
        .applications()
        .create_registration(pb::CreateRegistrationRequest {
            application_id: app.id.clone(),
            product_id: form.product_id.clone(),
            scopes: Vec::new(),
        })
        .await;
    if let Err(status) = registered {
        portal.sessions.notify(
            me.id,
            true,
            format!(
                "The app was created, but registering it for the product failed: {}",
                status.message()
            ),
        );
    }
    Ok(show_secret(
        &portal,
        &me,
        &app.id,
        &app.client_id,
        created.credential,
    ))
}

/// Keeps a new secret for the one page that shows it, and goes there.
fn show_secret(
    portal: &Portal,
    me: &Me,
    app_id: &str,
    client_id: &str,
    credential: Option<pb::Credential>,
) -> Response {
    let secret = credential
        .map(|c| c.client_secret)
        .filter(|s| !s.is_empty());
    match secret {
        Some(secret) => {
            portal.sessions.update(me.id, |s| {
                s.secret = Some(ShownOnce {
                    application_id: app_id.to_owned(),
                    client_id: client_id.to_owned(),
                    secret: SecretString::from(secret),
                });
            });
            Redirect::to(&format!("/apps/{app_id}/secret")).into_response()
        }
        None => Redirect::to(&format!("/apps/{app_id}")).into_response(),
    }
}

#[derive(Template)]
#[template(path = "secret.html")]
struct SecretPage {
    layout: Layout,
    app_id: String,
    client_id: String,
    /// None: it was shown already.
    secret: Option<String>,
    token_endpoint: String,
}

/// The new secret, once: a reload finds it gone.
pub async fn secret(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let shown = portal.sessions.take_secret(me.id, &id);
    let page = SecretPage {
        layout: Layout::of(&portal, &me, "Your client secret", "apps"),
        app_id: id,
        client_id: shown
            .as_ref()
            .map(|s| s.client_id.clone())
            .unwrap_or_default(),
        secret: shown.map(|s| s.secret.expose_secret().to_owned()),
        token_endpoint: token_endpoint(&portal),
    };
    let status = if page.secret.is_some() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::GONE
    };
    Ok((status, render(&page)).into_response())
}

fn token_endpoint(portal: &Portal) -> String {
    portal
        .config
        .token_endpoint
        .clone()
        .unwrap_or_else(|| "$DCR_TOKEN_ENDPOINT".to_owned())
}

pub struct CredentialRow {
    pub id: String,
    pub hint: String,
    pub created: String,
    pub expires: String,
    pub revoked: String,
    pub pending: bool,
}

pub struct RegistrationRow {
    pub id: String,
    pub product: String,
    pub status: &'static str,
    pub scopes: String,
    pub pending: bool,
}

pub fn status_text(status: i32) -> &'static str {
    match pb::RegistrationStatus::try_from(status) {
        Ok(pb::RegistrationStatus::Pending) => "pending approval",
        Ok(pb::RegistrationStatus::Approved) => "approved",
        Ok(pb::RegistrationStatus::Rejected) => "rejected",
        _ => "unknown",
    }
}

#[derive(Template)]
#[template(path = "app.html")]
struct AppPage {
    layout: Layout,
    app: App,
    credentials: Vec<CredentialRow>,
    active_credentials: usize,
    registrations: Vec<RegistrationRow>,
    products: Vec<Product>,
    token_endpoint: String,
}

pub async fn show(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let registry = me.registry(&portal)?;
    let mut apps = registry.applications();
    let app = apps
        .get_application(pb::GetApplicationRequest { id: id.clone() })
        .await?
        .into_inner();
    let credentials: Vec<CredentialRow> = apps
        .list_credentials(pb::ListCredentialsRequest {
            application_id: id.clone(),
        })
        .await?
        .into_inner()
        .credentials
        .into_iter()
        .map(|c| CredentialRow {
            id: c.id,
            hint: c.secret_hint,
            created: when(c.create_time.as_ref()),
            expires: when(c.expire_time.as_ref()),
            revoked: when(c.revoke_time.as_ref()),
            pending: c.idp_pending,
        })
        .collect();
    let products = catalog::products(&registry).await?;
    let registrations = apps
        .list_registrations(pb::ListRegistrationsRequest {
            application_id: id.clone(),
            page_size: 100,
            page_token: String::new(),
        })
        .await?
        .into_inner()
        .registrations
        .into_iter()
        .map(|r| RegistrationRow {
            product: products
                .iter()
                .find(|p| p.id == r.product_id)
                .map_or_else(|| r.product_id.clone(), |p| p.name.clone()),
            id: r.id,
            status: status_text(r.status),
            scopes: r.scopes.join(" "),
            pending: r.idp_pending,
        })
        .collect();
    let app = App::from(app);
    Ok(render(&AppPage {
        layout: Layout::of(&portal, &me, app.name.clone(), "apps"),
        active_credentials: credentials.iter().filter(|c| c.revoked.is_empty()).count(),
        app,
        credentials,
        registrations,
        products,
        token_endpoint: token_endpoint(&portal),
    }))
}

#[derive(Template)]
#[template(path = "app_delete.html")]
struct DeletePage {
    layout: Layout,
    app: App,
}

pub async fn confirm_delete(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let app = me
        .registry(&portal)?
        .applications()
        .get_application(pb::GetApplicationRequest { id })
        .await?
        .into_inner();
    Ok(render(&DeletePage {
        layout: Layout::of(&portal, &me, "Delete app", "apps"),
        app: App::from(app),
    }))
}

/// What a change's outcome becomes: a notice on the app's page (or the error page for an
/// app that is not there or not theirs).
fn back_to_app(portal: &Portal, me: &Me, id: &str, outcome: Result<String, PageError>) -> Response {
    let outcome = outcome.map_err(PageError::fields_in_message);
    notice_and_go(portal, me, &format!("/apps/{id}"), outcome)
        .unwrap_or_else(IntoResponse::into_response)
}

pub async fn delete(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let deleted = me
        .registry(&portal)?
        .applications()
        .delete_application(pb::DeleteApplicationRequest {
            id: id.clone(),
            allow_missing: false,
        })
        .await;
    match deleted {
        Ok(_) => {
            portal.sessions.notify(
                me.id,
                false,
                "The app was deleted, and its client at the identity provider with it.",
            );
            Ok(Redirect::to("/apps").into_response())
        }
        Err(status) => Ok(back_to_app(&portal, &me, &id, Err(status.into()))),
    }
}

pub async fn add_credential(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let mut apps = me.registry(&portal)?.applications();
    let added = apps
        .add_credential(pb::AddCredentialRequest {
            application_id: id.clone(),
            expire_time: None,
        })
        .await;
    match added {
        Ok(credential) => {
            let credential = credential.into_inner();
            let client_id = credential.client_id.clone();
            Ok(show_secret(&portal, &me, &id, &client_id, Some(credential)))
        }
        Err(status) => Ok(back_to_app(&portal, &me, &id, Err(status.into()))),
    }
}

pub async fn regenerate(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let mut apps = me.registry(&portal)?.applications();
    let regenerated = apps
        .regenerate_secret(pb::RegenerateSecretRequest {
            application_id: id.clone(),
        })
        .await;
    match regenerated {
        Ok(credential) => {
            let credential = credential.into_inner();
            let client_id = credential.client_id.clone();
            portal.sessions.notify(
                me.id,
                false,
                "A new secret replaced the old one, which no longer works.",
            );
            Ok(show_secret(&portal, &me, &id, &client_id, Some(credential)))
        }
        Err(status) => Ok(back_to_app(&portal, &me, &id, Err(status.into()))),
    }
}

pub async fn revoke_credential(
    State(portal): State<Portal>,
    me: Me,
    Path((id, credential)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let revoked = me
        .registry(&portal)?
        .applications()
        .revoke_credential(pb::RevokeCredentialRequest {
            application_id: id.clone(),
            credential_id: credential,
        })
        .await
        .map(|c| {
            let c = c.into_inner();
            if c.idp_pending {
                format!("The secret ending in {} no longer works here; the identity provider has not confirmed yet (dcr keeps trying).", c.secret_hint)
            } else {
                format!("The secret ending in {} was revoked.", c.secret_hint)
            }
        })
        .map_err(PageError::from);
    Ok(back_to_app(&portal, &me, &id, revoked))
}

#[derive(Deserialize)]
pub struct Register {
    #[serde(default)]
    product_id: String,
    /// Space-separated.
    #[serde(default)]
    scopes: String,
}

pub async fn register(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
    Form(form): Form<Register>,
) -> Result<Response, PageError> {
    let registered = me
        .registry(&portal)?
        .applications()
        .create_registration(pb::CreateRegistrationRequest {
            application_id: id.clone(),
            product_id: form.product_id,
            scopes: form.scopes.split_whitespace().map(str::to_owned).collect(),
        })
        .await
        .map(|r| format!("Registered: {}.", status_text(r.into_inner().status)))
        .map_err(PageError::from);
    Ok(back_to_app(&portal, &me, &id, registered))
}

pub async fn unregister(
    State(portal): State<Portal>,
    me: Me,
    Path((id, registration)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let deleted = me
        .registry(&portal)?
        .applications()
        .delete_registration(pb::DeleteRegistrationRequest { id: registration })
        .await
        .map(|_| {
            "The registration was removed: the app can no longer call that product.".to_owned()
        })
        .map_err(PageError::from);
    Ok(back_to_app(&portal, &me, &id, deleted))
}
