//! Session rows sealed at rest.
//!
//! A session row holds the person's session and refresh tokens: whoever reads a copy of the
//! table (a backup, a replica, a dump attached to a support ticket) could act as every signed-in
//! person for as long as the refresh tokens last. So the store never writes a record in clear: it
//! seals it with AES-256-GCM under the key from `SESSION_SECRET`, and opens it on the way back.
//!
//! A sealed row is `[SEALED_V1, key id, 12-byte nonce, ciphertext and tag]`. The marker is
//! `0xC1`, the one byte MessagePack never uses, so a row written in clear before sealing (it
//! starts with MessagePack's array marker) is told apart at its first byte, read as it is, and
//! sealed when it is next written. The key id (one byte of a digest of the key) picks the key to
//! try among the current one and those in `SESSION_SECRET_PREVIOUS`, so a rotation needs no
//! rewrite of the table. The associated data is the marker, the key id and the session id: a
//! sealed record copied into another row, or given another key id, does not open.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// The first byte of a sealed row (and its format's version).
const SEALED_V1: u8 = 0xC1;
/// Marker, key id, nonce.
const HEADER_LEN: usize = 2 + NONCE_LEN;
/// A key's length in bytes.
pub const KEY_LEN: usize = 32;

/// What a secret must look like, for the messages that refuse one (which never repeat it).
pub(crate) const KEY_FORMAT: &str = "must be 32 random bytes, written as 64 hex digits (`openssl rand -hex 32`) or in base64 (`openssl rand -base64 32`)";

/// One AES-256-GCM key, with the id a sealed row names it by. Cheap to clone.
#[derive(Clone)]
pub struct SessionKey {
    id: u8,
    key: Arc<LessSafeKey>,
}

impl std::fmt::Debug for SessionKey {
    /// The key id only: the key itself never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionKey(id {})", self.id)
    }
}

/// Base64 in either alphabet, padded or not.
fn base64_engines() -> [GeneralPurpose; 2] {
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    [
        GeneralPurpose::new(&base64::alphabet::STANDARD, config),
        GeneralPurpose::new(&base64::alphabet::URL_SAFE, config),
    ]
}

impl SessionKey {
    /// A key from its text: 64 hex digits, or 32 bytes in base64. The error says what is wrong
    /// without quoting the text, which may be most of a real secret.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bytes = if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..KEY_LEN)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| KEY_FORMAT.to_owned())?
        } else {
            base64_engines()
                .iter()
                .find_map(|engine| engine.decode(text).ok())
                .ok_or_else(|| format!("{KEY_FORMAT}; this is neither"))?
        };
        if bytes.len() != KEY_LEN {
            return Err(format!(
                "{KEY_FORMAT}; this decodes to {} bytes",
                bytes.len()
            ));
        }
        Self::from_bytes(&bytes).map_err(|()| KEY_FORMAT.to_owned())
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, ()> {
        let id = ring::digest::digest(&ring::digest::SHA256, bytes).as_ref()[0];
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| ())?;
        Ok(Self {
            id,
            key: Arc::new(LessSafeKey::new(key)),
        })
    }

    /// A new random key, and its text as [`SessionKey::parse`] reads it (base64).
    fn generate() -> anyhow::Result<(Self, String)> {
        let mut bytes = [0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| anyhow::anyhow!("the system's random number generator failed"))?;
        let text = base64::engine::general_purpose::STANDARD.encode(bytes);
        let key = Self::from_bytes(&bytes)
            .map_err(|()| anyhow::anyhow!("AES-256-GCM refused a 32-byte key"))?;
        Ok((key, text))
    }
}

/// The keys a session store seals and opens with: rows are always sealed with the current key;
/// the previous ones (`SESSION_SECRET_PREVIOUS`) still open rows sealed before a rotation.
#[derive(Clone, Debug)]
pub struct SessionKeys {
    current: SessionKey,
    previous: Vec<SessionKey>,
}

/// A stored record that did not open: sealed with a key this instance does not have, or altered.
#[derive(Debug, thiserror::Error)]
#[error("the session row does not open with any of the session keys (another key, or altered)")]
pub struct Unopenable;

impl SessionKeys {
    pub fn new(current: SessionKey, previous: Vec<SessionKey>) -> Self {
        Self { current, previous }
    }

    /// Seals `plain`, the record of session `session_id`, with the current key and a fresh
    /// random nonce.
    pub fn seal(&self, session_id: &str, plain: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| anyhow::anyhow!("the system's random number generator failed"))?;
        let mut sealed = Vec::with_capacity(HEADER_LEN + plain.len() + AES_256_GCM.tag_len());
        sealed.extend_from_slice(&[SEALED_V1, self.current.id]);
        sealed.extend_from_slice(&nonce);
        let mut body = plain.to_vec();
        self.current
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(associated_data(self.current.id, session_id)),
                &mut body,
            )
            .map_err(|_| anyhow::anyhow!("sealing the session record failed"))?;
        sealed.extend_from_slice(&body);
        Ok(sealed)
    }

    /// The record stored for session `session_id`: opened if sealed, as it is if it was written
    /// in clear before sealing (no marker).
    pub fn open<'a>(
        &self,
        session_id: &str,
        stored: &'a [u8],
    ) -> Result<Cow<'a, [u8]>, Unopenable> {
        let Some((&SEALED_V1, rest)) = stored.split_first() else {
            return Ok(Cow::Borrowed(stored));
        };
        let (&key_id, rest) = rest.split_first().ok_or(Unopenable)?;
        let (nonce, sealed) = rest.split_at_checked(NONCE_LEN).ok_or(Unopenable)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Unopenable)?;
        // Two keys share an id once in 256 rotations: then each is tried.
        std::iter::once(&self.current)
            .chain(&self.previous)
            .filter(|key| key.id == key_id)
            .find_map(|key| {
                let mut body = sealed.to_vec();
                let plain_len = key
                    .key
                    .open_in_place(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(associated_data(key_id, session_id)),
                        &mut body,
                    )
                    .ok()?
                    .len();
                body.truncate(plain_len);
                Some(Cow::Owned(body))
            })
            .ok_or(Unopenable)
    }
}

/// What a sealed record is bound to besides its key: its format, its key id and its row.
fn associated_data(key_id: u8, session_id: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(2 + session_id.len());
    aad.extend_from_slice(&[SEALED_V1, key_id]);
    aad.extend_from_slice(session_id.as_bytes());
    aad
}

/// Whether `stored` is a sealed row (as opposed to one written in clear before sealing).
pub fn is_sealed(stored: &[u8]) -> bool {
    stored.first() == Some(&SEALED_V1)
}

/// Where the session keys come from: `SESSION_SECRET`, or in development a key file of its own.
#[derive(Clone, Debug)]
pub enum SessionSecret {
    /// `SESSION_SECRET`, and any `SESSION_SECRET_PREVIOUS`.
    Keys(SessionKeys),
    /// Development without `SESSION_SECRET`: the key kept in `path`, made on the first start.
    DevelopmentFile {
        path: PathBuf,
        previous: Vec<SessionKey>,
    },
}

/// The name of the development key file, beside the SQLite database.
pub const DEVELOPMENT_KEY_FILE: &str = "session-secret";

impl SessionSecret {
    /// The keys to seal and open with; in development, reads the key file or makes it.
    pub fn keys(&self) -> anyhow::Result<SessionKeys> {
        match self {
            Self::Keys(keys) => Ok(keys.clone()),
            Self::DevelopmentFile { path, previous } => {
                let (key, made) = development_key(path)?;
                tracing::info!(
                    file = %path.display(),
                    made,
                    "SESSION_SECRET is not set: sessions are sealed with a development key kept in this file"
                );
                Ok(SessionKeys::new(key, previous.clone()))
            }
        }
    }
}

/// The key in `path`, and whether it was made just now. A new file is written whole under a
/// name of its own (mode 0600) and then linked into place, which fails if another instance
/// starting at the same moment linked its key first: then that key is read, and both agree.
fn development_key(path: &Path) -> anyhow::Result<(SessionKey, bool)> {
    let read = |path: &Path| -> anyhow::Result<Option<SessionKey>> {
        match std::fs::read_to_string(path) {
            Ok(text) => SessionKey::parse(&text).map(Some).map_err(|problem| {
                anyhow::anyhow!(
                    "SESSION_SECRET is not set and the development key file {} is unusable: it {problem}; delete it to make a new one (every session then ends) or set SESSION_SECRET",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| {
                format!(
                    "SESSION_SECRET is not set and the development key file {} cannot be read",
                    path.display()
                )
            }),
        }
    };
    if let Some(key) = read(path)? {
        return Ok((key, false));
    }
    let cannot_write = || {
        format!(
            "SESSION_SECRET is not set and the development key file {} cannot be written",
            path.display()
        )
    };
    crate::server::db::ensure_parent_dir(path).with_context(cannot_write)?;
    let (key, text) = SessionKey::generate()?;
    let mut draft_name = path.as_os_str().to_owned();
    draft_name.push(format!(".{}.new", std::process::id()));
    let draft = PathBuf::from(draft_name);
    // A draft left by a process that stopped halfway, under the same process id, is no one's.
    let _ = std::fs::remove_file(&draft);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&draft)
        .and_then(|mut file| file.write_all(format!("{text}\n").as_bytes()));
    let linked = written.and_then(|()| std::fs::hard_link(&draft, path));
    let _ = std::fs::remove_file(&draft);
    match linked {
        Ok(()) => Ok((key, true)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let theirs = read(path)?.with_context(cannot_write)?;
            Ok((theirs, false))
        }
        Err(e) => Err(e).with_context(cannot_write),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const B: &str = "yBTb9dw9o8KQ0jArzEE7a8S9tBN4GhE6Fv1MYGUO2yQ=";

    fn key(text: &str) -> SessionKey {
        SessionKey::parse(text).expect("a valid key")
    }

    fn keys(current: &str, previous: &[&str]) -> SessionKeys {
        SessionKeys::new(key(current), previous.iter().map(|k| key(k)).collect())
    }

    const RECORD: &[u8] = b"\x93a record with eyJ-shaped tokens in it";

    #[test]
    fn a_sealed_record_opens_to_itself_and_shows_nothing_of_it() {
        let keys = keys(A, &[]);
        let sealed = keys.seal("sid-1", RECORD).expect("sealed");
        assert!(is_sealed(&sealed));
        assert!(!sealed.windows(3).any(|w| w == b"eyJ"));
        assert_eq!(sealed.len(), HEADER_LEN + RECORD.len() + 16);
        assert_eq!(keys.open("sid-1", &sealed).expect("opens").as_ref(), RECORD);
        // A fresh nonce per write: the same record never seals to the same bytes.
        assert_ne!(keys.seal("sid-1", RECORD).expect("sealed"), sealed);
    }

    #[test]
    fn a_sealed_record_does_not_open_with_another_key_altered_or_in_another_row() {
        let sealed = keys(A, &[]).seal("sid-1", RECORD).expect("sealed");
        assert!(keys(B, &[]).open("sid-1", &sealed).is_err(), "another key");
        assert!(keys(A, &[]).open("sid-2", &sealed).is_err(), "another row");
        for at in 0..sealed.len() {
            let mut altered = sealed.clone();
            altered[at] ^= 0x01;
            // A changed marker makes the row look written in clear: it opens to the sealed
            // bytes, which no longer decode as a record, never to the record.
            if at == 0 {
                assert_ne!(
                    keys(A, &[]).open("sid-1", &altered).ok().as_deref(),
                    Some(RECORD)
                );
                continue;
            }
            assert!(
                keys(A, &[]).open("sid-1", &altered).is_err(),
                "byte {at} altered"
            );
        }
        for cut in [1, 2, HEADER_LEN, sealed.len() - 1] {
            assert!(
                keys(A, &[]).open("sid-1", &sealed[..cut]).is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_previous_key_still_opens_and_writes_use_the_current_one() {
        let before = keys(A, &[]).seal("sid-1", RECORD).expect("sealed");
        let rotated = keys(B, &[A]);
        assert_eq!(
            rotated.open("sid-1", &before).expect("opens").as_ref(),
            RECORD
        );
        let after = rotated.seal("sid-1", RECORD).expect("sealed");
        assert!(
            keys(A, &[]).open("sid-1", &after).is_err(),
            "sealed with the new key"
        );
        assert_eq!(
            keys(B, &[]).open("sid-1", &after).expect("opens").as_ref(),
            RECORD
        );
    }

    #[test]
    fn a_row_written_in_clear_before_sealing_is_read_as_it_is() {
        let opened = keys(A, &[]).open("sid-1", RECORD).expect("read as it is");
        assert!(matches!(opened, Cow::Borrowed(_)));
        assert_eq!(opened.as_ref(), RECORD);
        assert!(!is_sealed(RECORD));
    }

    #[test]
    fn a_key_is_hex_or_base64_of_32_bytes_and_a_bad_one_is_not_repeated() {
        assert_eq!(key(A).id, key(&A.to_uppercase()).id);
        let unpadded = B.trim_end_matches('=');
        assert_eq!(key(B).id, key(unpadded).id);
        assert_eq!(
            key(B).id,
            key(&unpadded.replace('/', "_").replace('+', "-")).id
        );
        for bad in [
            "",
            "short",
            &A[..62],
            "c2hvcnQgYnV0IHZhbGlkIGJhc2U2NA==",
            &format!("{A}00"),
            "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        ] {
            let problem = SessionKey::parse(bad).expect_err(bad);
            assert!(problem.contains("32 random bytes"), "{problem}");
            assert!(bad.len() < 8 || !problem.contains(bad), "{problem}");
        }
        assert_eq!(
            format!("{:?}", key(A)),
            format!("SessionKey(id {})", key(A).id)
        );
    }

    #[test]
    fn the_development_key_file_is_made_once_private_and_then_reused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("nested").join(DEVELOPMENT_KEY_FILE);
        let secret = SessionSecret::DevelopmentFile {
            path: path.clone(),
            previous: Vec::new(),
        };
        let first = secret.keys().expect("made");
        let sealed = first.seal("sid-1", RECORD).expect("sealed");
        let again = secret.keys().expect("read back");
        assert_eq!(
            again.open("sid-1", &sealed).expect("the same key").as_ref(),
            RECORD
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("the file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let files: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("listed")
            .collect();
        assert_eq!(files.len(), 1, "no draft left behind: {files:?}");

        std::fs::write(&path, "not a key\n").expect("overwritten");
        let err = secret.keys().expect_err("an unusable file");
        let message = format!("{err:#}");
        assert!(
            message.contains("SESSION_SECRET") && message.contains("session-secret"),
            "{message}"
        );
    }
}
