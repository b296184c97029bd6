//! The toy server on glibc's ptmalloc (the system allocator).

fn main() -> std::process::ExitCode {
    target_server::main(target_server::Allocator::Glibc)
}
