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

/// How much of a service's message dcrctl prints: a message that repeats a huge input
/// (or a misbehaving service) must not flood the terminal.
pub const MAX_SERVER_MESSAGE: usize = 2_000;

/// How much of the description of the call (`what`, which quotes the user's input) is
/// printed; each input in it is cut to 64 characters already (see [`quote`]).
const MAX_WHAT: usize = 300;

/// A user's input as a message repeats it: quoted, at most 64 characters, control
/// characters escaped.
pub fn quote(input: &str) -> String {
    format!("\"{}\"", dcr_common::text::echo(input))
}

/// The registry's messages name the gRPC method to use (they serve every client);
/// dcrctl names its own command for it.
const VERBS: &[(&str, &str)] = &[
    ("CreateProvider", "dcrctl providers create"),
    ("GetProvider", "dcrctl providers get"),
    ("ListProviders", "dcrctl providers list"),
    ("UpdateProvider", "dcrctl providers update"),
    ("DeleteProvider", "dcrctl providers delete"),
    ("VerifyProvider", "dcrctl providers verify"),
    ("CreateStrategy", "dcrctl strategies create"),
    ("GetStrategy", "dcrctl strategies get"),
    ("ListStrategies", "dcrctl strategies list"),
    ("UpdateStrategy", "dcrctl strategies update"),
    ("DeleteStrategy", "dcrctl strategies delete"),
    ("CreateProduct", "dcrctl products create"),
    ("GetProduct", "dcrctl products get"),
    ("ListProducts", "dcrctl products list"),
    ("UpdateProduct", "dcrctl products update"),
    ("DeleteProduct", "dcrctl products delete"),
    ("ApproveRegistration", "dcrctl registrations approve"),
    ("RejectRegistration", "dcrctl registrations reject"),
    ("CreateRegistration", "dcrctl registrations create"),
    ("DeleteRegistration", "dcrctl registrations delete"),
    ("ListRegistrations", "dcrctl registrations list"),
    ("CreateApplication", "dcrctl apps create"),
    ("GetApplication", "dcrctl apps get"),
    ("ListApplications", "dcrctl apps list"),
    ("UpdateApplication", "dcrctl apps update"),
    ("DeleteApplication", "dcrctl apps delete"),
    ("RegenerateSecret", "dcrctl credentials regenerate"),
    ("AddCredential", "dcrctl credentials add"),
    ("RevokeCredential", "dcrctl credentials revoke"),
    ("ListCredentials", "dcrctl credentials list"),
    ("ListAuditEvents", "dcrctl audit list"),
    ("IssueToken", "dcrctl token"),
    ("WhoAmI", "dcrctl whoami"),
];

/// `message` with each gRPC method name that has a dcrctl command replaced by that
/// command in backquotes; other words are left alone.
pub fn with_dcrctl_verbs(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        match VERBS.iter().find(|(method, _)| method == word) {
            Some((_, verb)) => {
                out.push('`');
                out.push_str(verb);
                out.push('`');
            }
            None => out.push_str(word),
        }
        word.clear();
    };
    for ch in message.chars() {
        if ch.is_ascii_alphanumeric() || ch == '_' {
            word.push(ch);
        } else {
            flush(&mut word, &mut out);
            out.push(ch);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// A service's message as dcrctl prints it: cut to [`MAX_SERVER_MESSAGE`], methods
/// named as dcrctl commands.
fn server_message(status: &tonic::Status) -> String {
    with_dcrctl_verbs(&dcr_common::text::excerpt(
        status.message(),
        MAX_SERVER_MESSAGE,
    ))
}

/// A gRPC call that failed, with what the user asked for and whose credentials it used.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {}", dcr_common::text::excerpt(status.message(), MAX_SERVER_MESSAGE))]
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

/// The value of `what` when it only names a resource, `kind "value"` (not an action such
/// as `create app "shop"`).
fn named_value(what: &str) -> Option<&str> {
    let (kind, quoted) = what.split_once(' ')?;
    let value = quoted.strip_prefix('"')?.strip_suffix('"')?;
    let plain = !kind.is_empty() && !value.is_empty() && !value.contains('"');
    plain.then_some(value)
}

/// `what` and the service's `body`, without saying a thing twice: when `what` only names
/// a resource that the service's message names too (`registration "X"` and "registration
/// X not found"), the message alone.
fn about(what: &str, body: &str) -> String {
    match named_value(what) {
        Some(value) if body.contains(value) => format!("error: {body}"),
        _ => format!("error: {what}: {body}"),
    }
}

/// The service's message if it says what `outcome` says already ("not found"), else
/// `outcome` with the message after it.
fn saying(outcome: &str, message: &str) -> String {
    if message.is_empty() {
        outcome.to_owned()
    } else if message.to_ascii_lowercase().contains(outcome) {
        message.to_owned()
    } else {
        format!("{outcome}: {message}")
    }
}

/// A call made as a signed-in person was refused: for lack of a role (their groups decide),
/// or because the registry does not accept their token.
fn refused_person(
    what: &str,
    service: &str,
    url: &str,
    message: &str,
    person: &crate::login::PersonLogin,
    code: Code,
) -> String {
    let who = &person.who;
    let issuer = &person.issuer;
    if code == Code::PermissionDenied {
        format!(
            "error: {what}: {service} at {url} refused {who} ({message}). Roles come from your \
             groups at {issuer}: ask for the group that grants the role, or use a token made \
             for this (--admin-token, DCR_ADMIN_TOKEN)"
        )
    } else {
        format!(
            "error: {what}: {service} at {url} did not accept the sign-in of {who} at {issuer} \
             ({message}): run `dcrctl login` again; if that does not help, {service} trusts \
             another identity provider or audience (its DCR_IDENTITY_ISSUER and \
             DCR_IDENTITY_AUDIENCE)"
        )
    }
}

fn explain(failed: &CallFailed, connection: &ConnectionArgs) -> String {
    let CallFailed { role, what, status } = failed;
    let what = &dcr_common::text::excerpt(what, MAX_WHAT);
    let service = role.service();
    let url = connection.url_for(*role);
    let message = &server_message(status);
    if let Some(person) = connection.uses_login(*role)
        && matches!(
            status.code(),
            Code::Unauthenticated | Code::PermissionDenied
        )
    {
        return refused_person(what, service, url, message, person, status.code());
    }
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
                    .map(|v| {
                        format!(
                            "  {}: {}",
                            dcr_common::text::echo(&v.field),
                            with_dcrctl_verbs(&dcr_common::text::excerpt(
                                &v.description,
                                MAX_SERVER_MESSAGE
                            ))
                        )
                    })
                    .collect();
                format!("error: {what}: invalid request:\n{}", lines.join("\n"))
            }
        }
        Code::NotFound => about(what, &saying("not found", message)),
        Code::AlreadyExists => about(what, &saying("already exists", message)),
        // The registry says why (and what to do): that is the whole message.
        Code::FailedPrecondition if !message.is_empty() => about(what, message),
        Code::FailedPrecondition => format!("error: {what}: not possible now"),
        code => format!("error: {what}: {service} answered {code:?}: {message}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn methods_become_dcrctl_commands() {
        assert_eq!(
            with_dcrctl_verbs("use RegenerateSecret to replace it, or DeleteApplication."),
            "use `dcrctl credentials regenerate` to replace it, or `dcrctl apps delete`."
        );
        // Only whole words: a longer identifier is not a method.
        assert_eq!(
            with_dcrctl_verbs("RegenerateSecrets x"),
            "RegenerateSecrets x"
        );
    }

    #[test]
    fn nothing_is_said_twice() {
        assert_eq!(
            about(
                "registration \"r1\"",
                &saying("not found", "registration r1 not found")
            ),
            "error: registration r1 not found"
        );
        assert_eq!(
            about(
                "create app \"shop\"",
                &saying(
                    "already exists",
                    "application named \"shop\" already exists"
                )
            ),
            "error: create app \"shop\": application named \"shop\" already exists"
        );
        assert_eq!(
            about("app \"shop\"", &saying("not found", "")),
            "error: app \"shop\": not found"
        );
    }

    #[test]
    fn quotes_cut_long_input() {
        let quoted = quote(&"x".repeat(130_000));
        assert!(quoted.len() < 120, "{quoted}");
        assert!(
            quoted.ends_with("... (129936 more characters)\""),
            "{quoted}"
        );
    }
}
