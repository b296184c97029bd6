//! The toy server on mimalloc, counted.

use target_server::alloc::counting::Counting;

#[global_allocator]
static GLOBAL: Counting<mimalloc::MiMalloc> = Counting::new(mimalloc::MiMalloc);

fn main() -> std::process::ExitCode {
    target_server::main(target_server::Allocator::Mimalloc)
}
