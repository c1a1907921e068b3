fn main() -> std::process::ExitCode {
    tdekey::cli::main()
}
