fn main() -> std::process::ExitCode {
    // Output piped into a program that stops reading (`| head`) ends tdekey quietly, as it
    // ends other command-line tools, instead of a panic on the next print. A migration step
    // cut off this way is found *unknown* at the next run and read again before anything is
    // sent, as after any crash.
    // SAFETY: called first, before any thread starts; SIG_DFL is a valid handler.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // The crash tests' fault points (a build with the `failpoints` feature only).
    let _faults = tdekey::faults::setup();
    tdekey::cli::main()
}
