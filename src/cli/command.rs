//! The command line: `assetd <command>` and the arguments of each command (`serve` and `cleanup`
//! take the whole [`Config`]).

use clap::{Args, Parser, Subcommand};

use crate::{
    config::{Config, DatabaseArgs, LogFormat},
    domain::TokenRole,
};

#[derive(Debug, Parser)]
#[command(name = "assetd", version, about = "Self-hosted media service speaking the DatoCMS uploads API")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log lines as `text` (for people) or `json` (one object per line, for log shippers).
    #[arg(long, env = "ASSETD_LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API, asset delivery and the job worker.
    Serve(Box<Config>),
    /// Create, list and revoke API tokens (works while the server runs).
    Tokens(TokensArgs),
    /// Remove orphaned blobs and leftover temporary files once, print what was removed, and exit.
    Cleanup(Box<Config>),
    /// Upload a folder to a running server (resumable; files it already has are skipped).
    Import(super::transfer_args::ImportArgs),
    /// Download every upload of a running server, with a JSON manifest of their metadata.
    Export(super::transfer_args::ExportArgs),
    /// Create, list and delete webhooks and read their delivery log (works while the server runs).
    Webhooks(super::webhooks::WebhooksArgs),
}

/// `assetd tokens …`: the database to work on, and what to do.
#[derive(Debug, Args)]
pub struct TokensArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(subcommand)]
    pub action: TokenAction,
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Create a token; its secret is printed once and stored only as a hash.
    Create {
        /// A unique name (who or what uses the token).
        #[arg(long)]
        name: String,
        /// full-access, read-only (reads only) or upload-only (reads, and adding files).
        #[arg(long, default_value = "full-access", value_parser = parse_role)]
        role: TokenRole,
    },
    /// List the tokens (ids, names, roles; never secrets).
    List {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete a token, by id or name. Running nodes honour it within 30 s (their token cache).
    Revoke {
        /// The token's id or name.
        token: String,
    },
}

fn parse_role(value: &str) -> Result<TokenRole, String> {
    TokenRole::parse(value).ok_or_else(|| "the role must be full-access, read-only or upload-only".into())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn token_commands_parse() {
        let cli =
            Cli::try_parse_from(["assetd", "tokens", "create", "--name", "bot", "--role", "upload-only"]).unwrap();
        let Command::Tokens(TokensArgs { action: TokenAction::Create { name, role }, .. }) = cli.command else {
            panic!("not tokens create")
        };
        assert_eq!((name.as_str(), role), ("bot", TokenRole::UploadOnly));
        let cli = Cli::try_parse_from(["assetd", "tokens", "revoke", "bot", "--data-dir", "/tmp/x"]).unwrap();
        let Command::Tokens(TokensArgs { database, action: TokenAction::Revoke { token } }) = cli.command else {
            panic!("not tokens revoke")
        };
        assert_eq!((token.as_str(), database.data_dir), ("bot", PathBuf::from("/tmp/x")));
        assert!(Cli::try_parse_from(["assetd", "tokens", "create", "--name", "x", "--role", "admin"]).is_err());
    }
}
