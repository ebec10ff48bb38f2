//! The login cache: one private file (mode 0600, in a 0700 folder) in the platform's data
//! folder, or in `SMTPSCOPE_DATA_DIR`. It holds, per login, what a refresh needs: the
//! provider, tenant, client ID, account label, token endpoint, scopes and the refresh token.
//! Never the access token (each `oauth token` asks for a fresh one, so a stale one is never
//! served) and never the client secret (it stays in its own env variable or file).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use zeroize::Zeroizing;

use super::provider::Provider;
use crate::engine::limited::{self, ReadError, shown};
use crate::engine::private;

/// The variable that moves the data folder (tests, portable setups).
pub const DATA_DIR_ENV: &str = "SMTPSCOPE_DATA_DIR";
/// The cache file's name in the data folder.
pub const FILE_NAME: &str = "oauth-logins.json";
/// The cache file is small; anything bigger is not ours.
const MAX_CACHE: u64 = 1024 * 1024;
/// The format of the file, for later changes.
const VERSION: u32 = 1;

/// A refresh token (or other secret) in memory that is wiped on drop, hidden from `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(s: String) -> Self {
        Secret(Zeroizing::new(s))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// What identifies a login: a second login with the same key replaces the first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    pub provider: Provider,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    pub client_id: String,
    /// The user's own label (`--account`), to keep two mailboxes of one app apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub token_url: String,
}

/// One cached login.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Login {
    #[serde(flatten)]
    pub key: Key,
    pub scopes: Vec<String>,
    /// The device authorization endpoint the login used, to say how to log in again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_url: Option<String>,
    /// Whether the login used a client secret, so the refresh needs it too.
    #[serde(default)]
    pub uses_client_secret: bool,
    pub refresh_token: Secret,
    /// When the refresh token was last saved (a login or a rotation).
    pub saved_at: chrono::DateTime<chrono::Utc>,
}

/// Narrows the cached logins down to one (`oauth token`): unset fields match anything.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    pub provider: Option<Provider>,
    pub tenant: Option<String>,
    pub client_id: Option<String>,
    pub account: Option<String>,
}

impl Selector {
    fn matches(&self, k: &Key) -> bool {
        self.provider.is_none_or(|p| p == k.provider)
            && self
                .tenant
                .as_ref()
                .is_none_or(|t| k.tenant.as_ref() == Some(t))
            && self.client_id.as_ref().is_none_or(|c| *c == k.client_id)
            && self
                .account
                .as_ref()
                .is_none_or(|a| k.account.as_ref() == Some(a))
    }
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    logins: Vec<Login>,
}

/// Why the cache could not be used.
#[derive(Debug, Error)]
pub enum CacheError {
    #[error("no data folder was found for this user; set {DATA_DIR_ENV} to a folder")]
    NoDataDir,
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(
        "the login cache {path} is not one smtpscope can read (line {line}); move it away and log in again"
    )]
    Parse { path: String, line: usize },
    #[error("the login cache {path} is from a newer smtpscope (format {found})")]
    Version { path: String, found: u32 },
    #[error("cannot write the login cache {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// The cache file: in `SMTPSCOPE_DATA_DIR` when set, else the platform's data folder
/// (`~/.local/share/smtpscope` on Linux, `~/Library/Application Support/smtpscope` on macOS).
pub fn default_path() -> Result<PathBuf, CacheError> {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join(FILE_NAME));
    }
    directories::ProjectDirs::from("", "", "smtpscope")
        .map(|d| d.data_dir().join(FILE_NAME))
        .ok_or(CacheError::NoDataDir)
}

/// The logins cached in one file.
#[derive(Debug)]
pub struct Cache {
    path: PathBuf,
    logins: Vec<Login>,
}

impl Cache {
    /// Reads the cache at `path`; a missing file is an empty cache.
    pub fn load(path: &Path) -> Result<Cache, CacheError> {
        if !path.exists() {
            return Ok(Cache {
                path: path.to_path_buf(),
                logins: Vec::new(),
            });
        }
        let text = limited::read_secret_file(path, "the login cache", MAX_CACHE)?;
        // serde's own message may quote the file's text (a refresh token): say where only.
        let file: CacheFile = serde_json::from_str(&text).map_err(|e| CacheError::Parse {
            path: shown(path),
            line: e.line(),
        })?;
        if file.version > VERSION {
            return Err(CacheError::Version {
                path: shown(path),
                found: file.version,
            });
        }
        Ok(Cache {
            path: path.to_path_buf(),
            logins: file.logins,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn logins(&self) -> &[Login] {
        &self.logins
    }

    /// The logins `selector` matches.
    pub fn find(&self, selector: &Selector) -> Vec<&Login> {
        self.logins
            .iter()
            .filter(|l| selector.matches(&l.key))
            .collect()
    }

    /// Adds `login`, replacing one with the same key.
    pub fn put(&mut self, login: Login) {
        self.logins.retain(|l| l.key != login.key);
        self.logins.push(login);
    }

    /// Writes the cache: a new 0600 file renamed over the old one, its folder made 0700.
    pub fn save(&self) -> Result<(), CacheError> {
        let write = |source| CacheError::Write {
            path: shown(&self.path),
            source,
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            private::create_dir_all(dir).map_err(write)?;
        }
        let file = CacheFile {
            version: VERSION,
            logins: self.logins.clone(),
        };
        let text = Zeroizing::new(
            serde_json::to_string_pretty(&file)
                .map_err(|e| write(std::io::Error::other(e.to_string())))?,
        );
        private::replace(&self.path, text.as_bytes()).map_err(write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(client: &str, account: Option<&str>, rt: &str) -> Login {
        Login {
            key: Key {
                provider: Provider::Microsoft,
                tenant: Some("organizations".into()),
                client_id: client.into(),
                account: account.map(str::to_string),
                token_url: "http://127.0.0.1:1/token".into(),
            },
            scopes: vec!["offline_access".into()],
            device_url: None,
            uses_client_secret: false,
            refresh_token: Secret::new(rt.into()),
            saved_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn logins_are_replaced_by_key_and_found_by_selector() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(FILE_NAME);
        let mut c = Cache::load(&path).unwrap();
        c.put(login("app1", None, "rt-1"));
        c.put(login("app1", Some("bob"), "rt-2"));
        c.put(login("app1", None, "rt-3"));
        c.save().unwrap();
        let c = Cache::load(&path).unwrap();
        assert_eq!(c.logins().len(), 2);
        let all = c.find(&Selector {
            provider: Some(Provider::Microsoft),
            ..Selector::default()
        });
        assert_eq!(all.len(), 2);
        let bob = c.find(&Selector {
            account: Some("bob".into()),
            ..Selector::default()
        });
        assert_eq!(bob.len(), 1);
        assert_eq!(bob[0].refresh_token.expose(), "rt-2");
        assert!(
            c.find(&Selector {
                provider: Some(Provider::Google),
                ..Selector::default()
            })
            .is_empty()
        );
        assert!(!format!("{c:?}").contains("rt-"), "Debug hides the tokens");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn a_broken_file_is_named_without_its_contents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "{\"version\": 1, \"logins\": [\"rt-secret-value\"]}").unwrap();
        let e = Cache::load(&path).unwrap_err().to_string();
        assert!(e.contains("not one smtpscope can read"), "{e}");
        assert!(!e.contains("rt-secret"), "{e}");
    }
}
