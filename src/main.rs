//! The `powertune` binary: a thin shell over the library's command line.

fn main() {
    std::process::exit(powertune::cli::main());
}
