//! Keys and the two uses Tipsa has for them: sealing sensitive fields at rest
//! (XChaCha20-Poly1305, with a key id for rotation) and the keyed hash of receipt codes
//! (HMAC-SHA256). With no keys configured (development), keys are generated once and kept
//! under `var_dir/keys`.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

pub mod reseal;

use crate::config::SecretSettings;
use crate::domain::ReceiptCode;

const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;
/// Id of the contact key generated for development.
const GENERATED_KEY_ID: &str = "local1";
/// Id of the attachment key generated for development.
const GENERATED_ATTACHMENT_KEY_ID: &str = "alocal1";

/// Sealing failed or a sealed value could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("no key with id {0:?} is configured")]
    UnknownKey(String),
    #[error("sealed value is damaged or was sealed for another record")]
    Damaged,
}

/// The service's keys.
pub struct Crypto {
    receipt_hmac_key: [u8; KEY_BYTES],
    /// Contact details (and other sealed fields).
    fields: Keyring,
    /// Attachment content: keys of their own, so they can be rotated on their own schedule.
    attachments: Keyring,
}

/// Sealing keys by id, one of them active for new values; the others stay for opening.
struct Keyring {
    active_key_id: String,
    ciphers: HashMap<String, XChaCha20Poly1305>,
}

impl Keyring {
    /// Configured keys, or (with no active key configured) a generated local one.
    fn load(
        configured: &std::collections::BTreeMap<String, SecretString>,
        active: Option<&String>,
        setting: &str,
        local: (&Path, &str, &str),
    ) -> anyhow::Result<Self> {
        let mut ciphers = HashMap::new();
        for (id, key) in configured {
            let key = decode_key(key, &format!("secrets.{setting}.{id}"))?;
            ciphers.insert(id.clone(), XChaCha20Poly1305::new(&key.into()));
        }
        let active_key_id = match active {
            Some(id) => id.clone(),
            None => {
                let (dir, file, id) = local;
                let key = local_key(dir, file)?;
                ciphers.insert(id.to_owned(), XChaCha20Poly1305::new(&key.into()));
                id.to_owned()
            }
        };
        Ok(Keyring {
            active_key_id,
            ciphers,
        })
    }

    fn single(id: &str, key: [u8; KEY_BYTES]) -> Self {
        let mut ciphers = HashMap::new();
        ciphers.insert(id.to_owned(), XChaCha20Poly1305::new(&key.into()));
        Keyring {
            active_key_id: id.to_owned(),
            ciphers,
        }
    }

    fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<(String, Vec<u8>), CryptoError> {
        let cipher = self
            .ciphers
            .get(&self.active_key_id)
            .ok_or_else(|| CryptoError::UnknownKey(self.active_key_id.clone()))?;
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .map_err(|_| CryptoError::Damaged)?;
        let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok((self.active_key_id.clone(), out))
    }

    fn open(&self, key_id: &str, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let cipher = self
            .ciphers
            .get(key_id)
            .ok_or_else(|| CryptoError::UnknownKey(key_id.to_owned()))?;
        if sealed.len() < NONCE_BYTES {
            return Err(CryptoError::Damaged);
        }
        let (nonce, body) = sealed.split_at(NONCE_BYTES);
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context,
                },
            )
            .map_err(|_| CryptoError::Damaged)
    }
}

impl Crypto {
    /// Builds from configured keys, generating (or reusing) local ones for any that are missing.
    pub fn load(settings: &SecretSettings, var_dir: &Path) -> anyhow::Result<Self> {
        let keys_dir = var_dir.join("keys");
        let receipt_hmac_key = match &settings.receipt_hmac_key {
            Some(key) => decode_key(key, "secrets.receipt_hmac_key")?,
            None => local_key(&keys_dir, "receipt-hmac.key")?,
        };
        let fields = Keyring::load(
            &settings.contact_keys,
            settings.active_contact_key.as_ref(),
            "contact_keys",
            (&keys_dir, "contact-local1.key", GENERATED_KEY_ID),
        )?;
        let attachments = Keyring::load(
            &settings.attachment_keys,
            settings.active_attachment_key.as_ref(),
            "attachment_keys",
            (
                &keys_dir,
                "attachment-local1.key",
                GENERATED_ATTACHMENT_KEY_ID,
            ),
        )?;
        Ok(Crypto {
            receipt_hmac_key,
            fields,
            attachments,
        })
    }

    /// Keys from explicit bytes (tests, benchmarks).
    pub fn from_keys(receipt_hmac_key: [u8; KEY_BYTES], contact_key: [u8; KEY_BYTES]) -> Self {
        // Attachments get a key of their own, derived so tests need to pass only two.
        let attachment_key: [u8; KEY_BYTES] = Sha256::digest(contact_key).into();
        Crypto {
            receipt_hmac_key,
            fields: Keyring::single("k1", contact_key),
            attachments: Keyring::single("a1", attachment_key),
        }
    }

    /// HMAC-SHA256 of a receipt code, the only form in which codes are stored.
    pub fn receipt_code_hash(&self, code: &ReceiptCode) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.receipt_hmac_key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(b"tipsa receipt code v1\0");
        mac.update(code.canonical());
        mac.finalize().into_bytes().to_vec()
    }

    /// A keyed hash (HMAC-SHA256 under the server secret) of `parts` for `purpose` — e.g. the
    /// audit chain, recovery codes. Each part is length-prefixed so part boundaries cannot
    /// shift, and the purpose separates the uses of the one key.
    pub fn keyed_hash(&self, purpose: &str, parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.receipt_hmac_key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(b"tipsa ");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }

    /// Seals `plaintext` with the active key. `context` binds the sealed value to its record
    /// (e.g. the tip id), so it cannot be copied onto another row and opened there.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<(String, Vec<u8>), CryptoError> {
        self.fields.seal(plaintext, context)
    }

    /// Opens a value sealed by `seal` with the key it names.
    pub fn open(
        &self,
        key_id: &str,
        sealed: &[u8],
        context: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.fields.open(key_id, sealed, context)
    }

    /// Seals a piece of an attachment with the active attachment key.
    pub fn seal_attachment(
        &self,
        plaintext: &[u8],
        context: &[u8],
    ) -> Result<(String, Vec<u8>), CryptoError> {
        self.attachments.seal(plaintext, context)
    }

    /// Opens a piece of an attachment sealed by `seal_attachment` with the key it names.
    pub fn open_attachment(
        &self,
        key_id: &str,
        sealed: &[u8],
        context: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.attachments.open(key_id, sealed, context)
    }

    /// The id new sealed fields (contact details, TOTP secrets) are sealed with.
    pub fn active_field_key(&self) -> &str {
        &self.fields.active_key_id
    }

    /// The id new attachments are sealed with.
    pub fn active_attachment_key(&self) -> &str {
        &self.attachments.active_key_id
    }
}

fn decode_key(key: &SecretString, name: &str) -> anyhow::Result<[u8; KEY_BYTES]> {
    let bytes = BASE64
        .decode(key.expose_secret().trim())
        .with_context(|| format!("{name} is not valid base64"))?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("{name} must decode to exactly {KEY_BYTES} bytes"))
}

/// Reads a key file, creating it with fresh random bytes (mode 0600) the first time.
fn local_key(dir: &Path, file: &str) -> anyhow::Result<[u8; KEY_BYTES]> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    let path = dir.join(file);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let bytes = BASE64
            .decode(text.trim())
            .with_context(|| format!("{} is not valid base64", path.display()))?;
        return bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("{} must hold {KEY_BYTES} bytes", path.display()));
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut key = [0u8; KEY_BYTES];
    rand::rng().fill_bytes(&mut key);
    let mut handle = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path);
    if let Err(error) = &handle
        && error.kind() == std::io::ErrorKind::AlreadyExists
    {
        // Another process created it a moment ago: use theirs.
        return local_key(dir, file);
    }
    let Ok(file_handle) = handle.as_mut() else {
        bail!("creating {}", path.display());
    };
    writeln!(file_handle, "{}", BASE64.encode(key))
        .with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a local key (development only)");
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crypto() -> Crypto {
        Crypto::from_keys([1; 32], [2; 32])
    }

    #[test]
    fn sealed_values_open_only_with_their_context() {
        let crypto = crypto();
        let (key_id, sealed) = crypto.seal(b"anna@example.se", b"tip-1").unwrap();
        assert!(!sealed.windows(5).any(|w| w == b"anna@"));
        assert_eq!(
            crypto.open(&key_id, &sealed, b"tip-1").unwrap(),
            b"anna@example.se"
        );
        assert!(matches!(
            crypto.open(&key_id, &sealed, b"tip-2"),
            Err(CryptoError::Damaged)
        ));
        assert!(matches!(
            crypto.open("other", &sealed, b"tip-1"),
            Err(CryptoError::UnknownKey(_))
        ));
    }

    #[test]
    fn attachments_have_keys_of_their_own_and_old_ids_still_open_after_rotation() {
        use secrecy::SecretString;
        let key = |byte: u8| SecretString::from(BASE64.encode([byte; 32]));
        let dir = std::env::temp_dir().join(format!("tipsa-keys-{}", uuid::Uuid::new_v4()));
        let mut settings = SecretSettings {
            receipt_hmac_key: Some(key(1)),
            active_contact_key: Some("k1".into()),
            contact_keys: [("k1".to_owned(), key(2))].into(),
            active_attachment_key: Some("a1".into()),
            attachment_keys: [("a1".to_owned(), key(3))].into(),
        };
        let before = Crypto::load(&settings, &dir).unwrap();
        let (id, sealed) = before.seal_attachment(b"chunk", b"ctx").unwrap();
        assert_eq!(id, "a1");
        // A contact key cannot open an attachment, nor the other way round.
        assert!(before.open("k1", &sealed, b"ctx").is_err());
        settings.attachment_keys.insert("a2".into(), key(4));
        settings.active_attachment_key = Some("a2".into());
        let after = Crypto::load(&settings, &dir).unwrap();
        assert_eq!(after.active_attachment_key(), "a2");
        assert_eq!(
            after.open_attachment("a1", &sealed, b"ctx").unwrap(),
            b"chunk"
        );
        assert_eq!(after.seal_attachment(b"new", b"ctx").unwrap().0, "a2");
    }

    #[test]
    fn the_same_plaintext_seals_differently_each_time() {
        let crypto = crypto();
        let (_, a) = crypto.seal(b"same", b"ctx").unwrap();
        let (_, b) = crypto.seal(b"same", b"ctx").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn receipt_hash_depends_on_code_and_key() {
        let a = ReceiptCode::from_random_bytes([1; 10]);
        let b = ReceiptCode::from_random_bytes([2; 10]);
        let one = crypto();
        let other = Crypto::from_keys([9; 32], [2; 32]);
        assert_eq!(one.receipt_code_hash(&a), one.receipt_code_hash(&a));
        assert_ne!(one.receipt_code_hash(&a), one.receipt_code_hash(&b));
        assert_ne!(one.receipt_code_hash(&a), other.receipt_code_hash(&a));
        assert_eq!(one.receipt_code_hash(&a).len(), 32);
    }

    #[test]
    fn generated_keys_are_kept_and_reused() {
        let dir = std::env::temp_dir().join(format!("tipsa-keys-{}", uuid::Uuid::new_v4()));
        let settings = SecretSettings {
            receipt_hmac_key: None,
            active_contact_key: None,
            contact_keys: Default::default(),
            active_attachment_key: None,
            attachment_keys: Default::default(),
        };
        let first = Crypto::load(&settings, &dir).unwrap();
        let (id, sealed) = first.seal(b"x", b"y").unwrap();
        let second = Crypto::load(&settings, &dir).unwrap();
        assert_eq!(second.open(&id, &sealed, b"y").unwrap(), b"x");
        let code = ReceiptCode::from_random_bytes([3; 10]);
        assert_eq!(
            first.receipt_code_hash(&code),
            second.receipt_code_hash(&code)
        );
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.join("keys/receipt-hmac.key"))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o077, 0, "key files must be private");
    }
}
