//! The person's access token for a registry call: the stored sign-in's, refreshed with
//! its refresh token (RFC 6749 section 6) when it has expired or will within 30 seconds,
//! and saved again (the provider may rotate the refresh token). Refreshing happens under
//! the tokens file's lock, after reading the file again: another dcrctl may have just
//! done it, and presenting a rotated-away refresh token would end the sign-in.

use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;

use dcr_common::oidc::{self, ClientAuth, OidcError, audience_params};

use super::LoginError;
use super::flow::stored;
use super::provider;
use super::store::{Store, StoredLogin};

/// Refresh this many seconds before the access token expires: a call made just before
/// must not arrive just after.
pub const REFRESH_MARGIN: i64 = 30;

/// A usable sign-in: whose it is and the access token to send.
#[derive(Clone)]
pub struct PersonLogin {
    pub issuer: String,
    /// `Alice Admin <alice@example.com> (alice)`.
    pub who: String,
    token: SecretString,
}

impl std::fmt::Debug for PersonLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonLogin")
            .field("issuer", &self.issuer)
            .field("who", &self.who)
            .finish_non_exhaustive()
    }
}

impl PersonLogin {
    fn of(issuer: &str, login: &StoredLogin) -> Self {
        Self {
            issuer: issuer.to_owned(),
            who: login.who(),
            token: login.access_token.clone(),
        }
    }

    pub fn token(&self) -> &SecretString {
        &self.token
    }
}

fn fresh(login: &StoredLogin, now: i64) -> bool {
    login.expires_at.saturating_sub(REFRESH_MARGIN) > now
}

/// The sign-in at `issuer` (or the current one), refreshed if due; `None` when there is
/// none (or nowhere to keep one).
pub async fn current(
    issuer: Option<&str>,
    now: impl Fn() -> i64,
) -> Result<Option<PersonLogin>, LoginError> {
    let Ok(store) = Store::from_env() else {
        return Ok(None);
    };
    let logins = store.load()?;
    let Some((issuer, login)) = logins.pick(issuer) else {
        return Ok(None);
    };
    if fresh(login, now()) {
        return Ok(Some(PersonLogin::of(issuer, login)));
    }
    let issuer = issuer.to_owned();
    let _lock = store.lock()?;
    let mut logins = store.load()?;
    let Some(login) = logins.logins.get(&issuer).cloned() else {
        return Ok(None);
    };
    if fresh(&login, now()) {
        return Ok(Some(PersonLogin::of(&issuer, &login)));
    }
    let renewed = renew(&issuer, &login, now).await;
    let renewed = match renewed {
        Ok(renewed) => renewed,
        Err(e) => {
            if matches!(&e, LoginError::SignInNeeded(_)) {
                // Dead for good: forget it, so the next call says the same at once.
                logins.logins.remove(&issuer);
                store.save(&logins)?;
            }
            return Err(e);
        }
    };
    logins.logins.insert(issuer.clone(), renewed.clone());
    store.save(&logins)?;
    Ok(Some(PersonLogin::of(&issuer, &renewed)))
}

/// The refresh_token grant for `login`.
async fn renew(
    issuer: &str,
    login: &StoredLogin,
    now: impl Fn() -> i64,
) -> Result<StoredLogin, LoginError> {
    let who = login.who();
    let Some(refresh) = &login.refresh_token else {
        return Err(LoginError::SignInNeeded(format!(
            "your sign-in at {issuer} as {who} has expired, and there is no refresh token to renew it: run `dcrctl login`"
        )));
    };
    let audience = audience_params(login.audience.as_deref());
    let mut form: Vec<(&str, &str)> = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.expose_secret()),
    ];
    form.extend(audience.iter().map(|(k, v)| (*k, v.as_str())));
    let http = provider::client()?;
    let client = ClientAuth::Public {
        client_id: &login.client_id,
    };
    let answer = oidc::token_request(
        &http,
        &login.token_endpoint,
        provider::POLICY,
        client,
        "refresh",
        &form,
    )
    .await;
    match answer {
        Ok(tokens) => Ok(stored(tokens, &Value::Null, login.clone(), now())),
        Err(OidcError::Refused { error, .. }) if error == "invalid_grant" => {
            Err(LoginError::SignInNeeded(format!(
                "your sign-in at {issuer} as {who} has ended (the identity provider would not renew it: invalid_grant): run `dcrctl login`"
            )))
        }
        Err(e) => Err(e.into()),
    }
}
