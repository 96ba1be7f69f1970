//! Retries for vendor management APIs: 429 and 5xx answers are retried with exponential
//! backoff and full jitter, honouring `Retry-After` (RFC 9110 section 10.2.3) or the
//! vendors' rate-limit reset headers, within a bounded number of attempts and wait.
//!
//! Only what cannot do harm twice is retried after the IdP may have acted: reads,
//! deletes and updates that set fields (`Idempotent`). A create or a secret rotation
//! (`Once`) is retried only when the IdP certainly did not act on it: a 429 (refused
//! before processing) or a connection that never opened. Anything else ambiguous is left
//! to the reconciler, which resolves it with dcr's marker.

use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};

use super::IdpError;
use super::http::{Answer, error_for, send};

/// Whether a request may be sent again after an unclear outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    Idempotent,
    Once,
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited for: the call fails saying when.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Full jitter: a random wait up to the exponential bound of this attempt.
    fn backoff(&self, attempt: u32) -> Duration {
        let bound = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.max_delay);
        bound.mul_f64(rand::random::<f64>())
    }
}

/// How long the answer asks to wait: `Retry-After` (seconds or an HTTP date), else, for
/// a 429, the rate-limit reset time (Auth0 `x-ratelimit-reset`, Okta
/// `x-rate-limit-reset`: epoch seconds; vendors send these on every answer, where they
/// describe the next window, not a reason to wait).
pub(super) fn requested_wait(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(value) = text("retry-after") {
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        if let Ok(date) = chrono::DateTime::parse_from_rfc2822(value) {
            let wait = date.with_timezone(&chrono::Utc) - now;
            return Some(wait.to_std().unwrap_or(Duration::ZERO));
        }
    }
    if status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    for name in ["x-ratelimit-reset", "x-rate-limit-reset"] {
        if let Some(reset) = text(name).and_then(|v| v.parse::<i64>().ok()) {
            let wait = reset - now.timestamp();
            return Some(Duration::from_secs(u64::try_from(wait).unwrap_or(0)));
        }
    }
    None
}

fn retryable_status(status: StatusCode, repeat: Repeat) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || (repeat == Repeat::Idempotent && status.is_server_error())
}

/// Sends the request `build` makes, again when the answer or failure allows, and returns
/// the last answer (success or not) for the caller to judge.
pub(super) async fn send_retrying(
    build: impl Fn() -> RequestBuilder,
    what: &str,
    repeat: Repeat,
    policy: RetryPolicy,
) -> Result<Answer, IdpError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let last = attempt >= policy.attempts;
        let started = std::time::Instant::now();
        let sent = send(build(), what).await;
        record(what, started, &sent);
        let wait = match sent {
            Ok(answer) if !last && retryable_status(answer.status, repeat) => {
                let now = chrono::Utc::now();
                match requested_wait(answer.status, &answer.headers, now) {
                    Some(wait) if wait > policy.max_retry_after => {
                        return Err(too_long(what, answer.status, wait, now, policy));
                    }
                    Some(wait) => wait + policy.backoff(0) / 4,
                    None => policy.backoff(attempt),
                }
            }
            Ok(answer) => return Ok(answer),
            Err(IdpError::Unreachable(_)) if !last => policy.backoff(attempt),
            Err(IdpError::Ambiguous(_)) if !last && repeat == Repeat::Idempotent => {
                policy.backoff(attempt)
            }
            Err(error) => return Err(error),
        };
        tracing::info!(
            what,
            attempt,
            wait_ms = wait.as_millis() as u64,
            "retrying an identity provider call"
        );
        tokio::time::sleep(wait).await;
    }
}

/// A wait longer than dcr keeps a request open for: the call fails saying until when. A
/// 429 was refused before any processing, so that failure is certain (`RateLimited`); a
/// 5xx asking to come back later may have done something (`Ambiguous`).
fn too_long(
    what: &str,
    status: StatusCode,
    wait: Duration,
    now: chrono::DateTime<chrono::Utc>,
    policy: RetryPolicy,
) -> IdpError {
    let until = chrono::TimeDelta::from_std(wait)
        .ok()
        .and_then(|wait| now.checked_add_signed(wait))
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "much later".into());
    let detail = format!(
        "{what}: the identity provider asks to wait {} s, until {until}; dcr waits at most {} s,          so try again after that time",
        wait.as_secs(),
        policy.max_retry_after.as_secs()
    );
    if status == StatusCode::TOO_MANY_REQUESTS {
        IdpError::RateLimited(detail)
    } else {
        IdpError::Ambiguous(detail)
    }
}

/// `dcr_idp_request_duration_seconds{call}` and `dcr_idp_requests_total{call, outcome}`
/// (outcome: the status class, 429, or how the connection failed).
fn record(what: &str, started: std::time::Instant, sent: &Result<Answer, IdpError>) {
    let call = what.to_owned();
    metrics::histogram!("dcr_idp_request_duration_seconds", "call" => call.clone())
        .record(started.elapsed().as_secs_f64());
    let outcome = match sent {
        Ok(answer) if answer.status == StatusCode::TOO_MANY_REQUESTS => "429".to_owned(),
        Ok(answer) => format!("{}xx", answer.status.as_u16() / 100),
        Err(IdpError::Unreachable(_)) => "unreachable".to_owned(),
        Err(_) => "ambiguous".to_owned(),
    };
    metrics::counter!("dcr_idp_requests_total", "call" => call, "outcome" => outcome).increment(1);
}

/// `send_retrying`, then a non-2xx answer becomes the matching error.
pub(super) async fn call(
    build: impl Fn() -> RequestBuilder,
    what: &str,
    repeat: Repeat,
    policy: RetryPolicy,
) -> Result<Answer, IdpError> {
    let answer = send_retrying(build, what, repeat, policy).await?;
    if answer.status.is_success() {
        Ok(answer)
    } else {
        Err(error_for(&answer, what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = HeaderValue::from_str(value) {
                map.insert(*name, value);
            }
        }
        map
    }

    fn at(seconds: i64) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default()
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date_and_vendor_reset_headers() {
        let now = at(1_700_000_000);
        let limited = StatusCode::TOO_MANY_REQUESTS;
        assert_eq!(
            requested_wait(limited, &headers(&[("retry-after", "3")]), now),
            Some(Duration::from_secs(3))
        );
        let date = at(1_700_000_007).to_rfc2822();
        assert_eq!(
            requested_wait(
                StatusCode::SERVICE_UNAVAILABLE,
                &headers(&[("retry-after", &date)]),
                now
            ),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            requested_wait(
                limited,
                &headers(&[("x-ratelimit-reset", "1700000002")]),
                now
            ),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            requested_wait(
                limited,
                &headers(&[("x-rate-limit-reset", "1699999990")]),
                now
            ),
            Some(Duration::ZERO)
        );
        assert_eq!(requested_wait(limited, &headers(&[]), now), None);
        assert_eq!(
            requested_wait(
                StatusCode::SERVICE_UNAVAILABLE,
                &headers(&[("x-rate-limit-reset", "1700000060")]),
                now
            ),
            None,
            "reset headers mean nothing on a 503"
        );
    }

    #[test]
    fn only_429_is_retried_for_requests_that_must_not_repeat() {
        assert!(retryable_status(
            StatusCode::TOO_MANY_REQUESTS,
            Repeat::Once
        ));
        assert!(!retryable_status(
            StatusCode::SERVICE_UNAVAILABLE,
            Repeat::Once
        ));
        assert!(retryable_status(
            StatusCode::SERVICE_UNAVAILABLE,
            Repeat::Idempotent
        ));
        assert!(!retryable_status(
            StatusCode::BAD_REQUEST,
            Repeat::Idempotent
        ));
    }

    #[test]
    fn backoff_stays_within_its_bounds() {
        let policy = RetryPolicy::default();
        for attempt in 0..10 {
            assert!(policy.backoff(attempt) <= policy.max_delay);
        }
    }
}
