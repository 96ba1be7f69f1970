//! People sign in through the identity provider (node oidc-provider, the real
//! authorization code flow with its login form): registry-svc accepts their access tokens,
//! gives each role exactly its methods, makes every person a developer of their own apps
//! by the verified `sub` (never a header), refuses forged, expired, foreign and unsigned
//! tokens, sees a group removed at the IdP at the next refresh, and names the person in
//! the audit log.

use dcr_common::person::PersonRole;
use dcr_proto::registry::v1 as pb;
use dcr_testkit::peers::{INITIAL_ACCESS_TOKEN, Peer, rfc7591_provider};
use dcr_testkit::people::{SignedIn, oidc_provider_with_people, refresh, set_groups, sign_in};
use dcr_testkit::reflection::{call, methods, request_body};
use dcr_testkit::registry::{TestApp, spawn_app_with};
use registry_svc::domain::validate::UrlPolicy;
use registry_svc::identity::IdentityConfig;
use serde_json::json;
use tonic::Code;

const LOGIN_CLIENT: &str = "dcrctl";
const AUDIENCE: &str = "https://registry.dcr.test";
const SCOPE: &str = "openid groups profile email";

struct Sso {
    peer: Peer,
    app: TestApp,
}

async fn sso() -> Sso {
    let peer = oidc_provider_with_people(
        json!([
            {"sub": "alice", "password": "pw-alice", "groups": ["dcr-admins"],
             "name": "Alice Admin", "email": "alice@example.com"},
            {"sub": "paula", "password": "pw-paula", "groups": ["dcr-provider-admins"]},
            {"sub": "avery", "password": "pw-avery", "groups": ["dcr-approvers"]},
            {"sub": "vic", "password": "pw-vic", "groups": ["dcr-viewers"]},
            {"sub": "dev-1", "password": "pw-dev-1", "groups": []},
            {"sub": "dev-2", "password": "pw-dev-2", "groups": ["unrelated"]},
        ]),
        LOGIN_CLIENT,
    )
    .await;
    let policy = UrlPolicy {
        allow_http_loopback: true,
        allow_http_hosts: &[],
    };
    let identity = IdentityConfig::with_defaults(peer.base_url.clone(), AUDIENCE.into(), policy)
        .expect("identity settings");
    let app = spawn_app_with(|config| config.identity = Some(identity)).await;
    Sso { peer, app }
}

impl Sso {
    async fn sign_in(&self, who: &str) -> SignedIn {
        sign_in(
            &self.peer.base_url,
            LOGIN_CLIENT,
            who,
            &format!("pw-{who}"),
            SCOPE,
            AUDIENCE,
        )
        .await
        .expect("sign in")
    }

    async fn token(&self, who: &str) -> String {
        self.sign_in(who).await.access_token
    }
}

/// The identity provider is also the IdP apps are registered at (RFC 7591).
fn idp_provider(peer: &Peer) -> pb::Provider {
    rfc7591_provider("idp", &peer.base_url, INITIAL_ACCESS_TOKEN)
}

/// The roles that may call each registry method, as docs/sso.md's table says; None for
/// a method this test does not know (it fails: classify it).
fn people_may(service: &str, method: &str) -> Option<&'static [PersonRole]> {
    use PersonRole::*;
    const EVERYONE: &[PersonRole] = &[Admin, ProviderAdmin, Approver, Viewer, Developer];
    let reads = method.starts_with("Get") || method.starts_with("List");
    Some(match (service.strip_prefix("dcr.registry.v1.")?, method) {
        ("ProviderService", "ForgetApplication") => &[Admin],
        ("ProviderService", "VerifyProvider" | "GetDriftReport") => &[Admin, ProviderAdmin],
        ("ProviderService" | "StrategyService", _) if reads => &[Admin, ProviderAdmin, Viewer],
        ("ProviderService" | "StrategyService", _) => &[Admin, ProviderAdmin],
        ("ProductService", "ListRegistrations") => &[Admin, Approver, Viewer],
        ("ProductService", "ApproveRegistration" | "RejectRegistration") => &[Admin, Approver],
        ("ProductService", _) if reads => &[Admin, ProviderAdmin, Approver, Viewer],
        ("ProductService", _) => &[Admin],
        ("AuditService", "ListAuditEvents") => &[Admin, Approver, Viewer],
        ("ApplicationService", _) | ("IdentityService", "WhoAmI") => EVERYONE,
        ("DirectoryService", _) => &[],
        _ => return None,
    })
}

/// Every registry method, found through the registry's own reflection (so a new method
/// cannot slip in unclassified), called by a person of each role: one the table allows
/// gets past authorization (its answer beyond that, NOT_FOUND for the unknown ids the
/// request carries, does not matter); any other gets PERMISSION_DENIED naming the roles
/// it needs and the ones the person has.
#[tokio::test]
async fn each_role_is_allowed_exactly_its_methods() {
    use PersonRole::*;
    let s = sso().await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let people = [
        ("alice", Admin),
        ("paula", ProviderAdmin),
        ("avery", Approver),
        ("vic", Viewer),
        ("dev-1", Developer),
    ];
    let mut tokens = Vec::new();
    for (who, role) in people {
        tokens.push((who, role, s.token(who).await));
    }
    let services = methods(&s.app.channel, |_| None).await;
    let (mut checked, mut unclassified, mut wrong) = (0, Vec::new(), Vec::new());
    for (service, methods) in services.iter().filter(|(name, _)| name.starts_with("dcr.")) {
        for method in methods {
            let Some(allowed) = people_may(service, &method.name) else {
                unclassified.push(format!("{service}/{}", method.name));
                continue;
            };
            checked += 1;
            let path = format!("/{service}/{}", method.name);
            for (who, role, token) in &tokens {
                let body = request_body(method, &unknown);
                let (code, bytes) =
                    call(&s.app.channel, &path, method, Some(token), "", body).await;
                let message = String::from_utf8_lossy(&bytes);
                let should = allowed.contains(role);
                let right = match code {
                    Code::Unauthenticated => false,
                    Code::PermissionDenied => {
                        !should
                            && (message.contains("not for people")
                                || (message.contains("needs the")
                                    && message.contains(&format!("you have {}", role.name()))))
                    }
                    _ => should,
                };
                if !right {
                    wrong.push(format!("{who} ({role}) {path}: {code:?} {message:?}"));
                }
            }
        }
    }
    assert!(unclassified.is_empty(), "classify: {unclassified:#?}");
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(checked >= 38, "only {checked} methods were checked");
}

#[tokio::test]
async fn a_person_owns_apps_by_their_verified_subject_never_by_a_header() {
    let s = sso().await;
    let (_, strategy, _) = s.app.setup(idp_provider(&s.peer), true).await;
    let dev1 = s.app.person(&s.token("dev-1").await);
    let created = dev1
        .applications()
        .create_application(pb::CreateApplicationRequest {
            name: "mine".into(),
            strategy_id: strategy.id.clone(),
            ..Default::default()
        })
        .await
        .expect("dev-1 creates an app")
        .into_inner();
    let id = created.application.expect("app").id;

    // dev-2 cannot see it, even naming dev-1 in the portal header.
    let mut dev2 = s.app.person(&s.token("dev-2").await).applications();
    let mut request = tonic::Request::new(pb::GetApplicationRequest { id: id.clone() });
    request
        .metadata_mut()
        .insert("x-dcr-developer-id", "dev-1".parse().expect("header"));
    let refused = dev2
        .get_application(request)
        .await
        .expect_err("not dev-2's");
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    let listed = dev2
        .list_applications(pb::ListApplicationsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(listed.applications.is_empty(), "{listed:?}");

    // An admin person's apps are their own too: alice's list does not show dev-1's.
    let alice = s.app.person(&s.token("alice").await).applications();
    let listed = alice
        .clone()
        .list_applications(pb::ListApplicationsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(listed.applications.is_empty(), "{listed:?}");

    // The portal token path still works for dev-1's apps, by the same developer id.
    let seen = s
        .app
        .portal("dev-1")
        .get_application(pb::GetApplicationRequest { id })
        .await
        .expect("the same developer through the portal token");
    assert_eq!(seen.into_inner().name, "mine");
}

/// A valid token with one part changed, re-encoded.
fn tampered(token: &str, change: impl FnOnce(&mut serde_json::Value)) -> String {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&engine.decode(parts[1]).expect("payload")).expect("json");
    change(&mut payload);
    let payload = engine.encode(payload.to_string());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

#[tokio::test]
async fn forged_expired_foreign_and_unsigned_tokens_are_refused() {
    use base64::Engine as _;
    let s = sso().await;
    let token = s.token("dev-1").await;
    let list = |token: String| {
        let mut providers = s.app.person(&token).providers();
        async move {
            providers
                .list_providers(pb::ListProvidersRequest::default())
                .await
        }
    };
    // dev-1 promotes themself by editing the groups: the signature no longer verifies.
    let forged = tampered(&token, |p| p["groups"] = json!(["dcr-admins"]));
    let refused = list(forged).await.expect_err("forged");
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(
        refused.message().contains("signature"),
        "{}",
        refused.message()
    );

    // alg none: no signature at all.
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = engine.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = token.split('.').nth(1).expect("payload");
    let refused = list(format!("{header}.{payload}."))
        .await
        .expect_err("alg none");
    assert_eq!(refused.code(), Code::Unauthenticated);

    // Signed by the IdP, but for another audience.
    let other = sign_in(
        &s.peer.base_url,
        LOGIN_CLIENT,
        "alice",
        "pw-alice",
        SCOPE,
        "https://another-api.example.com",
    )
    .await
    .expect("sign in for another API")
    .access_token;
    let refused = list(other).await.expect_err("foreign audience");
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(
        refused.message().contains("audience"),
        "{}",
        refused.message()
    );

    // The same admin token works now and not once it has expired.
    let alice = s.token("alice").await;
    list(alice.clone()).await.expect("alice lists providers");
    s.app.clock.advance(chrono::Duration::hours(2));
    let refused = list(alice).await.expect_err("expired");
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(
        refused.message().contains("expired"),
        "{}",
        refused.message()
    );
}

#[tokio::test]
async fn a_group_removed_at_the_idp_takes_effect_at_the_next_refresh() {
    let s = sso().await;
    let signed_in = s.sign_in("paula").await;
    let mut providers = s.app.person(&signed_in.access_token).providers();
    providers
        .list_providers(pb::ListProvidersRequest::default())
        .await
        .expect("a provider admin lists providers");

    set_groups(&s.peer, "paula", &[]).await;
    let refreshed = refresh(
        &s.peer.base_url,
        LOGIN_CLIENT,
        signed_in.refresh_token.as_deref().expect("a refresh token"),
        AUDIENCE,
    )
    .await
    .expect("refresh");
    let refused = s
        .app
        .person(&refreshed.access_token)
        .providers()
        .list_providers(pb::ListProvidersRequest::default())
        .await
        .expect_err("no longer a provider admin");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(
        refused.message().contains("you have developer"),
        "{}",
        refused.message()
    );
}

#[tokio::test]
async fn the_audit_log_names_the_person_and_the_role_they_used() {
    let s = sso().await;
    let (_, strategy, _) = s.app.setup(idp_provider(&s.peer), true).await;
    let alice = s.app.person(&s.token("alice").await);
    alice
        .products()
        .create_product(pb::CreateProductRequest {
            product: Some(pb::ApiProduct {
                name: "by-alice".into(),
                strategy_id: strategy.id.clone(),
                ..Default::default()
            }),
        })
        .await
        .expect("alice creates a product");
    s.app
        .products()
        .create_product(pb::CreateProductRequest {
            product: Some(pb::ApiProduct {
                name: "by-automation".into(),
                strategy_id: strategy.id.clone(),
                ..Default::default()
            }),
        })
        .await
        .expect("the admin token creates a product");

    let person = format!("person:{}#alice", s.peer.base_url);
    let events = s
        .app
        .person(&s.token("avery").await)
        .audit()
        .list_audit_events(pb::ListAuditEventsRequest {
            actor: person.clone(),
            ..Default::default()
        })
        .await
        .expect("an approver reads the audit log")
        .into_inner()
        .events;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(
        (
            event.action.as_str(),
            event.role.as_str(),
            event.actor_name.as_str(),
            event.actor_email.as_str(),
            event.outcome.as_str()
        ),
        (
            "CreateProduct",
            "admin",
            "Alice Admin",
            "alice@example.com",
            "ok"
        )
    );
    let machine = s
        .app
        .audit()
        .list_audit_events(pb::ListAuditEventsRequest {
            role: "token:admin".into(),
            ..Default::default()
        })
        .await
        .expect("audit by role")
        .into_inner()
        .events;
    assert!(
        machine
            .iter()
            .any(|e| e.actor == "token:admin" && e.action == "CreateProduct"),
        "{machine:?}"
    );
    assert!(machine.iter().all(|e| e.actor != person), "{machine:?}");
}

#[tokio::test]
async fn who_am_i_says_the_person_their_roles_and_developer_id() {
    let s = sso().await;
    let me = s
        .app
        .person(&s.token("alice").await)
        .identity()
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .expect("who am i")
        .into_inner();
    assert_eq!(me.actor, format!("person:{}#alice", s.peer.base_url));
    assert_eq!(me.roles, ["admin", "developer"]);
    assert_eq!(
        (
            me.developer_id.as_str(),
            me.name.as_str(),
            me.email.as_str()
        ),
        ("alice", "Alice Admin", "alice@example.com")
    );
    let machine = s
        .app
        .person(dcr_testkit::registry::ADMIN_TOKEN)
        .identity()
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .expect("the admin token")
        .into_inner();
    assert_eq!(
        (machine.actor.as_str(), machine.roles.as_slice()),
        ("token:admin", ["token:admin".to_owned()].as_slice())
    );
}
