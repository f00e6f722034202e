//! The full-text index behind `filter[query]` (SQLite FTS5). One row per upload, keyed by the
//! upload's `seq` and rewritten in the same transaction as every change to what it indexes.

use super::{Db, DbError, Dialect, Tx};
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

/// The query for `words` (each already locale-prefixed): all of them, the last as a prefix.
/// Words hold only letters, digits and `_` (see [`search_words`]), so quoting them is enough.
pub(super) fn search_expression(dialect: Dialect, words: &[String]) -> String {
    let last = words.len().saturating_sub(1);
    let terms = words.iter().enumerate().map(|(i, word)| match (dialect, i == last) {
        (Dialect::Sqlite, false) => format!("\"{word}\""),
        (Dialect::Sqlite, true) => format!("\"{word}\"*"),
        (Dialect::Postgres, false) => format!("'{word}'"),
        (Dialect::Postgres, true) => format!("'{word}':*"),
    });
    let separator = if dialect == Dialect::Sqlite { " AND " } else { " & " };
    terms.collect::<Vec<_>>().join(separator)
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
        let locales: Option<String> =
            on_tx!(tx, |conn| sqlx::query_scalar("SELECT value FROM settings WHERE key = 'search_locales'")
                .fetch_optional(conn)
                .await)?;
        let locales: Vec<&str> = locales.as_deref().unwrap_or_default().split(',').filter(|l| !l.is_empty()).collect();
        let row: Option<Indexed> = on_tx!(tx, |conn| sqlx::query_as(
            "SELECT seq AS rowid, basename, extension, notes, author, copyright, tags FROM uploads WHERE id = $1",
        )
        .bind(upload_id)
        .fetch_optional(conn)
        .await)?;
        let Some(row) = row else { return Ok(()) };
        let metadata: Vec<(String, Option<String>, Option<String>)> =
            on_tx!(tx, |conn| sqlx::query_as("SELECT locale, alt, title FROM upload_metadata WHERE upload_id = $1")
                .bind(upload_id)
                .fetch_all(conn)
                .await)?;
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
        let (delete, insert) = match tx.dialect() {
            Dialect::Sqlite => {
                ("DELETE FROM uploads_fts WHERE rowid = $1", "INSERT INTO uploads_fts (rowid, words) VALUES ($1, $2)")
            }
            // Literal lexemes: no parsing, no stemming, exactly the words SQLite indexes.
            Dialect::Postgres => (
                "DELETE FROM uploads_search WHERE seq = $1",
                "INSERT INTO uploads_search (seq, words) VALUES ($1, array_to_tsvector(string_to_array($2, ' ')))",
            ),
        };
        on_tx!(tx, |conn| sqlx::query(delete).bind(row.rowid).execute(conn).await.map(|r| r.rows_affected()))?;
        on_tx!(tx, |conn| sqlx::query(insert)
            .bind(row.rowid)
            .bind(words.join(" "))
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Removes the search row of an upload about to be deleted.
    pub async fn delete_search_document(tx: &mut Tx, upload_id: &str) -> Result<(), DbError> {
        let delete = match tx.dialect() {
            Dialect::Sqlite => "DELETE FROM uploads_fts WHERE rowid = (SELECT seq FROM uploads WHERE id = $1)",
            Dialect::Postgres => "DELETE FROM uploads_search WHERE seq = (SELECT seq FROM uploads WHERE id = $1)",
        };
        on_tx!(tx, |conn| sqlx::query(delete).bind(upload_id).execute(conn).await.map(|r| r.rows_affected()))?;
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
        on_write!(self, |pool| sqlx::query(set)
            .bind("search_locales")
            .bind(self.search_locales.join(","))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        let ids: Vec<(String, String, String)> =
            on_read!(self, |pool| sqlx::query_as("SELECT id, mime_type, colors FROM uploads").fetch_all(pool).await)?;
        tracing::info!(uploads = ids.len(), "rebuilding the search index");
        for batch in ids.chunks(1000) {
            let mut tx = self.begin_write().await?;
            for (id, mime_type, colors) in batch {
                on_tx!(&mut tx, |conn| sqlx::query("UPDATE uploads SET media_type = $1 WHERE id = $2")
                    .bind(media_type(mime_type))
                    .bind(id)
                    .execute(conn)
                    .await
                    .map(|r| r.rows_affected()))?;
                Self::refresh_search_document(&mut tx, id).await?;
                let colors = serde_json::from_str(colors).unwrap_or_default();
                Self::write_color_buckets(&mut tx, id, &colors).await?;
            }
            tx.commit().await?;
        }
        on_write!(self, |pool| sqlx::query(set)
            .bind("search_index_version")
            .bind(version)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
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

    #[test]
    fn search_expressions_per_dialect() {
        let words = vec!["en_cat".to_owned(), "en_do".to_owned()];
        assert_eq!(search_expression(Dialect::Sqlite, &words), "\"en_cat\" AND \"en_do\"*");
        assert_eq!(search_expression(Dialect::Postgres, &words), "'en_cat' & 'en_do':*");
    }
}
