//! The toy server on jemalloc (tikv-jemallocator: configure with `_RJEM_MALLOC_CONF`).

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    target_server::main(target_server::Allocator::Jemalloc)
}
