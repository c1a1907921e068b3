//! A process held at a fault point behind a FIFO barrier (the `failpoints` feature's
//! `return(wait:<fifo>)`), for the crash and shared-store tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;

/// A FIFO at `path` (mode 0600).
pub fn mkfifo(path: &Path) {
    let cpath = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(
        unsafe { libc::mkfifo(cpath.as_ptr(), 0o600) },
        0,
        "{}",
        path.display()
    );
}

/// A process held at a fault point until the test lets it go : the
/// point's action is `return(wait:<fifo>)`; [`Held::arrived`] returns once the process has
/// opened the FIFO (it stands at the point); dropping what it returned lets it go on. A process
/// that ends without reaching the point fails the test with its output instead of hanging it.
pub struct Held {
    fifo: PathBuf,
    pid: u32,
    done: mpsc::Receiver<Output>,
}

impl Held {
    /// Starts `c` with `FAILPOINTS=<point>=return(wait:<dir>/<name>.fifo)`.
    pub fn spawn(dir: &Path, name: &str, mut c: Command, point: &str) -> Held {
        let fifo = dir.join(format!("{name}.fifo"));
        mkfifo(&fifo);
        c.env(
            "FAILPOINTS",
            format!("{point}=return(wait:{})", fifo.display()),
        );
        Held::start(c, fifo)
    }

    /// [`Held::spawn`] held at the point's first hit only: later hits pass (a point that
    /// is hit again, as a save is, would otherwise wait for a barrier that never opens again).
    pub fn spawn_once(dir: &Path, name: &str, mut c: Command, point: &str) -> Held {
        let fifo = dir.join(format!("{name}.fifo"));
        mkfifo(&fifo);
        c.env(
            "FAILPOINTS",
            format!("{point}=1*return(wait:{})", fifo.display()),
        );
        Held::start(c, fifo)
    }

    /// Starts `c`, which waits at `fifo` by itself (a barrier of its own, not a fault point).
    pub fn start(mut c: Command, fifo: PathBuf) -> Held {
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child: Child = c.spawn().unwrap();
        let pid = child.id();
        let (tx, done) = mpsc::channel();
        let f = fifo.clone();
        std::thread::spawn(move || {
            let out = child.wait_with_output().unwrap();
            let _ = tx.send(out);
            // Unblocks a writer still waiting for a reader that will never come.
            use std::os::unix::fs::OpenOptionsExt;
            let _ = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&f);
        });
        Held { fifo, pid, done }
    }

    /// Waits until the process stands at its point; it stays there while the result lives.
    pub fn arrived(&self) -> std::fs::File {
        let w = std::fs::OpenOptions::new()
            .write(true)
            .open(&self.fifo)
            .unwrap();
        if let Ok(out) = self.done.try_recv() {
            panic!(
                "the process ended before its fault point ({:?}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        w
    }

    /// Whether the process has ended (without waiting).
    pub fn ended(&self) -> Option<Output> {
        self.done.try_recv().ok()
    }

    /// SIGKILL, while it stands at its point (so its pid is still its own); returns once it
    /// has ended.
    pub fn kill(self) -> Output {
        // SAFETY: the pid of our child, not reaped yet (it stands at its point).
        assert_eq!(
            unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGKILL) },
            0
        );
        self.done.recv().unwrap()
    }

    pub fn finish(self) -> (i32, String, String) {
        let out = self.done.recv().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}
