//! Secrets (passwords, PINs) live only in these types: the memory is zeroized on drop and
//! `Debug` prints `***`. They have no `Display` and no `Serialize`, so a secret cannot reach a
//! log line, a settings file or an export by accident.

pub mod sealed;

use zeroize::{Zeroize, Zeroizing};

/// The longest secret tdekey takes, in bytes (UTF-8). A longer one is refused with
/// [`too_long`]'s sentence wherever it comes from (a prompt, an environment variable, a file, a
/// field of the window): a secret is taken whole or not at all, never shortened.
pub const MAX_SECRET_BYTES: usize = 256;

/// The sentence that refuses a secret (`what`: "HSM password", "backup passphrase") of `len`
/// bytes. It never holds the secret.
pub fn too_long(what: &str, len: usize) -> String {
    format!(
        "The {what} is {len} bytes long; tdekey takes at most {MAX_SECRET_BYTES} bytes and never shortens a secret. Use a shorter one."
    )
}

/// The largest file a secret is read from (its first line is the secret).
const MAX_SECRET_FILE_BYTES: u64 = 4096;

/// A password or PIN.
#[derive(Clone, Default)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret text. Call only where the secret is handed to the HSM or Oracle.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Builds the CloudHSM form `user:password` without an intermediate non-zeroizing copy.
    pub fn joined_with_user(&self, user: &str) -> Secret {
        let mut s = Zeroizing::new(String::with_capacity(user.len() + 1 + self.0.len()));
        s.push_str(user);
        s.push(':');
        s.push_str(&self.0);
        Secret(s)
    }

    /// Reads a secret from a file: the first line, without its line ending.
    /// A first line longer than [`MAX_SECRET_BYTES`], or a file larger than 4 KiB, is refused.
    pub fn from_file(path: &std::path::Path) -> std::io::Result<Secret> {
        use std::io::Read;
        let mut raw = Zeroizing::new(Vec::new());
        std::fs::File::open(path)?
            .take(MAX_SECRET_FILE_BYTES + 1)
            .read_to_end(&mut raw)?;
        if raw.len() as u64 > MAX_SECRET_FILE_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the file is larger than 4 KiB, too large to hold a secret on its first line",
            ));
        }
        let text = std::str::from_utf8(&raw).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text")
        })?;
        let line = text.lines().next().unwrap_or("");
        if line.len() > MAX_SECRET_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "its first line is {} bytes; tdekey takes at most {MAX_SECRET_BYTES} bytes as a secret and never shortens one",
                    line.len()
                ),
            ));
        }
        Ok(Secret::new(line.to_owned()))
    }

    /// This secret, or [`too_long`]'s sentence when it is longer than [`MAX_SECRET_BYTES`].
    pub fn within_limit(self, what: &str) -> Result<Secret, String> {
        if self.0.len() > MAX_SECRET_BYTES {
            Err(too_long(what, self.0.len()))
        } else {
            Ok(self)
        }
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret::new(s.to_owned())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// An editable secret for a text field: the buffer is allocated once with room to spare, so
/// typing never reallocates and leaves no stale copy behind; it is zeroized on drop and on clear.
/// Text that does not fit is not taken at all (never a part of it), and the buffer remembers
/// that it refused some, for the field to say so.
pub struct SecretBuffer(Zeroizing<String>, bool);

impl SecretBuffer {
    /// Longest secret a field accepts, in bytes (CloudHSM passwords are at most 32 characters;
    /// PINs on other HSMs are shorter still).
    pub const CAPACITY: usize = MAX_SECRET_BYTES;

    pub fn new() -> Self {
        Self(Zeroizing::new(String::with_capacity(Self::CAPACITY)), false)
    }

    /// Whether the last insertion was refused because it would not fit.
    pub fn refused(&self) -> bool {
        self.1
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Inserts text at a char index, whole, or nothing at all when it would grow the buffer
    /// past its capacity (then [`SecretBuffer::refused`] is true until the next edit).
    /// Returns the number of chars inserted.
    pub fn insert(&mut self, text: &str, char_index: usize) -> usize {
        if self.0.len() + text.len() > Self::CAPACITY {
            self.1 = true;
            return 0;
        }
        self.1 = false;
        let at = self
            .0
            .char_indices()
            .nth(char_index)
            .map_or(self.0.len(), |(i, _)| i);
        self.0.insert_str(at, text);
        text.chars().count()
    }

    /// Deletes the chars in `range` (char indices).
    pub fn delete(&mut self, range: std::ops::Range<usize>) {
        let to_byte = |ci: usize| {
            self.0
                .char_indices()
                .nth(ci)
                .map_or(self.0.len(), |(i, _)| i)
        };
        let (a, b) = (to_byte(range.start), to_byte(range.end));
        self.1 = false;
        if a < b {
            self.0.replace_range(a..b, "");
        }
    }

    pub fn clear(&mut self) {
        self.0.zeroize();
        self.1 = false;
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Copies the text into a [`Secret`] (itself zeroizing).
    pub fn to_secret(&self) -> Secret {
        Secret::new(self.0.as_str().to_owned())
    }
}

impl Default for SecretBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for SecretBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBuffer(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value() {
        let s = Secret::from("hunter2-pin");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        let mut b = SecretBuffer::new();
        b.insert("hunter2", 0);
        assert!(!format!("{b:?}").contains("hunter2"));
    }

    #[test]
    fn cloudhsm_form_joins_user_and_password() {
        let s = Secret::from("pw");
        assert_eq!(s.joined_with_user("cu1").expose(), "cu1:pw");
    }

    #[test]
    fn buffer_edits_by_char_and_never_reallocates() {
        let mut b = SecretBuffer::new();
        let cap = b.0.capacity();
        assert_eq!(b.insert("aé", 0), 2);
        assert_eq!(b.insert("Z", 1), 1);
        assert_eq!(b.as_str(), "aZé");
        b.delete(0..1);
        assert_eq!(b.as_str(), "Zé");
        let long = "x".repeat(1000);
        // Too long: nothing of it is taken (never a shortened secret), and the field knows.
        assert_eq!(b.insert(&long, 2), 0);
        assert_eq!(b.as_str(), "Zé");
        assert!(b.refused());
        let fits = "y".repeat(SecretBuffer::CAPACITY - b.as_str().len());
        assert_eq!(b.insert(&fits, 2), fits.len());
        assert!(!b.refused());
        assert_eq!(b.as_str().len(), SecretBuffer::CAPACITY);
        assert_eq!(b.insert("z", 0), 0, "one byte more is refused");
        assert!(b.refused());
        assert_eq!(b.0.capacity(), cap, "typing must not reallocate");
        b.clear();
        assert!(b.is_empty());
    }

    #[test]
    fn secrets_over_the_limit_are_refused_never_shortened() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("long");
        let long = "p".repeat(MAX_SECRET_BYTES + 1);
        std::fs::write(&p, format!("{long}\n")).unwrap();
        let e = Secret::from_file(&p).unwrap_err().to_string();
        assert!(e.contains("257 bytes") && !e.contains("ppp"), "{e}");
        let exact = "q".repeat(MAX_SECRET_BYTES);
        std::fs::write(&p, format!("{exact}\n")).unwrap();
        assert_eq!(Secret::from_file(&p).unwrap().expose(), exact);
        std::fs::write(&p, vec![b'a'; 5000]).unwrap();
        assert!(
            Secret::from_file(&p)
                .unwrap_err()
                .to_string()
                .contains("4 KiB")
        );
        let e = Secret::from(long.as_str())
            .within_limit("backup passphrase")
            .unwrap_err();
        assert_eq!(
            e,
            "The backup passphrase is 257 bytes long; tdekey takes at most 256 bytes and never shortens a secret. Use a shorter one."
        );
        assert!(Secret::from(exact.as_str()).within_limit("x").is_ok());
    }

    #[test]
    fn from_file_takes_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pin");
        std::fs::write(&p, "1234\nignored\n").unwrap();
        assert_eq!(Secret::from_file(&p).unwrap().expose(), "1234");
    }
}
