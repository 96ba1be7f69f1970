//! Caller authentication and developer isolation.

use dcr_proto::registry::v1 as pb;
use tonic::Code;

use crate::helpers::{ADMIN_TOKEN, GATEWAY_TOKEN, PORTAL_TOKEN, SERVICE_TOKEN, spawn_app};
use crate::http_bridge::bridge_provider;
use crate::peers;

#[tokio::test]
async fn each_api_takes_only_its_callers_token() {
    let app = spawn_app().await;
    let list = pb::ListProvidersRequest::default();
    // No token or an unknown one: UNAUTHENTICATED; another role's token: PERMISSION_DENIED.
    for (token, code) in [
        ("", Code::Unauthenticated),
        ("wrong-token-0123456789", Code::Unauthenticated),
        (PORTAL_TOKEN, Code::PermissionDenied),
        (SERVICE_TOKEN, Code::PermissionDenied),
        (GATEWAY_TOKEN, Code::PermissionDenied),
    ] {
        let mut client =
            pb::provider_service_client::ProviderServiceClient::new(app.raw(token, None));
        let refused = client.list_providers(list.clone()).await.unwrap_err();
        assert_eq!(refused.code(), code, "token {token:?}");
        if code == Code::PermissionDenied {
            assert!(
                refused.message().contains("needs the admin token"),
                "{}",
                refused.message()
            );
        }
    }
    let mut admin =
        pb::provider_service_client::ProviderServiceClient::new(app.raw(ADMIN_TOKEN, None));
    admin.list_providers(list).await.expect("admin token works");

    let mut as_admin = pb::application_service_client::ApplicationServiceClient::new(
        app.raw(ADMIN_TOKEN, Some("dev")),
    );
    let refused = as_admin
        .list_applications(pb::ListApplicationsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let mut anonymous_dev =
        pb::application_service_client::ApplicationServiceClient::new(app.raw(PORTAL_TOKEN, None));
    let refused = anonymous_dev
        .list_applications(pb::ListApplicationsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("x-dcr-developer-id"));

    let mut directory =
        pb::directory_service_client::DirectoryServiceClient::new(app.raw(ADMIN_TOKEN, None));
    let refused = directory
        .resolve_client(pb::ResolveClientRequest {
            client_id: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let missing = app
        .directory()
        .resolve_client(pb::ResolveClientRequest {
            client_id: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound, "the service token works");
}

#[tokio::test]
async fn developers_cannot_see_or_touch_each_others_apps() {
    let bridge = peers::http_bridge().await;
    let app = spawn_app().await;
    let (_, strategy, product) = app
        .setup(
            bridge_provider("bridge", &bridge.base_url, (false, false, true)),
            true,
        )
        .await;
    let mine = app
        .create_app("alice", &strategy.id, "alice app")
        .await
        .application
        .expect("app");
    let id = mine.id.clone();
    let mut bob = app.portal("bob");

    not_found(
        bob.get_application(pb::GetApplicationRequest { id: id.clone() })
            .await,
    );
    not_found(
        bob.update_application(pb::UpdateApplicationRequest {
            application: Some(pb::Application {
                id: id.clone(),
                name: "mine now".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["name".into()],
            }),
        })
        .await,
    );
    not_found(
        bob.delete_application(pb::DeleteApplicationRequest {
            id: id.clone(),
            allow_missing: false,
        })
        .await,
    );
    not_found(
        bob.regenerate_secret(pb::RegenerateSecretRequest {
            application_id: id.clone(),
        })
        .await,
    );
    not_found(
        bob.add_credential(pb::AddCredentialRequest {
            application_id: id.clone(),
            expire_time: None,
        })
        .await,
    );
    not_found(
        bob.list_credentials(pb::ListCredentialsRequest {
            application_id: id.clone(),
        })
        .await,
    );
    not_found(
        bob.create_registration(pb::CreateRegistrationRequest {
            application_id: id.clone(),
            product_id: product.id.clone(),
            scopes: Vec::new(),
        })
        .await,
    );
    // allow_missing does not let bob delete alice's app either.
    bob.delete_application(pb::DeleteApplicationRequest {
        id: id.clone(),
        allow_missing: true,
    })
    .await
    .expect("no-op");
    let registration = app
        .portal("alice")
        .create_registration(pb::CreateRegistrationRequest {
            application_id: id.clone(),
            product_id: product.id,
            scopes: Vec::new(),
        })
        .await
        .expect("alice registers")
        .into_inner();
    not_found(
        bob.delete_registration(pb::DeleteRegistrationRequest {
            id: registration.id,
        })
        .await,
    );
    let bobs = bob
        .list_applications(pb::ListApplicationsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(bobs.applications.is_empty());
    let bobs = bob
        .list_registrations(pb::ListRegistrationsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(bobs.registrations.is_empty());

    let still = app
        .portal("alice")
        .get_application(pb::GetApplicationRequest { id })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(still.name, "alice app");
    assert_eq!(still.state, pb::ApplicationState::Active as i32);
}

fn not_found<T: std::fmt::Debug>(result: Result<T, tonic::Status>) {
    assert_eq!(result.unwrap_err().code(), Code::NotFound);
}
