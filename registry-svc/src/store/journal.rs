//! The journal's sealed form: JSON, so journals written before a field existed still
//! read (a missing field is its default).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use dcr_common::fingerprint::SecretFingerprint;
use dcr_common::oauth::ClientAuthMethod;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Journal;
use crate::domain::{Credential, IdpClientState};

#[derive(Serialize, Deserialize, Default)]
struct JournalDoc {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    idp_state: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    credential: Option<CredentialDoc>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auth_method: Option<ClientAuthMethod>,
}

/// A credential as journaled: what its row will hold, never the secret.
#[derive(Serialize, Deserialize)]
struct CredentialDoc {
    id: Uuid,
    application_id: Uuid,
    secret_hint: String,
    idp_ref: String,
    create_time: DateTime<Utc>,
    expire_time: Option<DateTime<Utc>>,
    /// Base64 of salt and digest.
    fingerprint: Option<(String, String)>,
}

pub(super) fn to_json(journal: &Journal) -> Vec<u8> {
    let doc = JournalDoc {
        client_id: journal.client_id.clone(),
        idp_state: journal.idp_state.0.clone(),
        credential: journal.credential.as_ref().map(|c| CredentialDoc {
            id: c.id,
            application_id: c.application_id,
            secret_hint: c.secret_hint.clone(),
            idp_ref: c.idp_ref.clone(),
            create_time: c.create_time,
            expire_time: c.expire_time,
            fingerprint: c
                .fingerprint
                .as_ref()
                .map(|f| (B64.encode(f.salt), B64.encode(f.digest))),
        }),
        deleted: journal.deleted,
        auth_method: journal.auth_method,
    };
    serde_json::to_vec(&doc).unwrap_or_default()
}

pub(super) fn from_json(plain: &[u8]) -> Result<Journal, String> {
    let doc: JournalDoc = serde_json::from_slice(plain).map_err(|e| e.to_string())?;
    let credential = match doc.credential {
        None => None,
        Some(c) => Some(Credential {
            id: c.id,
            application_id: c.application_id,
            secret_hint: c.secret_hint,
            idp_ref: c.idp_ref,
            create_time: c.create_time,
            expire_time: c.expire_time,
            revoke_time: None,
            fingerprint: match c.fingerprint {
                None => None,
                Some((salt, digest)) => {
                    let salt = B64.decode(salt).map_err(|e| e.to_string())?;
                    let digest = B64.decode(digest).map_err(|e| e.to_string())?;
                    Some(
                        SecretFingerprint::from_parts(&salt, &digest)
                            .ok_or("a fingerprint of the wrong length")?,
                    )
                }
            },
        }),
    };
    Ok(Journal {
        client_id: doc.client_id,
        idp_state: IdpClientState(doc.idp_state),
        credential,
        deleted: doc.deleted,
        auth_method: doc.auth_method,
    })
}
