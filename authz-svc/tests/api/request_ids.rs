//! One request id across the services: a gateway's `x-request-id` on a Check comes back
//! in the answer and reaches the registry's log lines for the lookups made to answer it.

use dcr_proto::authz::v1 as pb;
use dcr_testkit::authz::authz_stack;
use dcr_testkit::registry::captured_logs;

#[tokio::test]
async fn a_gateways_request_id_reaches_the_registrys_logs() {
    let s = authz_stack(&[]).await;
    let mut request = tonic::Request::new(pb::CheckRequest {
        product_id: s.base.product_id.clone(),
        headers: [("authorization".to_owned(), "Bearer a.b.c".to_owned())].into(),
        required_scopes: Vec::new(),
        source_address: String::new(),
    });
    request
        .metadata_mut()
        .insert("x-request-id", "gw-check-4711".parse().expect("ascii"));
    let response = s.authz().check(request).await.expect("check");
    assert_eq!(
        response
            .metadata()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("gw-check-4711")
    );
    let logs = captured_logs();
    assert!(
        logs.lines().any(|l| l.contains("request_id=gw-check-4711")
            && l.contains("/dcr.registry.v1.DirectoryService/ResolveProduct")),
        "the registry's lookup ran under the gateway's id"
    );

    // Without one, a fresh id is made and returned.
    let response = s
        .authz()
        .check(pb::CheckRequest {
            product_id: s.base.product_id.clone(),
            headers: Default::default(),
            required_scopes: Vec::new(),
            source_address: String::new(),
        })
        .await
        .expect("check");
    let id = response
        .metadata()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("an id");
    assert_eq!(id.len(), 36, "{id}");
}
