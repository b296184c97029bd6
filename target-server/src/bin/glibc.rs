//! The toy server on glibc's ptmalloc (the system allocator), counted.

use target_server::alloc::counting::Counting;

#[global_allocator]
static GLOBAL: Counting<std::alloc::System> = Counting::new(std::alloc::System);

fn main() -> std::process::ExitCode {
    target_server::main(target_server::Allocator::Glibc)
}
