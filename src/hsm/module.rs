//! Finding PKCS#11 modules on this machine and checking a path before loading it.

use super::HsmError;
use std::io::Read;
use std::path::{Path, PathBuf};

/// AWS CloudHSM Client SDK 5's PKCS#11 library.
pub const CLOUDHSM_MODULE: &str = "/opt/cloudhsm/lib/libcloudhsm_pkcs11.so";

/// Where Debian, Ubuntu, Fedora and source builds put SoftHSM2.
pub const SOFTHSM_MODULES: &[&str] = &[
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];

const P11KIT_MODULE_DIRS: &[&str] = &["/usr/share/p11-kit/modules", "/etc/pkcs11/modules"];
const P11KIT_LIB_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/pkcs11",
    "/usr/lib/aarch64-linux-gnu/pkcs11",
    "/usr/lib64/pkcs11",
    "/usr/lib/pkcs11",
];

/// A module found on this machine.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ModuleCandidate {
    pub path: PathBuf,
    /// Where it was found: "AWS CloudHSM", "SoftHSM2", "p11-kit: <name>".
    pub source: String,
}

/// Known modules that exist on this machine, CloudHSM first, duplicates (same file) removed.
pub fn detect_modules() -> Vec<ModuleCandidate> {
    let mut found: Vec<ModuleCandidate> = Vec::new();
    let mut push = |path: PathBuf, source: String| {
        if !path.is_file() {
            return;
        }
        let canon = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if found
            .iter()
            .any(|c| std::fs::canonicalize(&c.path).unwrap_or_else(|_| c.path.clone()) == canon)
        {
            return;
        }
        found.push(ModuleCandidate { path, source });
    };
    push(CLOUDHSM_MODULE.into(), "AWS CloudHSM".into());
    for p in SOFTHSM_MODULES {
        push(p.into(), "SoftHSM2".into());
    }
    for dir in P11KIT_MODULE_DIRS {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "module"))
            .collect();
        files.sort();
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let name = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some(module) = p11kit_module_path(&text) {
                push(module, format!("p11-kit: {name}"));
            }
        }
    }
    found
}

/// Reads the `module:` line of a p11-kit `.module` file; a bare file name is looked up in the
/// usual PKCS#11 library directories.
pub fn p11kit_module_path(text: &str) -> Option<PathBuf> {
    let value = text.lines().find_map(|line| {
        let line = line.trim();
        if line.starts_with('#') {
            return None;
        }
        let (k, v) = line.split_once(':')?;
        (k.trim() == "module").then(|| v.trim().to_owned())
    })?;
    if value.is_empty() {
        return None;
    }
    let p = PathBuf::from(&value);
    if p.is_absolute() {
        return Some(p);
    }
    P11KIT_LIB_DIRS
        .iter()
        .map(|d| Path::new(d).join(&value))
        .find(|c| c.is_file())
        .or(Some(Path::new(P11KIT_LIB_DIRS[0]).join(value)))
}

/// Checks that `path` is a file with an ELF header before anything tries to load it.
pub fn check_module_path(path: &Path) -> Result<(), HsmError> {
    let meta = std::fs::metadata(path).map_err(|_| HsmError::ModuleNotFound {
        path: path.to_path_buf(),
    })?;
    if meta.is_dir() {
        return Err(HsmError::ModuleIsDirectory {
            path: path.to_path_buf(),
        });
    }
    let mut magic = [0u8; 4];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic));
    match read {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(HsmError::LoadFailed {
            path: path.to_path_buf(),
            detail: "permission denied reading the file".to_owned(),
        }),
        Err(_) => Err(HsmError::NotASharedLibrary {
            path: path.to_path_buf(),
            detail: "the file is too short to be one".to_owned(),
        }),
        Ok(()) if magic != *b"\x7fELF" => Err(HsmError::NotASharedLibrary {
            path: path.to_path_buf(),
            detail: "it has no ELF header".to_owned(),
        }),
        Ok(()) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p11kit_module_lines() {
        assert_eq!(
            p11kit_module_path("# comment\nmodule: /opt/x/libx.so\ncritical: no\n"),
            Some(PathBuf::from("/opt/x/libx.so"))
        );
        assert!(p11kit_module_path("critical: no\n").is_none());
        let rel = p11kit_module_path("module: opensc-pkcs11.so").unwrap();
        assert!(rel.ends_with("opensc-pkcs11.so"));
    }

    #[test]
    fn path_checks_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            check_module_path(&dir.path().join("nope.so")),
            Err(HsmError::ModuleNotFound { .. })
        ));
        assert!(matches!(
            check_module_path(dir.path()),
            Err(HsmError::ModuleIsDirectory { .. })
        ));
        let text = dir.path().join("notes.so");
        std::fs::write(&text, "hello, not a library").unwrap();
        let e = check_module_path(&text).unwrap_err();
        assert!(e.to_string().contains("no ELF header"), "{e}");
        let empty = dir.path().join("empty.so");
        std::fs::write(&empty, "").unwrap();
        assert!(matches!(
            check_module_path(&empty),
            Err(HsmError::NotASharedLibrary { .. })
        ));
    }
}
