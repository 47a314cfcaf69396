//! The `relay` binary.

/// mimalloc instead of the system allocator: relay allocates many short-lived buffers per
/// request, where glibc's malloc showed up as a tenth of the profile under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(relay_server::cli::main());
}
