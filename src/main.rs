//! The `assetd` binary: parse the command line, then wire config → tracing → App → server + worker.

use anyhow::Context;
use assetd::{
    app::App,
    cli::{Cli, Command},
    telemetry,
};
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    match cli.command {
        Command::Serve(config) => {
            let app = App::build(*config).await.context("starting assetd")?;
            assetd::serve::serve_until_shutdown(app, telemetry::shutdown_signal()).await
        }
        Command::Tokens(args) => assetd::cli::tokens::run(args).await,
        Command::Webhooks(args) => assetd::cli::webhooks::run(args).await,
        Command::Cleanup(config) => {
            let report = assetd::cleanup::run_once(&config).await.context("cleaning up")?;
            println!("{report}");
            Ok(())
        }
        Command::Import(args) => assetd::cli::import::run(args).await,
        Command::Export(args) => assetd::cli::export::run(args).await,
    }
}
