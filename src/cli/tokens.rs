//! `assetd tokens create|list|revoke`.

use anyhow::{bail, Context};
use serde_json::json;

use crate::{
    cli::command::{TokenAction, TokensArgs},
    db::{CreateTokenError, Db},
    domain::{format_iso_millis, new_entity_id, new_secret, now_millis, token_secret_hash},
};

pub async fn run(args: TokensArgs) -> anyhow::Result<()> {
    let db = Db::open_configured(&args.database).await?;
    let outcome = match args.action {
        TokenAction::Create { name, role } => {
            let name = name.trim();
            if name.is_empty() || name.len() > 100 {
                bail!("the token name must be 1-100 characters");
            }
            let secret = new_secret();
            let id = new_entity_id();
            match db.create_token(&id, name, role, &token_secret_hash(&secret), now_millis()).await {
                Ok(()) => {}
                Err(CreateTokenError::NameTaken(name)) => bail!("a token named {name:?} already exists"),
                Err(CreateTokenError::Db(error)) => return Err(error).context("creating the token"),
            }
            println!("created token {id} ({name}, {role})");
            println!("secret (shown only now): {secret}");
            Ok(())
        }
        TokenAction::List { json } => {
            let tokens = db.list_tokens().await.context("listing tokens")?;
            if !json {
                println!("{:<24} {:<12} {:<26} NAME", "ID", "ROLE", "CREATED");
            }
            for token in tokens {
                let created = format_iso_millis(token.created_at);
                if json {
                    let line = json!({ "id": token.id, "name": token.name, "role": token.role().as_str(), "created_at": created });
                    println!("{line}");
                } else {
                    println!("{:<24} {:<12} {:<26} {}", token.id, token.role().as_str(), created, token.name);
                }
            }
            Ok(())
        }
        TokenAction::Revoke { token } => match db.revoke_token(&token).await.context("revoking the token")? {
            Some(revoked) => {
                println!("revoked token {} ({})", revoked.id, revoked.name);
                Ok(())
            }
            None => bail!("no token has the id or name {token:?}"),
        },
    };
    db.close().await;
    outcome
}
