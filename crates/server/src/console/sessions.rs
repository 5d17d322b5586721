//! Console sessions, one-time sign-in links and the sign-in failure budget
//! ([`super::budget`]), all in memory: a restart signs everyone out.
//!
//! A session id and a login token are 256 random bits, handed out once;
//! only their SHA-256 is kept, so the table never holds what a browser
//! presents. A session lives [`ConsoleSettings::idle`] past its last use
//! and never longer than [`ConsoleSettings::lifetime`]; its CSRF token is
//! bound to it. A login token works once, within its time. One access key
//! holds at most [`MAX_SESSIONS_PER_KEY`] sessions (its oldest goes first
//! past it), so no principal can push other principals' sessions out of
//! the table; a full table refuses new sign-ins instead.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use strongroom_crypto::{constant_time_eq, random_array, sha256};

use crate::error::KmsError;

use super::budget::Budget;

/// Most sessions held at once; past it sign-ins are refused.
pub const MAX_SESSIONS: usize = 10_000;
/// Most sessions one access key holds; its oldest goes first past it.
pub const MAX_SESSIONS_PER_KEY: usize = 16;
/// Most unredeemed login tokens held at once.
const MAX_LOGINS: usize = 1_000;

/// How long sessions and sign-in links live.
#[derive(Debug, Clone, Copy)]
pub struct ConsoleSettings {
    /// A session ends this long after its last request (15 minutes).
    pub idle: Duration,
    /// A session ends this long after sign-in, used or not (8 hours).
    pub lifetime: Duration,
    /// A sign-in link works once, within this time (10 minutes).
    pub login_ttl: Duration,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(15 * 60),
            lifetime: Duration::from_secs(8 * 3600),
            login_ttl: Duration::from_secs(10 * 60),
        }
    }
}

/// A signed-in browser: whose access key it acts with, and its CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    /// The access key the session signed in with; every call acts as it.
    pub access_key_id: String,
    /// The CSRF token every call must carry in `X-CSRF-Token`.
    pub csrf: String,
    created: Instant,
    last_seen: Instant,
}

impl Session {
    /// Whether `token` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, token: &str) -> bool {
        constant_time_eq(token.as_bytes(), self.csrf.as_bytes())
    }
}

struct Login {
    access_key_id: String,
    expires: Instant,
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<[u8; 32], Session>,
    logins: HashMap<[u8; 32], Login>,
}

/// The session table.
pub struct Sessions {
    settings: ConsoleSettings,
    inner: Mutex<Inner>,
    /// The sign-in failure budget.
    pub budget: Budget,
}

fn token() -> Result<String, KmsError> {
    let bytes = random_array::<32>()
        .map_err(|e| KmsError::Internal(format!("no randomness for a session: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// What a presented id or token is looked up by.
fn digest(presented: &str) -> [u8; 32] {
    sha256(presented.as_bytes())
}

/// The refusal of a session that is missing, unknown or over.
pub fn no_session() -> KmsError {
    KmsError::MissingAuthenticationToken
}

impl Sessions {
    /// An empty table.
    pub fn new(settings: ConsoleSettings) -> Self {
        Self {
            settings,
            inner: Mutex::new(Inner::default()),
            budget: Budget::default(),
        }
    }

    /// The table's settings.
    pub fn settings(&self) -> ConsoleSettings {
        self.settings
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new session for `access_key_id`: returns its id (for the cookie
    /// only) and the session (with its CSRF token).
    pub fn create(&self, access_key_id: &str) -> Result<(String, Session), KmsError> {
        let id = token()?;
        let now = Instant::now();
        let session = Session {
            access_key_id: access_key_id.to_owned(),
            csrf: token()?,
            created: now,
            last_seen: now,
        };
        let mut inner = self.lock();
        self.expire(&mut inner, now);
        let mut own: Vec<([u8; 32], Instant)> = inner
            .sessions
            .iter()
            .filter(|(_, s)| s.access_key_id == access_key_id)
            .map(|(k, s)| (*k, s.last_seen))
            .collect();
        if own.len() >= MAX_SESSIONS_PER_KEY {
            own.sort_unstable_by_key(|(_, seen)| *seen);
            for (k, _) in &own[..=own.len() - MAX_SESSIONS_PER_KEY] {
                inner.sessions.remove(k);
            }
        }
        if inner.sessions.len() >= MAX_SESSIONS {
            return Err(KmsError::LimitExceeded(
                "Too many console sessions are open; try again later.".into(),
            ));
        }
        inner.sessions.insert(digest(&id), session.clone());
        Ok((id, session))
    }

    fn expire(&self, inner: &mut Inner, now: Instant) {
        let s = self.settings;
        inner.sessions.retain(|_, v| {
            now.duration_since(v.last_seen) < s.idle && now.duration_since(v.created) < s.lifetime
        });
        inner.logins.retain(|_, l| l.expires > now);
    }

    /// The live session with id `id`, its idle time restarted.
    pub fn touch(&self, id: &str) -> Result<Session, KmsError> {
        let now = Instant::now();
        let mut inner = self.lock();
        let key = digest(id);
        let s = self.settings;
        let live = inner.sessions.get(&key).is_some_and(|v| {
            now.duration_since(v.last_seen) < s.idle && now.duration_since(v.created) < s.lifetime
        });
        if !live {
            inner.sessions.remove(&key);
            return Err(no_session());
        }
        let session = inner.sessions.get_mut(&key).ok_or_else(no_session)?;
        session.last_seen = now;
        Ok(session.clone())
    }

    /// Ends session `id` (signing out); unknown ids are ignored.
    pub fn end(&self, id: &str) {
        self.lock().sessions.remove(&digest(id));
    }

    /// Ends every session of `access_key_id`.
    pub fn end_all_of(&self, access_key_id: &str) {
        self.lock()
            .sessions
            .retain(|_, s| s.access_key_id != access_key_id);
    }

    /// A one-time sign-in token for `access_key_id`, valid for
    /// [`ConsoleSettings::login_ttl`].
    pub fn login_token(&self, access_key_id: &str) -> Result<String, KmsError> {
        let t = token()?;
        let now = Instant::now();
        let mut inner = self.lock();
        self.expire(&mut inner, now);
        if inner.logins.len() >= MAX_LOGINS {
            return Err(KmsError::LimitExceeded(
                "Too many unused sign-in links.".into(),
            ));
        }
        inner.logins.insert(
            digest(&t),
            Login {
                access_key_id: access_key_id.to_owned(),
                expires: now + self.settings.login_ttl,
            },
        );
        Ok(t)
    }

    /// Redeems a login token: the access key it was made for, once. A
    /// token that is unknown, used or expired is refused alike.
    pub fn redeem(&self, token: &str) -> Result<String, KmsError> {
        let now = Instant::now();
        let login = self.lock().logins.remove(&digest(token));
        match login {
            Some(l) if l.expires > now => Ok(l.access_key_id),
            Some(_) => Err(KmsError::ExpiredToken),
            None => Err(KmsError::UnrecognizedClient),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short(idle_ms: u64) -> Sessions {
        Sessions::new(ConsoleSettings {
            idle: Duration::from_millis(idle_ms),
            lifetime: Duration::from_secs(60),
            login_ttl: Duration::from_millis(idle_ms),
        })
    }

    #[test]
    fn a_session_is_found_by_its_id_only_and_ends_when_idle() {
        let s = short(200);
        let (id, session) = s.create("AKIA1").unwrap();
        assert_eq!(id.len(), 43);
        assert_ne!(id, session.csrf);
        assert_eq!(s.touch(&id).unwrap().access_key_id, "AKIA1");
        assert!(s.touch(&session.csrf).is_err());
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(s.touch(&id).unwrap_err(), no_session());
    }

    #[test]
    fn a_login_token_works_once_and_not_after_its_time() {
        let s = short(200);
        let t = s.login_token("AKIA1").unwrap();
        assert_eq!(s.redeem(&t).unwrap(), "AKIA1");
        assert_eq!(s.redeem(&t).unwrap_err(), KmsError::UnrecognizedClient);
        let late = s.login_token("AKIA1").unwrap();
        std::thread::sleep(Duration::from_millis(250));
        assert!(s.redeem(&late).is_err());
        assert!(s.redeem("forged").is_err());
    }

    #[test]
    fn one_keys_sign_ins_cannot_push_out_another_keys_session() {
        let s = short(60_000);
        let (victim, _) = s.create("AKIAVICTIM").unwrap();
        let mut first = None;
        for _ in 0..MAX_SESSIONS {
            let (id, _) = s.create("AKIAATTACKER").unwrap();
            first.get_or_insert(id);
        }
        assert_eq!(s.touch(&victim).unwrap().access_key_id, "AKIAVICTIM");
        assert!(s.touch(&first.unwrap()).is_err());
        assert_eq!(s.lock().sessions.len(), 1 + MAX_SESSIONS_PER_KEY);
    }
}
