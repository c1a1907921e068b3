//! Reading text the person hands tdekey in a file or on standard input (host outputs, pastes):
//! at most [`MAX_PASTE_BYTES`](crate::model::MAX_PASTE_BYTES), only from a regular file (a FIFO
//! or a device is refused, not read: it could block for ever or never end), UTF-8, a leading
//! byte-order mark dropped.

use crate::model::MAX_PASTE_BYTES;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Why a file or standard input was not read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error(
        "{} is {kind}, not a regular file: tdekey does not read the {what} from it. Save the text in a file and name that file.",
        path.display()
    )]
    NotRegular {
        path: PathBuf,
        what: &'static str,
        kind: &'static str,
    },
    #[error(
        "{source_name} is larger than 1 MiB ({bytes} bytes or more): tdekey reads at most 1 MiB as the {what}. Check that it is the right file."
    )]
    TooLarge {
        source_name: String,
        what: &'static str,
        bytes: u64,
    },
    #[error("{source_name} is not UTF-8 text: save the {what} as UTF-8 and try again.")]
    NotText {
        source_name: String,
        what: &'static str,
    },
    #[error("Cannot read {source_name}: {detail}. Check the path and its permissions.")]
    Io { source_name: String, detail: String },
}

fn text(bytes: Vec<u8>, source_name: String, what: &'static str) -> Result<String, InputError> {
    if bytes.len() > MAX_PASTE_BYTES {
        return Err(InputError::TooLarge {
            source_name,
            what,
            bytes: bytes.len() as u64,
        });
    }
    let s = String::from_utf8(bytes).map_err(|_| InputError::NotText {
        source_name: source_name.clone(),
        what,
    })?;
    Ok(match s.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => s,
    })
}

/// Reads `path` (`what`: "host output", "paste") as described above.
pub fn read_text_file(path: &Path, what: &'static str) -> Result<String, InputError> {
    let io = |e: std::io::Error| InputError::Io {
        source_name: path.display().to_string(),
        detail: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    let ft = meta.file_type();
    if !ft.is_file() {
        let kind = if ft.is_dir() {
            "a directory"
        } else {
            #[cfg(unix)]
            {
                use std::os::unix::fs::FileTypeExt;
                if ft.is_fifo() {
                    "a FIFO (named pipe)"
                } else if ft.is_char_device() || ft.is_block_device() {
                    "a device"
                } else {
                    "not a regular file"
                }
            }
            #[cfg(not(unix))]
            "not a regular file"
        };
        return Err(InputError::NotRegular {
            path: path.to_path_buf(),
            what,
            kind,
        });
    }
    if meta.len() > MAX_PASTE_BYTES as u64 {
        return Err(InputError::TooLarge {
            source_name: path.display().to_string(),
            what,
            bytes: meta.len(),
        });
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_PASTE_BYTES as u64 + 1).read_to_end(&mut bytes))
        .map_err(io)?;
    text(bytes, path.display().to_string(), what)
}

/// Reads standard input to its end, or to one byte past the limit (then refused).
pub fn read_stdin(what: &'static str) -> Result<String, InputError> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_PASTE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| InputError::Io {
            source_name: "standard input".into(),
            detail: e.to_string(),
        })?;
    text(bytes, "Standard input".into(), what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_read_whole_with_a_bom_dropped_and_anything_else_refused() {
        let d = tempfile::tempdir().unwrap();
        let ok = d.path().join("out.txt");
        std::fs::write(&ok, "\u{feff}HOST db1\nEND\n").unwrap();
        assert_eq!(
            read_text_file(&ok, "host output").unwrap(),
            "HOST db1\nEND\n"
        );
        let big = d.path().join("big.txt");
        std::fs::write(&big, vec![b'a'; MAX_PASTE_BYTES + 1]).unwrap();
        let e = read_text_file(&big, "host output").unwrap_err().to_string();
        assert!(
            e.contains("larger than 1 MiB") && e.contains("big.txt"),
            "{e}"
        );
        let bin = d.path().join("bin");
        std::fs::write(&bin, [0xff, 0xfe, 0]).unwrap();
        let e = read_text_file(&bin, "paste").unwrap_err().to_string();
        assert!(e.contains("not UTF-8"), "{e}");
        #[cfg(unix)]
        {
            let fifo = d.path().join("fifo");
            let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            // Refused without opening it: opening a FIFO with no writer would block.
            let e = read_text_file(&fifo, "host output")
                .unwrap_err()
                .to_string();
            assert!(e.contains("FIFO"), "{e}");
            let e = read_text_file(Path::new("/dev/zero"), "paste")
                .unwrap_err()
                .to_string();
            assert!(e.contains("a device"), "{e}");
        }
    }
}
