//! The full-text index behind `filter[query]` (SQLite FTS5). One row per upload, keyed by the
//! upload's `seq` and rewritten in the same transaction as every change to what it indexes.

use super::{Db, DbError, Tx};
use crate::domain::media_type;

/// Bump when what is indexed (or how) changes: the index is rebuilt at the next start (so it is
/// when the environment's locales change).
const SEARCH_INDEX_VERSION: &str = "3";

/// Every indexed word carries the prefix of the locale whose document it is in.
pub fn locale_prefix(locale: &str) -> String {
    let mut prefix: String = locale.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_lowercase();
    prefix.push('_');
    prefix
}

/// Splits text into the words the FTS tokenizer keeps (letters, digits and `_`), lowercased.
pub fn search_words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

#[derive(sqlx::FromRow)]
struct Indexed {
    rowid: i64,
    basename: String,
    extension: Option<String>,
    notes: Option<String>,
    author: Option<String>,
    copyright: Option<String>,
    tags: String,
}

impl Db {
    /// Rewrites the search row of `upload_id` from its current data.
    /// The locales come from the `search_locales` setting, written when the index was (re)built.
    pub async fn refresh_search_document(tx: &mut Tx, upload_id: &str) -> Result<(), DbError> {
        let locales: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = 'search_locales'")
            .fetch_optional(&mut **tx)
            .await?;
        let locales: Vec<&str> = locales.as_deref().unwrap_or_default().split(',').filter(|l| !l.is_empty()).collect();
        let row: Option<Indexed> = sqlx::query_as(
            "SELECT seq AS rowid, basename, extension, notes, author, copyright, tags FROM uploads WHERE id = $1",
        )
        .bind(upload_id)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = row else { return Ok(()) };
        let metadata: Vec<(String, Option<String>, Option<String>)> =
            sqlx::query_as("SELECT locale, alt, title FROM upload_metadata WHERE upload_id = $1")
                .bind(upload_id)
                .fetch_all(&mut **tx)
                .await?;
        let tags: Vec<String> = serde_json::from_str(&row.tags).unwrap_or_default();
        let filename = match &row.extension {
            Some(ext) => format!("{}.{ext}", row.basename),
            None => row.basename.clone(),
        };
        let shared: Vec<String> = [Some(row.basename), Some(filename), row.notes, row.author, row.copyright]
            .into_iter()
            .flatten()
            .chain(tags)
            .flat_map(|text| search_words(&text))
            .collect();
        let mut words = Vec::new();
        for locale in locales {
            let prefix = locale_prefix(locale);
            let own = metadata.iter().filter(|(l, _, _)| l == locale).flat_map(|(_, alt, title)| [alt, title]);
            let own_words = own.flatten().flat_map(|text| search_words(text));
            words.extend(shared.iter().cloned().chain(own_words).map(|word| format!("{prefix}{word}")));
        }
        sqlx::query("DELETE FROM uploads_fts WHERE rowid = $1").bind(row.rowid).execute(&mut **tx).await?;
        sqlx::query("INSERT INTO uploads_fts (rowid, words) VALUES ($1, $2)")
            .bind(row.rowid)
            .bind(words.join(" "))
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Removes the search row of an upload about to be deleted.
    pub async fn delete_search_document(tx: &mut Tx, upload_id: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM uploads_fts WHERE rowid = (SELECT seq FROM uploads WHERE id = $1)")
            .bind(upload_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Rebuilds the search index and the derived `media_type` and colour buckets when their version
    /// changed.
    pub async fn rebuild_search_index_if_stale(&self) -> Result<(), DbError> {
        let version = format!("{SEARCH_INDEX_VERSION}:{}", self.search_locales.join(","));
        if self.setting("search_index_version").await?.as_deref() == Some(version.as_str()) {
            return Ok(());
        }
        let set =
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
        sqlx::query(set).bind("search_locales").bind(self.search_locales.join(",")).execute(&self.writer).await?;
        let ids: Vec<(String, String, String)> =
            sqlx::query_as("SELECT id, mime_type, colors FROM uploads").fetch_all(&self.pool).await?;
        tracing::info!(uploads = ids.len(), "rebuilding the search index");
        for batch in ids.chunks(1000) {
            let mut tx = self.begin_write().await?;
            for (id, mime_type, colors) in batch {
                sqlx::query("UPDATE uploads SET media_type = $1 WHERE id = $2")
                    .bind(media_type(mime_type))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                Self::refresh_search_document(&mut tx, id).await?;
                let colors = serde_json::from_str(colors).unwrap_or_default();
                Self::write_color_buckets(&mut tx, id, &colors).await?;
            }
            tx.commit().await?;
        }
        sqlx::query(set).bind("search_index_version").bind(version).execute(&self.writer).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_prefixes() {
        assert_eq!(search_words("Digital-cats, été!"), vec!["digital", "cats", "été"]);
        assert_eq!(locale_prefix("pt-BR"), "ptbr_");
    }
}
