fn main() -> std::process::ExitCode {
    allocstorm::main()
}
