//! The tokens file: `$XDG_CONFIG_HOME/dcrctl/logins.json` (or `~/.config/dcrctl/...`),
//! one entry per identity provider (issuer), and which one was signed in at last. The
//! folder is 0700 and the file 0600, written atomically; a lock file next to it keeps two
//! dcrctl processes from refreshing the same sign-in at once (the provider rotates refresh
//! tokens, and a rotated-away token presented again ends the sign-in).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::LoginError;

/// The file's format; another one is refused rather than guessed at.
const VERSION: u32 = 1;

/// One person's sign-in at one identity provider.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredLogin {
    pub client_id: String,
    /// The audience asked for (`--audience`), sent again with every refresh.
    #[serde(default)]
    pub audience: Option<String>,
    pub token_endpoint: String,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    #[serde(with = "secret")]
    pub access_token: SecretString,
    #[serde(default, with = "secret_opt")]
    pub refresh_token: Option<SecretString>,
    /// Unix seconds (this machine's clock) when the access token expires.
    pub expires_at: i64,
    /// Who signed in, from the ID token: shown by `dcrctl login` and in messages.
    pub subject: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

impl std::fmt::Debug for StoredLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredLogin")
            .field("client_id", &self.client_id)
            .field("subject", &self.subject)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl StoredLogin {
    /// `Alice Admin <alice@example.com> (alice)`, or what of it the provider told.
    pub fn who(&self) -> String {
        match (&self.name, &self.email) {
            (Some(name), Some(email)) => format!("{name} <{email}> ({})", self.subject),
            (Some(name), None) => format!("{name} ({})", self.subject),
            (None, Some(email)) => format!("{email} ({})", self.subject),
            (None, None) => self.subject.clone(),
        }
    }
}

/// Tokens go into the file as plain strings (the file is the secret store); everywhere
/// else they stay `SecretString`s, so no `Debug` or log line shows them.
mod secret {
    use secrecy::{ExposeSecret as _, SecretString};
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &SecretString, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(value.expose_secret())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
        String::deserialize(d).map(SecretString::from)
    }
}

mod secret_opt {
    use secrecy::{ExposeSecret as _, SecretString};
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.serialize_some(v.expose_secret()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
        Option::<String>::deserialize(d).map(|v| v.map(SecretString::from))
    }
}

/// Everything in the file.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Logins {
    pub version: u32,
    /// The issuer signed in at last: the one used when none is named.
    #[serde(default)]
    pub current: Option<String>,
    #[serde(default)]
    pub logins: BTreeMap<String, StoredLogin>,
}

impl Logins {
    /// The sign-in at `issuer`, or at the current issuer when none is named.
    pub fn pick(&self, issuer: Option<&str>) -> Option<(&str, &StoredLogin)> {
        let issuer = issuer.or(self.current.as_deref())?;
        self.logins
            .get_key_value(issuer)
            .map(|(k, v)| (k.as_str(), v))
    }
}

/// Where the file lives, from the environment.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// `$XDG_CONFIG_HOME/dcrctl` when that is an absolute path (the XDG Base Directory
    /// spec ignores a relative one), else `$HOME/.config/dcrctl`.
    pub fn from_env() -> Result<Self, LoginError> {
        let xdg = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute());
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute());
        let base = xdg
            .or_else(|| home.map(|h| h.join(".config")))
            .ok_or_else(|| {
                LoginError::Store(
                    "cannot tell where to keep sign-ins: set HOME or XDG_CONFIG_HOME".into(),
                )
            })?;
        Ok(Self {
            dir: base.join("dcrctl"),
        })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("logins.json")
    }

    fn io(&self, what: &str, e: &std::io::Error) -> LoginError {
        LoginError::Store(format!("cannot {what} {}: {e}", self.path().display()))
    }

    /// The file's contents; empty when there is no file yet.
    pub fn load(&self) -> Result<Logins, LoginError> {
        let path = self.path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Logins {
                    version: VERSION,
                    ..Logins::default()
                });
            }
            Err(e) => return Err(self.io("read", &e)),
        };
        let logins: Logins = serde_json::from_slice(&bytes).map_err(|e| {
            LoginError::Store(format!(
                "{} is damaged ({e}): delete it and run `dcrctl login` again",
                path.display()
            ))
        })?;
        if logins.version != VERSION {
            return Err(LoginError::Store(format!(
                "{} has format version {}, this dcrctl reads {VERSION}: delete it and run `dcrctl login` again",
                path.display(),
                logins.version
            )));
        }
        Ok(logins)
    }

    /// Writes `logins` (the folder 0700, the file 0600, atomically).
    pub fn save(&self, logins: &Logins) -> Result<(), LoginError> {
        self.private_dir()?;
        let bytes = serde_json::to_vec_pretty(logins)
            .map_err(|e| LoginError::Store(format!("cannot encode the sign-ins: {e}")))?;
        dcr_common::private_files::write(&self.path(), &bytes).map_err(|e| self.io("write", &e))
    }

    /// The folder, made 0700 (also when it existed with a wider mode).
    fn private_dir(&self) -> Result<(), LoginError> {
        dcr_common::private_files::create_dir(&self.dir)
            .map_err(|e| self.io("create the folder of", &e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| self.io("protect the folder of", &e))?;
        }
        Ok(())
    }

    /// An exclusive lock over the file, held until the guard is dropped: reading, refreshing
    /// and writing a sign-in happen under it.
    pub fn lock(&self) -> Result<Locked, LoginError> {
        self.private_dir()?;
        let path = self.dir.join("logins.lock");
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .open(&path)
            .map_err(|e| self.io("open the lock of", &e))?;
        file.lock().map_err(|e| self.io("lock", &e))?;
        Ok(Locked(file))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Holds the lock file locked; dropping it (closing the file) unlocks.
#[derive(Debug)]
pub struct Locked(#[allow(dead_code)] File);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    fn sample() -> StoredLogin {
        StoredLogin {
            client_id: "dcrctl".into(),
            audience: Some("api://dcr".into()),
            token_endpoint: "http://127.0.0.1:1/sso/token".into(),
            revocation_endpoint: None,
            access_token: SecretString::from("access-secret"),
            refresh_token: Some(SecretString::from("refresh-secret")),
            expires_at: 100,
            subject: "alice".into(),
            name: Some("Alice Admin".into()),
            email: None,
        }
    }

    #[test]
    fn saved_private_read_back_and_never_in_debug() {
        let dir = std::env::temp_dir().join(format!("dcrctl-store-{}", std::process::id()));
        let store = Store {
            dir: dir.join("dcrctl"),
        };
        let mut logins = store.load().unwrap();
        assert!(logins.pick(None).is_none());
        logins.logins.insert("https://idp".into(), sample());
        logins.current = Some("https://idp".into());
        store.save(&logins).unwrap();
        let back = store.load().unwrap();
        let (issuer, login) = back.pick(None).unwrap();
        assert_eq!(issuer, "https://idp");
        assert_eq!(login.access_token.expose_secret(), "access-secret");
        assert_eq!(login.who(), "Alice Admin (alice)");
        assert!(back.pick(Some("https://other")).is_none());
        let shown = format!("{back:?}");
        assert!(!shown.contains("secret"), "{shown}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!((mode(store.dir()), mode(&store.path())), (0o700, 0o600));
        }
        let _lock = store.lock().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
