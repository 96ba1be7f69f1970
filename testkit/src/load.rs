//! A small closed-loop load generator for benchmarks: `workers` tasks each send one call
//! at a time for `duration`; throughput and latency percentiles come out. Every
//! benchmark measures its baseline with this same generator in the same run.

use std::future::Future;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Report {
    pub calls: u64,
    pub errors: u64,
    pub rps: f64,
    pub p50: Duration,
    pub p99: Duration,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>9.0} rps  p50 {:>7.3} ms  p99 {:>7.3} ms  ({} calls, {} errors)",
            self.rps,
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3,
            self.calls,
            self.errors
        )
    }
}

/// Runs `call` from `workers` concurrent tasks for `duration` after `warmup`.
pub async fn drive<F, Fut, T, E>(
    workers: usize,
    warmup: Duration,
    duration: Duration,
    call: F,
) -> Report
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<T, E>> + Send,
    T: Send,
{
    let start = Instant::now() + warmup;
    let end = start + duration;
    let tasks: Vec<_> = (0..workers)
        .map(|worker| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                loop {
                    let began = Instant::now();
                    if began >= end {
                        break;
                    }
                    let ok = call(worker).await.is_ok();
                    if began >= start {
                        latencies.push(began.elapsed());
                        errors += u64::from(!ok);
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (latencies, e) = task.await.expect("worker");
        all.extend(latencies);
        errors += e;
    }
    all.sort_unstable();
    let pick = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Report {
        calls: all.len() as u64,
        errors,
        rps: all.len() as f64 / duration.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
    }
}

/// Like `drive`, but at a fixed offered rate (open loop), for latency at a given load.
pub async fn drive_at_rate<F, Fut, T, E>(rate: f64, duration: Duration, call: F) -> Report
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let mut handles = Vec::new();
    let mut n = 0usize;
    while start.elapsed() < duration {
        let due = start + interval.mul_f64(n as f64);
        tokio::time::sleep_until(due.into()).await;
        let call = call.clone();
        handles.push(tokio::spawn(async move {
            let began = Instant::now();
            let ok = call(n).await.is_ok();
            (began.elapsed(), ok)
        }));
        n += 1;
    }
    let mut all = Vec::with_capacity(handles.len());
    let mut errors = 0;
    for h in handles {
        let (latency, ok) = h.await.expect("call");
        all.push(latency);
        errors += u64::from(!ok);
    }
    all.sort_unstable();
    let pick = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Report {
        calls: all.len() as u64,
        errors,
        rps: all.len() as f64 / duration.as_secs_f64(),
        p50: pick(0.5),
        p99: pick(0.99),
    }
}

/// The baseline every benchmark divides by: a trivial tonic server (gRPC health Check,
/// which answers a constant), with TCP_NODELAY like dcr's servers. Returns its URL.
pub async fn trivial_tonic_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (reporter, health) = tonic_health::server::health_reporter();
    tokio::spawn(async move {
        let _keep = reporter;
        tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming(
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            )
            .await
    });
    url
}

/// `n` separate HTTP/2 connections to `url`.
pub async fn channels(url: &str, n: usize) -> Vec<tonic::transport::Channel> {
    let mut channels = Vec::with_capacity(n);
    for _ in 0..n {
        channels.push(
            tonic::transport::Channel::from_shared(url.to_owned())
                .expect("uri")
                .connect()
                .await
                .expect("connect"),
        );
    }
    channels
}

/// Closed-loop and half-rate open-loop reports for the baseline server.
pub async fn baseline(
    connections: usize,
    workers: usize,
    warmup: Duration,
    duration: Duration,
) -> (Report, Report) {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    let channels = channels(&trivial_tonic_server().await, connections).await;
    let call = move |w: usize| {
        let mut client = HealthClient::new(channels[w % channels.len()].clone());
        async move { client.check(HealthCheckRequest::default()).await }
    };
    let closed = drive(workers, warmup, duration, call.clone()).await;
    let open = drive_at_rate(closed.rps / 2.0, duration, call).await;
    (closed, open)
}
