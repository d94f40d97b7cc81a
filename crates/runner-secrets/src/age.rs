//! Env files encrypted at rest with age (age-encryption.org/v1), as the `age` tool reads and
//! writes them: X25519 recipients (`age1...`) and identities (`AGE-SECRET-KEY-1...`),
//! armored or binary. A decrypted file exists only in memory, in a buffer zeroed when it is
//! dropped; errors name the file, never its content.

use age::secrecy::ExposeSecret;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Plain text that is wiped from memory when dropped.
pub struct Plain(Vec<u8>);

impl Plain {
    /// The text, when it is UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// An age recipient (`age1...`).
pub use age::x25519::Recipient;

impl Drop for Plain {
    fn drop(&mut self) {
        // Overwritten before it is freed, so the plain text does not linger in freed memory;
        // black_box keeps the compiler from dropping the writes.
        self.0.fill(0);
        std::hint::black_box(&self.0);
    }
}

impl fmt::Debug for Plain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Plain(******)")
    }
}

/// Why a file could not be encrypted or decrypted. Never holds plain text or keys.
#[derive(Debug)]
pub enum AgeError {
    /// A `-r` value or a line of a `-R` file is not an age recipient.
    BadRecipient { what: String },
    /// The identity file holds no usable identity.
    BadIdentity { path: PathBuf, reason: String },
    /// The file is not an age file, or it is damaged.
    NotAge { path: PathBuf, reason: String },
    /// None of the identities can open the file.
    NoMatchingIdentity { path: PathBuf, identity: PathBuf },
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl fmt::Display for AgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgeError::BadRecipient { what } => {
                write!(f, "{what} is not an age recipient (age1...)")
            }
            AgeError::BadIdentity { path, reason } => write!(
                f,
                "`{}` holds no age identity (AGE-SECRET-KEY-1...): {reason}",
                path.display()
            ),
            AgeError::NotAge { path, reason } => write!(
                f,
                "`{}` is not a readable age file ({reason}): was it encrypted with age or `runner secrets encrypt`, and copied whole?",
                path.display()
            ),
            AgeError::NoMatchingIdentity { path, identity } => write!(
                f,
                "the identity in `{}` cannot decrypt `{}`: it was encrypted to other recipients",
                identity.display(),
                path.display()
            ),
            AgeError::Io { path, source } => write!(f, "`{}`: {source}", path.display()),
        }
    }
}

impl std::error::Error for AgeError {}

/// Whether `bytes` look like an age file (binary or armored).
pub fn is_age(bytes: &[u8]) -> bool {
    bytes.starts_with(b"age-encryption.org/v1")
        || bytes.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
}

/// Parses recipients: `-r` values, then each recipient line of the `-R` files' texts.
pub fn recipients(
    given: &[String],
    files: &[(PathBuf, String)],
) -> Result<Vec<age::x25519::Recipient>, AgeError> {
    let mut out = Vec::new();
    for r in given {
        out.push(age::x25519::Recipient::from_str(r.trim()).map_err(|_| {
            AgeError::BadRecipient {
                what: format!("`{}`", r.trim()),
            }
        })?);
    }
    for (path, text) in files {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            out.push(age::x25519::Recipient::from_str(line).map_err(|_| {
                AgeError::BadRecipient {
                    what: format!("line {} of `{}`", i + 1, path.display()),
                }
            })?);
        }
    }
    Ok(out)
}

/// `plain` encrypted to `recipients`, armored (text that diffs and copies well).
pub fn encrypt(plain: &[u8], recipients: &[age::x25519::Recipient]) -> Result<Vec<u8>, AgeError> {
    let to = |e: std::io::Error| AgeError::Io {
        path: PathBuf::from("<encrypted output>"),
        source: e,
    };
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| AgeError::BadRecipient {
                what: format!("the recipient list ({e})"),
            })?;
    let mut out = Vec::new();
    let armored = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .map_err(to)?;
    let mut writer = encryptor.wrap_output(armored).map_err(to)?;
    writer.write_all(plain).map_err(to)?;
    writer.finish().and_then(|a| a.finish()).map_err(to)?;
    Ok(out)
}

/// The identities of an identity file.
pub struct Identities(Vec<Box<dyn age::Identity + Send + Sync>>);

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identities({} keys)", self.0.len())
    }
}

/// The identities in `text` (an identity file, as `age-keygen` writes it), read from `path`.
pub fn identities(path: &Path, text: &str) -> Result<Identities, AgeError> {
    let bad = |reason: String| AgeError::BadIdentity {
        path: path.to_path_buf(),
        reason,
    };
    let ids = age::IdentityFile::from_buffer(text.as_bytes())
        .map_err(|e| bad(e.kind().to_string()))?
        .into_identities()
        .map_err(|_| bad("it is not in a form runner reads".into()))?;
    if ids.is_empty() {
        return Err(bad("no identity line".into()));
    }
    Ok(Identities(ids))
}

/// Decrypts `bytes`, read from `path`, with `identities` (from `identity_path`).
pub fn decrypt(
    path: &Path,
    bytes: &[u8],
    identities: &Identities,
    identity_path: &Path,
) -> Result<Plain, AgeError> {
    let not_age = |reason: String| AgeError::NotAge {
        path: path.to_path_buf(),
        reason,
    };
    let decryptor = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(bytes))
        .map_err(|e| not_age(describe(&e)))?;
    let mut reader = decryptor
        .decrypt(
            identities
                .0
                .iter()
                .map(|i| i.as_ref() as &dyn age::Identity),
        )
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => AgeError::NoMatchingIdentity {
                path: path.to_path_buf(),
                identity: identity_path.to_path_buf(),
            },
            other => not_age(describe(&other)),
        })?;
    // The plain text is no longer than the file: reserved at once, the buffer never moves
    // (a moved buffer would leave a copy behind, unwiped).
    let mut plain = Plain(Vec::with_capacity(bytes.len()));
    reader
        .read_to_end(&mut plain.0)
        .map_err(|_| not_age("its content does not decrypt: damaged or cut".into()))?;
    Ok(plain)
}

/// The decryptor's reason, in a few words (never bytes of the file).
fn describe(e: &age::DecryptError) -> String {
    match e {
        age::DecryptError::InvalidHeader => "invalid header".into(),
        age::DecryptError::InvalidMac => "the header's MAC does not match".into(),
        age::DecryptError::UnknownFormat => "an unknown age version".into(),
        age::DecryptError::DecryptionFailed => "its content does not decrypt".into(),
        age::DecryptError::Io(_) => "it ends early or cannot be read".into(),
        _ => "it cannot be read".into(),
    }
}

/// The recipient of the (first) identity in an identity file.
pub fn recipient_of(path: &Path, text: &str) -> Result<Recipient, AgeError> {
    text.lines()
        .map(str::trim)
        .find_map(|l| age::x25519::Identity::from_str(l).ok())
        .map(|i| i.to_public())
        .ok_or_else(|| AgeError::BadIdentity {
            path: path.to_path_buf(),
            reason: "no X25519 identity line".into(),
        })
}

/// A new identity, as its file text (`# public key: age1...` then the secret key) and its
/// recipient.
pub fn generate() -> (Plain, age::x25519::Recipient) {
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public();
    let text = format!(
        "# created by runner secrets encrypt\n# public key: {recipient}\n{}\n",
        identity.to_string().expose_secret()
    );
    (Plain(text.into_bytes()), recipient)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors_that_name_only_files() {
        let (identity_text, recipient) = generate();
        let ids = identities(Path::new("id.txt"), identity_text.text().unwrap()).unwrap();
        let sealed = encrypt(b"SECRET_PW=aHVudGVyMg==\n", &[recipient]).unwrap();
        assert!(is_age(&sealed));
        let opened = decrypt(Path::new("f.age"), &sealed, &ids, Path::new("id.txt")).unwrap();
        assert_eq!(opened.text(), Some("SECRET_PW=aHVudGVyMg==\n"));
        let (other, _) = generate();
        let others = identities(Path::new("other.txt"), other.text().unwrap()).unwrap();
        let e = decrypt(Path::new("f.age"), &sealed, &others, Path::new("other.txt")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the identity in `other.txt` cannot decrypt `f.age`: it was encrypted to other recipients"
        );
        let mut cut = sealed.clone();
        cut.truncate(cut.len() / 2);
        let e = decrypt(Path::new("f.age"), &cut, &ids, Path::new("id.txt")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("`f.age` is not a readable age file"),
            "{e}"
        );
        assert!(format!("{opened:?}") == "Plain(******)");
        assert!(matches!(
            recipients(&["nope".into()], &[]),
            Err(AgeError::BadRecipient { .. })
        ));
    }
}
