//! Products named by gateway routes: the registry resolves a product by its name, and
//! authz-svc caches the name and forgets it when products change (a rename frees it).

use authz_svc::check::CheckInput;
use authz_svc::decision::Decision;
use dcr_proto::registry::v1 as reg;
use dcr_testkit::authz::{AuthzStack, authz_stack};

const AUDIENCE: &str = "https://api.example.com";

async fn check_named(s: &AuthzStack, name: &str, token: &str) -> Decision {
    let headers = [("authorization".to_owned(), format!("Bearer {token}"))].into();
    let input = CheckInput {
        product_id: "",
        product_name: name,
        headers: &headers,
        required_scopes: &[],
        source: "",
    };
    s.state.checker.check(&input).await
}

#[tokio::test]
async fn a_product_is_found_by_name_until_it_is_renamed() {
    let s = authz_stack(&[]).await;
    let (_, client_id, secret) = s.registered_app("dev-1", "named").await;
    let token = s.idp_token(&client_id, &secret, AUDIENCE).await;
    let registry = &s.base.registry;
    let product = registry
        .products()
        .get_product(reg::GetProductRequest {
            id: s.base.product_id.clone(),
        })
        .await
        .expect("product")
        .into_inner();

    // The registry: by name, not by both, NOT_FOUND for a name nobody has.
    let resolve = |product_id: &str, name: &str| {
        let mut directory = registry.directory();
        let request = reg::ResolveProductRequest {
            product_id: product_id.to_owned(),
            name: name.to_owned(),
        };
        async move { directory.resolve_product(request).await }
    };
    let found = resolve("", &product.name).await.expect("by name");
    assert_eq!(found.into_inner().product.expect("product").id, product.id);
    let both = resolve(&product.id, &product.name).await.unwrap_err();
    assert_eq!(both.code(), tonic::Code::InvalidArgument);
    let unknown = resolve("", "no-such-product").await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);

    // authz-svc: a route naming the product is checked like one giving its id.
    let allowed = check_named(&s, &product.name, &token).await;
    assert!(allowed.is_allow(), "{allowed:?}");
    let unknown = check_named(&s, "no-such-product", &token).await;
    assert_eq!(unknown.reason(), "unknown_product");

    // A rename reaches authz-svc's cache through the change stream: the old name is gone.
    registry
        .products()
        .update_product(reg::UpdateProductRequest {
            product: Some(reg::ApiProduct {
                id: product.id.clone(),
                name: "renamed-product".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["name".into()],
            }),
        })
        .await
        .expect("rename");
    let start = std::time::Instant::now();
    let mut old = check_named(&s, &product.name, &token).await;
    while old.is_allow() && start.elapsed() < std::time::Duration::from_secs(2) {
        tokio::task::yield_now().await;
        old = check_named(&s, &product.name, &token).await;
    }
    assert_eq!(old.reason(), "unknown_product");
    let renamed = check_named(&s, "renamed-product", &token).await;
    assert!(renamed.is_allow(), "{renamed:?}");
}
