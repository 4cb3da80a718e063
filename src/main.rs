use clap::Parser;

fn main() {
    let cli = fleetdeck::cli::Cli::parse();
    std::process::exit(fleetdeck::cli::run(cli));
}
