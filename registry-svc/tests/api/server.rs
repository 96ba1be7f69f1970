//! Health, reflection (v1 and v1alpha) and graceful shutdown.

use tokio_stream::StreamExt as _;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::helpers::spawn_app;

#[tokio::test]
async fn health_reflection_and_shutdown() {
    let app = spawn_app().await;
    let mut health = HealthClient::new(app.channel.clone());
    for service in [
        "",
        "dcr.registry.v1.ApplicationService",
        "dcr.registry.v1.DirectoryService",
    ] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("check")
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }

    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(app.channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflect")
        .into_inner();
    let Some(Ok(response)) = responses.next().await else {
        panic!("no reflection answer")
    };
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected answer")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "dcr.registry.v1.ProviderService",
        "dcr.registry.v1.StrategyService",
        "dcr.registry.v1.ProductService",
        "dcr.registry.v1.ApplicationService",
        "dcr.registry.v1.DirectoryService",
        "dcr.registry.v1.AuditService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} is reflected: {names:?}"
        );
    }
    {
        use tonic_reflection::pb::v1alpha::ServerReflectionRequest as AlphaMessage;
        use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient as AlphaClient;
        use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest as AlphaRequest;
        let mut alpha = AlphaClient::new(app.channel.clone());
        let request = AlphaMessage {
            host: String::new(),
            message_request: Some(AlphaRequest::ListServices(String::new())),
        };
        let mut responses = alpha
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .expect("reflect v1alpha")
            .into_inner();
        assert!(matches!(responses.next().await, Some(Ok(_))));
    }

    // Graceful stop: serve returns Ok once the shutdown signal fires.
    app.stop().await;
}
