//! Signed-in people's sessions, in portal-svc's memory: the person, their tokens, a CSRF
//! token, and what one page leaves for the next (notices, a secret to show once).
//!
//! A session ends after `idle` without a page view, `max` after signing in, when its
//! access token has expired and cannot be refreshed, or at sign-out. Being in memory, a
//! restart signs everyone out (they sign in again with one click at the identity
//! provider); several portal replicas need sticky sessions.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dashmap::DashMap;
use dcr_common::clock::SharedClock;
use rand::Rng as _;
use secrecy::SecretString;

/// A session's id: 256 random bits, only ever in the sealed session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId([u8; 32]);

impl SessionId {
    fn new() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill(&mut bytes);
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }
}

/// Who is signed in, as the registry sees them (IdentityService/WhoAmI).
#[derive(Debug, Clone)]
pub struct Person {
    pub subject: String,
    pub name: String,
    pub email: String,
    pub developer_id: String,
    /// Most powerful first: "admin", "provider-admin", "approver", "viewer", "developer".
    pub roles: Vec<String>,
}

impl Person {
    pub fn has(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// May see the admin console at all.
    pub fn is_staff(&self) -> bool {
        ["admin", "provider-admin", "approver", "viewer"]
            .iter()
            .any(|r| self.has(r))
    }

    /// How pages name them.
    pub fn display_name(&self) -> &str {
        [&self.name, &self.email, &self.subject]
            .into_iter()
            .find(|s| !s.is_empty())
            .map_or("you", |s| s.as_str())
    }
}

/// The person's tokens from the identity provider.
#[derive(Clone)]
pub struct Tokens {
    pub access: SecretString,
    pub refresh: Option<SecretString>,
    pub expires_at: DateTime<Utc>,
}

/// A notice shown once on the next page.
#[derive(Debug, Clone)]
pub struct Notice {
    pub error: bool,
    pub text: String,
}

/// A client secret the registry returned, held until the one page that shows it.
#[derive(Clone)]
pub struct ShownOnce {
    pub application_id: String,
    pub client_id: String,
    pub secret: SecretString,
}

#[derive(Clone)]
pub struct Session {
    pub person: Person,
    pub tokens: Tokens,
    pub csrf: String,
    pub notices: Vec<Notice>,
    pub secret: Option<ShownOnce>,
    created: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

/// Why there is no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    /// No cookie, or one for a session that was ended or never existed.
    None,
    /// It timed out: the sign-in page says so.
    Expired,
}

#[derive(Clone)]
pub struct Sessions {
    map: Arc<DashMap<SessionId, Session>>,
    idle: chrono::Duration,
    max: chrono::Duration,
    capacity: usize,
    clock: SharedClock,
}

impl Sessions {
    pub fn new(idle: Duration, max: Duration, capacity: usize, clock: SharedClock) -> Self {
        let days = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        Self {
            map: Arc::default(),
            idle: days(idle),
            max: days(max),
            capacity,
            clock,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// How long the session cookie lives: the absolute timeout (the idle one is ours).
    pub fn cookie_max_age(&self) -> u64 {
        u64::try_from(self.max.num_seconds()).unwrap_or(0)
    }

    /// A new session for `person`, or None when `capacity` sessions are live.
    pub fn create(&self, person: Person, tokens: Tokens) -> Option<SessionId> {
        if self.map.len() >= self.capacity {
            self.purge();
            if self.map.len() >= self.capacity {
                return None;
            }
        }
        let now = self.now();
        let id = SessionId::new();
        let mut csrf = [0u8; 32];
        rand::rng().fill(&mut csrf);
        self.map.insert(
            id,
            Session {
                person,
                tokens,
                csrf: csrf.iter().map(|b| format!("{b:02x}")).collect(),
                notices: Vec::new(),
                secret: None,
                created: now,
                last_seen: now,
            },
        );
        Some(id)
    }

    /// The live session `id` (a copy), counting this as activity; an expired one ends.
    pub fn touch(&self, id: SessionId) -> Result<Session, Gone> {
        let now = self.now();
        let mut entry = self.map.get_mut(&id).ok_or(Gone::None)?;
        if now - entry.last_seen > self.idle || now - entry.created > self.max {
            drop(entry);
            self.map.remove(&id);
            return Err(Gone::Expired);
        }
        entry.last_seen = now;
        Ok(entry.clone())
    }

    /// Changes session `id` in place; false when it is gone.
    pub fn update(&self, id: SessionId, change: impl FnOnce(&mut Session)) -> bool {
        match self.map.get_mut(&id) {
            Some(mut entry) => {
                change(&mut entry);
                true
            }
            None => false,
        }
    }

    /// Takes the session's notices (shown once).
    pub fn take_notices(&self, id: SessionId) -> Vec<Notice> {
        self.map
            .get_mut(&id)
            .map(|mut s| std::mem::take(&mut s.notices))
            .unwrap_or_default()
    }

    pub fn notify(&self, id: SessionId, error: bool, text: impl Into<String>) {
        let text = text.into();
        self.update(id, |s| s.notices.push(Notice { error, text }));
    }

    /// Takes the secret waiting to be shown for `application_id`, if any: it is shown once.
    pub fn take_secret(&self, id: SessionId, application_id: &str) -> Option<ShownOnce> {
        let mut entry = self.map.get_mut(&id)?;
        if entry.secret.as_ref()?.application_id != application_id {
            return None;
        }
        entry.secret.take()
    }

    pub fn end(&self, id: SessionId) -> Option<Session> {
        self.map.remove(&id).map(|(_, s)| s)
    }

    /// Drops every timed-out session.
    pub fn purge(&self) {
        let now = self.now();
        self.map
            .retain(|_, s| now - s.last_seen <= self.idle && now - s.created <= self.max);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use dcr_common::clock::ShiftedClock;

    fn person() -> Person {
        Person {
            subject: "s".into(),
            name: String::new(),
            email: "e@x".into(),
            developer_id: "s".into(),
            roles: vec!["developer".into()],
        }
    }

    fn tokens() -> Tokens {
        Tokens {
            access: SecretString::from("a"),
            refresh: None,
            expires_at: Utc::now(),
        }
    }

    #[test]
    fn sessions_end_when_idle_or_old() {
        let clock = Arc::new(ShiftedClock::new());
        let sessions = Sessions::new(
            Duration::from_secs(60),
            Duration::from_secs(150),
            10,
            clock.clone(),
        );
        let id = sessions.create(person(), tokens()).unwrap();
        clock.advance(chrono::Duration::seconds(50));
        assert!(sessions.touch(id).is_ok());
        clock.advance(chrono::Duration::seconds(50));
        assert!(sessions.touch(id).is_ok(), "activity keeps it alive");
        clock.advance(chrono::Duration::seconds(55));
        assert_eq!(
            sessions.touch(id).err(),
            Some(Gone::Expired),
            "155 s after sign-in"
        );
        assert_eq!(sessions.touch(id).err(), Some(Gone::None), "and it is gone");
        let idle = sessions.create(person(), tokens()).unwrap();
        clock.advance(chrono::Duration::seconds(61));
        assert_eq!(sessions.touch(idle).err(), Some(Gone::Expired));
    }

    #[test]
    fn a_secret_is_taken_once_and_only_for_its_app() {
        let sessions = Sessions::new(
            Duration::from_secs(60),
            Duration::from_secs(60),
            10,
            dcr_common::clock::system(),
        );
        let id = sessions.create(person(), tokens()).unwrap();
        sessions.update(id, |s| {
            s.secret = Some(ShownOnce {
                application_id: "app".into(),
                client_id: "c".into(),
                secret: SecretString::from("x"),
            })
        });
        assert!(sessions.take_secret(id, "other").is_none());
        assert!(sessions.take_secret(id, "app").is_some());
        assert!(sessions.take_secret(id, "app").is_none());
    }

    #[test]
    fn capacity_bounds_sessions() {
        let sessions = Sessions::new(
            Duration::from_secs(60),
            Duration::from_secs(60),
            1,
            dcr_common::clock::system(),
        );
        assert!(sessions.create(person(), tokens()).is_some());
        assert!(sessions.create(person(), tokens()).is_none());
    }
}
