//! The dev stack's keys and tokens: made once, kept in `<data dir>/secrets.json` (0600), so
//! a second start can still open what the first sealed and the printed tokens stay valid.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::Rng as _;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct DevSecrets {
    /// base64 of 32 bytes: DCR_MASTER_KEY.
    pub master_key: String,
    /// base64 of 32 bytes: DCR_SESSION_SECRET.
    pub session_secret: String,
    pub admin_token: String,
    pub portal_token: String,
    pub service_token: String,
    /// Added after the first data dirs were made: an older secrets.json gets one on load.
    #[serde(default)]
    pub gateway_token: String,
}

impl std::fmt::Debug for DevSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevSecrets").finish_non_exhaustive()
    }
}

fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    bytes
}

fn random_token(prefix: &str) -> String {
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes());
    format!("{prefix}-{token}")
}

pub fn decode_key(value: &str, what: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = STANDARD
        .decode(value)
        .with_context(|| format!("{what} is not base64"))?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("{what} is not 32 bytes"))
}

impl DevSecrets {
    fn generate() -> Self {
        Self {
            master_key: STANDARD.encode(random_bytes()),
            session_secret: STANDARD.encode(random_bytes()),
            admin_token: random_token("dev-admin"),
            portal_token: random_token("dev-portal"),
            service_token: random_token("dev-service"),
            gateway_token: random_token("dev-gateway"),
        }
    }

    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("secrets.json")
    }

    /// Reads the data dir's secrets, or makes and saves new ones on the first start.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        let path = Self::path(data_dir);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let mut secrets: Self = serde_json::from_slice(&bytes).with_context(|| {
                    format!(
                        "{} is damaged; move the data dir away to start afresh",
                        path.display()
                    )
                })?;
                decode_key(&secrets.master_key, "master_key")?;
                decode_key(&secrets.session_secret, "session_secret")?;
                if secrets.gateway_token.is_empty() {
                    secrets.gateway_token = random_token("dev-gateway");
                    write_private(&path, &serde_json::to_vec_pretty(&secrets)?)?;
                }
                Ok(secrets)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let secrets = Self::generate();
                write_private(&path, &serde_json::to_vec_pretty(&secrets)?)?;
                Ok(secrets)
            }
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
}

/// Writes a file only its owner can read, atomically.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    dcr_common::private_files::write(path, bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Creates the data dir (0700) when it is missing.
pub fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    dcr_common::private_files::create_dir(dir)
        .with_context(|| format!("cannot create the data dir {}", dir.display()))
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_made_once_and_read_back() {
        let dir = std::env::temp_dir().join(format!("dcr-dev-secrets-{}", std::process::id()));
        ensure_dir(&dir).expect("dir");
        let first = DevSecrets::load_or_create(&dir).expect("create");
        let second = DevSecrets::load_or_create(&dir).expect("read");
        assert_eq!(first.admin_token, second.admin_token);
        assert_eq!(first.master_key, second.master_key);
        assert_ne!(first.admin_token, first.portal_token);
        assert_eq!(first.gateway_token, second.gateway_token);
        assert_ne!(first.gateway_token, first.service_token);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(DevSecrets::path(&dir))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
