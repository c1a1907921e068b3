//! Secrets (passwords, PINs) live only in these types: the memory is zeroized on drop and
//! `Debug` prints `***`. They have no `Display` and no `Serialize`, so a secret cannot reach a
//! log line, a settings file or an export by accident.

pub mod sealed;

use zeroize::{Zeroize, Zeroizing};

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
    pub fn from_file(path: &std::path::Path) -> std::io::Result<Secret> {
        let mut raw = Zeroizing::new(std::fs::read_to_string(path)?);
        let line = raw.lines().next().unwrap_or("").to_owned();
        raw.zeroize();
        Ok(Secret::new(line))
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
pub struct SecretBuffer(Zeroizing<String>);

impl SecretBuffer {
    /// Longest secret a field accepts (CloudHSM passwords are at most 32 characters; PINs on
    /// other HSMs are shorter still).
    pub const CAPACITY: usize = 256;

    pub fn new() -> Self {
        Self(Zeroizing::new(String::with_capacity(Self::CAPACITY)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Inserts text at a char index, refusing what would grow the buffer past its capacity.
    /// Returns the number of chars inserted.
    pub fn insert(&mut self, text: &str, char_index: usize) -> usize {
        let room = Self::CAPACITY.saturating_sub(self.0.len());
        let mut take = 0;
        let mut bytes = 0;
        for c in text.chars() {
            if bytes + c.len_utf8() > room {
                break;
            }
            bytes += c.len_utf8();
            take += 1;
        }
        let at = self
            .0
            .char_indices()
            .nth(char_index)
            .map_or(self.0.len(), |(i, _)| i);
        self.0.insert_str(at, &text[..bytes]);
        take
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
        if a < b {
            self.0.replace_range(a..b, "");
        }
    }

    pub fn clear(&mut self) {
        self.0.zeroize();
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
        let n = b.insert(&long, 2);
        assert!(n < 1000);
        assert!(b.as_str().len() <= SecretBuffer::CAPACITY);
        assert_eq!(b.0.capacity(), cap, "typing must not reallocate");
        b.clear();
        assert!(b.is_empty());
    }

    #[test]
    fn from_file_takes_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pin");
        std::fs::write(&p, "1234\nignored\n").unwrap();
        assert_eq!(Secret::from_file(&p).unwrap().expose(), "1234");
    }
}
