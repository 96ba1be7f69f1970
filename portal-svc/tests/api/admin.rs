//! The admin console: staff only; approvers decide registrations in one click.

use dcr_proto::registry::v1 as pb;
use reqwest::StatusCode;

use crate::helpers::{Browser, create_app, stack};

#[tokio::test]
async fn an_approver_approves_a_pending_registration() {
    let s = stack().await;
    let mut dana = Browser::new(&s);
    dana.sign_in("dana").await;
    let (id, _) = create_app(&mut dana, &s, "Needs approval").await;
    assert!(
        dana.get(&format!("/apps/{id}"))
            .await
            .body
            .contains("pending approval")
    );

    let mut aaron = Browser::new(&s);
    let landed = aaron.sign_in("aaron").await;
    assert!(
        landed.body.contains("href=\"/admin\""),
        "an approver sees the admin link"
    );
    let overview = aaron.get("/admin").await;
    assert!(
        overview.body.contains("<strong>1</strong> waiting"),
        "{}",
        overview.body
    );
    let queue = aaron.get("/admin/registrations").await;
    assert!(queue.body.contains(&id), "{}", queue.body);
    let registration = queue
        .body
        .split("/admin/registrations/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let csrf = queue.input("csrf");
    let after = aaron
        .post(
            &format!("/admin/registrations/{registration}/approve"),
            &[("csrf", &csrf)],
        )
        .await;
    assert!(
        after.body.contains("Registration approved"),
        "{}",
        after.body
    );
    assert!(!after.body.contains(&id), "no longer in the pending queue");

    let status = s
        .registry
        .clients
        .products()
        .list_registrations(pb::ListProductRegistrationsRequest {
            product_id: s.product.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .registrations[0]
        .status;
    assert_eq!(status, pb::RegistrationStatus::Approved as i32);
    assert!(
        dana.get(&format!("/apps/{id}"))
            .await
            .body
            .contains(">approved")
    );
}

#[tokio::test]
async fn developers_are_kept_out_of_the_admin_console() {
    let s = stack().await;
    let mut dana = Browser::new(&s);
    dana.sign_in("dana").await;
    for url in ["/admin", "/admin/registrations"] {
        let page = dana.get(url).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{url}");
        assert!(page.body.contains("signed in as a developer"));
    }
    let csrf = dana.csrf("/apps").await;
    let page = dana
        .post(
            "/admin/registrations/00000000-0000-0000-0000-000000000000/approve",
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}
