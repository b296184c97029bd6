//! The toy server on jemalloc (tikv-jemallocator: configure with `_RJEM_MALLOC_CONF`), counted.

use target_server::alloc::counting::Counting;

#[global_allocator]
static GLOBAL: Counting<tikv_jemallocator::Jemalloc> = Counting::new(tikv_jemallocator::Jemalloc);

fn main() -> std::process::ExitCode {
    target_server::main(target_server::Allocator::Jemalloc)
}
