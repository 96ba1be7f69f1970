//! Failures turned into messages an operator can act on, and the exit code for each:
//! 0 ok, 1 a call failed or a check was denied, 2 usage (clap's own errors, a missing or
//! invalid flag, an output format the command does not offer).

use std::process::ExitCode;

use tonic::Code;
use tonic_types::StatusExt as _;

use crate::connection::{ConnectionArgs, ConnectionError, Role};

/// A command line that cannot work as given; exits 2 like clap's own usage errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// A gRPC call that failed, with what the user asked for and whose credentials it used.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {}", status.message())]
pub struct CallFailed {
    pub role: Role,
    /// What the call was about, for people: "provider \"okta\"", "create application".
    pub what: String,
    pub status: tonic::Status,
}

/// `.on(role, what)` on a tonic result: the response body, or a [`CallFailed`].
pub trait CallExt<T> {
    fn on(self, role: Role, what: impl Into<String>) -> Result<T, CallFailed>;
}

impl<T> CallExt<T> for Result<tonic::Response<T>, tonic::Status> {
    fn on(self, role: Role, what: impl Into<String>) -> Result<T, CallFailed> {
        self.map(tonic::Response::into_inner)
            .map_err(|status| CallFailed {
                role,
                what: what.into(),
                status,
            })
    }
}

/// The message to print (on stderr) and the exit code for an error of any command.
pub fn report(error: &anyhow::Error, connection: &ConnectionArgs) -> (String, ExitCode) {
    if let Some(failed) = error.downcast_ref::<CallFailed>() {
        return (explain(failed, connection), ExitCode::FAILURE);
    }
    if error.downcast_ref::<UsageError>().is_some()
        || error.downcast_ref::<ConnectionError>().is_some()
    {
        return (format!("error: {error:#}"), ExitCode::from(2));
    }
    // Errors from elsewhere (the declarative module) may carry a gRPC status inside:
    // they all use the admin API.
    if let Some(status) = error
        .chain()
        .find_map(|e| e.downcast_ref::<tonic::Status>())
    {
        let failed = CallFailed {
            role: Role::Admin,
            what: error.to_string(),
            status: status.clone(),
        };
        return (explain(&failed, connection), ExitCode::FAILURE);
    }
    (format!("error: {error:#}"), ExitCode::FAILURE)
}

/// What to try when a service cannot be reached, from the cause.
fn connection_hint(url: &str, cause: &str, role: &Role) -> String {
    // `cause` is only searched, never repeated: the caller prints it.
    let lower = cause.to_ascii_lowercase();
    if lower.contains("not valid for name") || lower.contains("notvalidforname") {
        return format!(
            "The service's certificate does not name the host in {url}: use a host name it was \
             made for, or make it with that name (dcrctl certs --name HOST)."
        );
    }
    if lower.contains("expired") {
        return "The service's certificate has expired (or this machine's clock is wrong): \
                renew it; the services pick up a replaced file without a restart."
            .to_owned();
    }
    if lower.contains("unknownissuer") || lower.contains("unknown issuer") {
        return "The service's certificate is not signed by a CA dcrctl trusts: set \
                DCR_TLS_CA_FILE to the CA file that signed it (dcrctl dev: .dcr/tls/ca.pem)."
            .to_owned();
    }
    if lower.contains("certificaterequired") || lower.contains("certificate required") {
        return "The service requires a client certificate (mTLS): set DCR_TLS_CLIENT_CERT_FILE \
                and DCR_TLS_CLIENT_KEY_FILE."
            .to_owned();
    }
    if url.starts_with("http://") && !lower.contains("connection refused") {
        return format!(
            "If the service runs TLS, use https:// in --{} ({}).",
            role.url_flag(),
            role.url_env()
        );
    }
    format!(
        "Is the stack running? Start it with `dcrctl dev`, or point --{} ({}) at it.",
        role.url_flag(),
        role.url_env()
    )
}

fn explain(failed: &CallFailed, connection: &ConnectionArgs) -> String {
    let CallFailed { role, what, status } = failed;
    let service = role.service();
    let url = connection.url_for(*role);
    let message = status.message();
    match status.code() {
        Code::Unauthenticated | Code::PermissionDenied => match role.credential() {
            Some(credential) => format!(
                "error: {what}: {service} at {url} refused {} ({message}): check --{} or {}, \
                 which must match the {} {service} runs with",
                credential.what, credential.flag, credential.env, credential.env
            ),
            None => format!(
                "error: {what}: {service} at {url} refused the client credentials ({message}): \
                 check --client-id and --client-secret (DCR_CLIENT_ID, DCR_CLIENT_SECRET)"
            ),
        },
        // A broken connection (a TLS listener spoken to in plaintext) comes as Unknown,
        // Internal or Cancelled, with the transport or HTTP/2 error as its source; a
        // status the service sent has no source.
        code if code == Code::Unavailable || std::error::Error::source(status).is_some() => {
            // tonic says "transport error"; the cause (a refused connection, an unknown
            // certificate issuer, a TLS listener spoken to in plaintext) is in the chain.
            let cause = dcr_common::tls::status_cause(status);
            format!(
                "error: {what}: cannot reach {service} at {url} ({cause}).\n{}",
                connection_hint(url, &cause, role)
            )
        }
        Code::DeadlineExceeded => format!(
            "error: {what}: {service} at {url} did not answer in time ({message}); \
             is it overloaded or waiting on its identity provider?"
        ),
        Code::InvalidArgument => {
            let violations = status
                .get_details_bad_request()
                .map(|b| b.field_violations)
                .unwrap_or_default();
            if violations.is_empty() {
                format!("error: {what}: invalid request: {message}")
            } else {
                let lines: Vec<String> = violations
                    .iter()
                    .map(|v| format!("  {}: {}", v.field, v.description))
                    .collect();
                format!("error: {what}: invalid request:\n{}", lines.join("\n"))
            }
        }
        Code::NotFound => format!("error: {what} not found ({message})"),
        Code::AlreadyExists => format!("error: {what}: already exists ({message})"),
        Code::FailedPrecondition => format!("error: {what}: not possible now: {message}"),
        code => format!("error: {what}: {service} answered {code:?}: {message}"),
    }
}
