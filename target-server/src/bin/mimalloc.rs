//! The toy server on mimalloc.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    target_server::main(target_server::Allocator::Mimalloc)
}
