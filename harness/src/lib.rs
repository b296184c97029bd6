//! allocstorm: a reproducible load-test harness for memory-allocator behaviour.

pub mod child;
pub mod load;

pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
