//! The approvers' list of registrations: each names its application and the developer who
//! owns it, and filters by application and developer (with product and status).

use dcr_proto::registry::v1 as pb;
use dcr_testkit::emulator::{emulator, provider};
use tonic::Code;

use crate::helpers::spawn_app;

#[tokio::test]
async fn registrations_name_their_application_and_developer_and_filter_by_them() {
    let emu = emulator().await;
    let app = spawn_app().await;
    let (_, strategy, product) = app.setup(provider(&emu, "okta"), false).await;
    let mut made = Vec::new();
    for (developer, name) in [("dev-a", "Alpha"), ("dev-a", "Beta"), ("dev-b", "Gamma")] {
        let created = app.create_app(developer, &strategy.id, name).await;
        let id = created.application.expect("application").id;
        let registration = app
            .portal(developer)
            .create_registration(pb::CreateRegistrationRequest {
                application_id: id.clone(),
                product_id: product.id.clone(),
                scopes: Vec::new(),
            })
            .await
            .expect("register")
            .into_inner();
        // The answer to the developer names the application too.
        assert_eq!(
            (
                registration.application_name.as_str(),
                registration.developer_id.as_str()
            ),
            (name, developer)
        );
        made.push((id, registration.id));
    }

    let list = |request: pb::ListProductRegistrationsRequest| {
        let mut products = app.products();
        async move {
            products
                .list_registrations(request)
                .await
                .map(|r| r.into_inner().registrations)
        }
    };
    let all = list(pb::ListProductRegistrationsRequest {
        status: pb::RegistrationStatus::Pending as i32,
        ..Default::default()
    })
    .await
    .expect("list");
    let mut named: Vec<(String, String)> = all
        .iter()
        .map(|r| (r.application_name.clone(), r.developer_id.clone()))
        .collect();
    named.sort();
    assert_eq!(
        named,
        [
            ("Alpha".to_owned(), "dev-a".to_owned()),
            ("Beta".into(), "dev-a".into()),
            ("Gamma".into(), "dev-b".into())
        ]
    );

    let by_developer = list(pb::ListProductRegistrationsRequest {
        developer_id: "dev-a".into(),
        ..Default::default()
    })
    .await
    .expect("list");
    let mut names: Vec<&str> = by_developer
        .iter()
        .map(|r| r.application_name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["Alpha", "Beta"]);

    let by_app = list(pb::ListProductRegistrationsRequest {
        application_id: made[2].0.clone(),
        ..Default::default()
    })
    .await
    .expect("list");
    assert_eq!(
        by_app.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [made[2].1.as_str()]
    );

    // Filters combine: Gamma is not dev-a's; a developer without apps has none.
    let none = list(pb::ListProductRegistrationsRequest {
        application_id: made[2].0.clone(),
        developer_id: "dev-a".into(),
        ..Default::default()
    })
    .await
    .expect("list");
    assert!(none.is_empty());
    let nobody = list(pb::ListProductRegistrationsRequest {
        developer_id: "dev-nobody".into(),
        ..Default::default()
    })
    .await
    .expect("list");
    assert!(nobody.is_empty());

    // Approving answers with the names as well, and the status filter sees the change.
    let approved = app
        .products()
        .approve_registration(pb::ApproveRegistrationRequest {
            id: made[0].1.clone(),
        })
        .await
        .expect("approve")
        .into_inner();
    assert_eq!(
        (
            approved.application_name.as_str(),
            approved.developer_id.as_str()
        ),
        ("Alpha", "dev-a")
    );
    let pending_of_a = list(pb::ListProductRegistrationsRequest {
        developer_id: "dev-a".into(),
        status: pb::RegistrationStatus::Pending as i32,
        ..Default::default()
    })
    .await
    .expect("list");
    assert_eq!(
        pending_of_a
            .iter()
            .map(|r| r.application_name.as_str())
            .collect::<Vec<_>>(),
        ["Beta"]
    );

    // The developer's own list names their applications the same way.
    let own = app
        .portal("dev-b")
        .list_registrations(pb::ListRegistrationsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .registrations;
    assert_eq!(
        own.iter()
            .map(|r| (r.application_name.as_str(), r.developer_id.as_str()))
            .collect::<Vec<_>>(),
        [("Gamma", "dev-b")]
    );

    let bad = list(pb::ListProductRegistrationsRequest {
        application_id: "not-an-id".into(),
        ..Default::default()
    })
    .await
    .expect_err("a malformed id is refused");
    assert_eq!(bad.code(), Code::InvalidArgument);
}
