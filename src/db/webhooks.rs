//! `webhooks`, `webhook_calls` (the outbox and delivery log) and `webhook_call_attempts`.

use super::{Db, DbError, Tx};

/// A registered webhook. `headers` and `events` are JSON text.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookRow {
    pub id: String,
    pub name: String,
    pub url: String,
    pub headers: String,
    pub events: String,
    pub custom_payload: Option<String>,
    pub http_basic_user: Option<String>,
    pub http_basic_password: Option<String>,
    pub enabled: bool,
    pub payload_api_version: String,
    pub nested_items_in_payload: bool,
    pub auto_retry: bool,
    pub secret: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const WEBHOOK_COLUMNS: &str = "id, name, url, headers, events, custom_payload, http_basic_user, http_basic_password, \
     enabled, payload_api_version, nested_items_in_payload, auto_retry, secret, created_at, updated_at";

/// One event for one webhook, with its latest attempt.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookCallRow {
    pub id: String,
    pub webhook_id: String,
    pub entity_type: String,
    pub event_type: String,
    pub entity_id: String,
    /// The event document as recorded (the per-attempt fields are added when it is sent).
    pub payload: String,
    /// `pending` (not sent yet), `rescheduled` (failed, a retry is queued), `success`, `failed`.
    pub status: String,
    pub attempts: i64,
    pub request_url: Option<String>,
    pub request_headers: Option<String>,
    pub request_payload: Option<String>,
    pub response_status: Option<i64>,
    pub response_headers: Option<String>,
    pub response_payload: Option<String>,
    pub error: Option<String>,
    pub created_at: i64,
    pub last_sent_at: Option<i64>,
    pub next_retry_at: Option<i64>,
}

const CALL_COLUMNS: &str = "id, webhook_id, entity_type, event_type, entity_id, payload, status, attempts, \
     request_url, request_headers, request_payload, response_status, response_headers, response_payload, error, \
     created_at, last_sent_at, next_retry_at";

/// One delivery attempt of a call.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookAttemptRow {
    pub call_id: String,
    pub number: i64,
    pub sent_at: i64,
    pub duration_ms: i64,
    pub response_status: Option<i64>,
    pub error: Option<String>,
}

/// What one attempt sent and got back.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub sent_at: i64,
    pub duration_ms: i64,
    pub request_url: String,
    pub request_headers: String,
    pub request_payload: String,
    pub response_status: Option<i64>,
    pub response_headers: Option<String>,
    pub response_payload: Option<String>,
    pub error: Option<String>,
    /// The call's status after this attempt.
    pub status: &'static str,
    pub next_retry_at: Option<i64>,
}

/// Filters of the delivery log listing.
#[derive(Debug, Clone, Default)]
pub struct WebhookCallQuery {
    pub ids: Option<Vec<String>>,
    pub webhook_id: Option<String>,
    pub status: Option<String>,
    pub entity_type: Option<String>,
    pub event_type: Option<String>,
    /// A column of `webhook_calls` and a direction (checked by the caller against a fixed list).
    pub order: (&'static str, bool),
    pub offset: i64,
    pub limit: i64,
}

impl Db {
    pub async fn insert_webhook(&self, row: &WebhookRow) -> Result<(), DbError> {
        on_write!(self, |pool| sqlx::query(&format!(
            "INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
             $14, $15)"
        ))
        .bind(&row.id)
        .bind(&row.name)
        .bind(&row.url)
        .bind(&row.headers)
        .bind(&row.events)
        .bind(&row.custom_payload)
        .bind(&row.http_basic_user)
        .bind(&row.http_basic_password)
        .bind(row.enabled)
        .bind(&row.payload_api_version)
        .bind(row.nested_items_in_payload)
        .bind(row.auto_retry)
        .bind(&row.secret)
        .bind(row.created_at)
        .bind(row.updated_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Replaces every attribute but id, secret and creation time. False if it does not exist.
    pub async fn update_webhook(&self, row: &WebhookRow) -> Result<bool, DbError> {
        let updated = on_write!(self, |pool| sqlx::query(
            r#"UPDATE webhooks SET name = $1, url = $2, headers = $3, events = $4, custom_payload = $5,
                   http_basic_user = $6, http_basic_password = $7, enabled = $8, payload_api_version = $9,
                   nested_items_in_payload = $10, auto_retry = $11, updated_at = $12
               WHERE id = $13"#
        )
        .bind(&row.name)
        .bind(&row.url)
        .bind(&row.headers)
        .bind(&row.events)
        .bind(&row.custom_payload)
        .bind(&row.http_basic_user)
        .bind(&row.http_basic_password)
        .bind(row.enabled)
        .bind(&row.payload_api_version)
        .bind(row.nested_items_in_payload)
        .bind(row.auto_retry)
        .bind(row.updated_at)
        .bind(&row.id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(updated == 1)
    }

    pub async fn find_webhook(&self, id: &str) -> Result<Option<WebhookRow>, DbError> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1");
        Ok(on_read!(self, |pool| sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?)
    }

    /// By id, else by name (the command line takes either).
    pub async fn find_webhook_by_id_or_name(&self, id_or_name: &str) -> Result<Option<WebhookRow>, DbError> {
        let sql =
            format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1");
        Ok(on_read!(self, |pool| sqlx::query_as(&sql).bind(id_or_name).fetch_optional(pool).await)?)
    }

    /// Every webhook, oldest first.
    pub async fn list_webhooks(&self) -> Result<Vec<WebhookRow>, DbError> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, id");
        Ok(on_read!(self, |pool| sqlx::query_as(&sql).fetch_all(pool).await)?)
    }

    /// Enabled webhooks, read inside the transaction that records an event.
    pub async fn list_enabled_webhooks_in(tx: &mut Tx) -> Result<Vec<WebhookRow>, DbError> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE enabled = $1 ORDER BY created_at, id");
        Ok(on_tx!(tx, |conn| sqlx::query_as(&sql).bind(true).fetch_all(conn).await)?)
    }

    /// Deletes a webhook and (cascading) its delivery log; queued deliveries find nothing to send.
    pub async fn delete_webhook(&self, id: &str) -> Result<bool, DbError> {
        let deleted = on_write!(self, |pool| sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(deleted == 1)
    }

    /// Records a call (status `pending`) in the caller's transaction.
    pub async fn insert_webhook_call(tx: &mut Tx, call: &WebhookCallRow) -> Result<(), DbError> {
        on_tx!(tx, |conn| sqlx::query(
            r#"INSERT INTO webhook_calls (id, webhook_id, entity_type, event_type, entity_id, payload, status,
                   attempts, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8)"#
        )
        .bind(&call.id)
        .bind(&call.webhook_id)
        .bind(&call.entity_type)
        .bind(&call.event_type)
        .bind(&call.entity_id)
        .bind(&call.payload)
        .bind(&call.status)
        .bind(call.created_at)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn find_webhook_call(&self, id: &str) -> Result<Option<WebhookCallRow>, DbError> {
        let sql = format!("SELECT {CALL_COLUMNS} FROM webhook_calls WHERE id = $1");
        Ok(on_read!(self, |pool| sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?)
    }

    /// A page of the delivery log and the total count of matching calls.
    pub async fn list_webhook_calls(&self, query: &WebhookCallQuery) -> Result<(Vec<WebhookCallRow>, i64), DbError> {
        let mut conditions = Vec::new();
        let mut values: Vec<String> = Vec::new();
        let mut push = |column: &str, value: &str| {
            values.push(value.to_owned());
            conditions.push(format!("{column} = ${}", values.len()));
        };
        if let Some(value) = &query.webhook_id {
            push("webhook_id", value);
        }
        if let Some(value) = &query.status {
            push("status", value);
        }
        if let Some(value) = &query.entity_type {
            push("entity_type", value);
        }
        if let Some(value) = &query.event_type {
            push("event_type", value);
        }
        if let Some(ids) = &query.ids {
            let mut placeholders = Vec::new();
            for id in ids {
                values.push(id.clone());
                placeholders.push(format!("${}", values.len()));
            }
            conditions.push(if placeholders.is_empty() {
                "1 = 0".to_owned()
            } else {
                format!("id IN ({})", placeholders.join(", "))
            });
        }
        let filter = if conditions.is_empty() { String::new() } else { format!(" WHERE {}", conditions.join(" AND ")) };
        let (column, ascending) = query.order;
        let direction = if ascending { "ASC" } else { "DESC" };
        let page_sql = format!(
            "SELECT {CALL_COLUMNS} FROM webhook_calls{filter} ORDER BY {column} {direction}, id {direction} \
             LIMIT {} OFFSET {}",
            query.limit, query.offset
        );
        let count_sql = format!("SELECT COUNT(*) FROM webhook_calls{filter}");
        let rows = on_read!(self, |pool| {
            let mut q = sqlx::query_as(&page_sql);
            for value in &values {
                q = q.bind(value);
            }
            q.fetch_all(pool).await
        })?;
        let total = on_read!(self, |pool| {
            let mut q = sqlx::query_scalar(&count_sql);
            for value in &values {
                q = q.bind(value);
            }
            q.fetch_one(pool).await
        })?;
        Ok((rows, total))
    }

    /// Every attempt of these calls, by call then number.
    pub async fn list_webhook_attempts(&self, call_ids: &[String]) -> Result<Vec<WebhookAttemptRow>, DbError> {
        if call_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=call_ids.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT call_id, number, sent_at, duration_ms, response_status, error FROM webhook_call_attempts \
             WHERE call_id IN ({}) ORDER BY call_id, number",
            placeholders.join(", ")
        );
        Ok(on_read!(self, |pool| {
            let mut q = sqlx::query_as(&sql);
            for id in call_ids {
                q = q.bind(id);
            }
            q.fetch_all(pool).await
        })?)
    }

    /// The call and its webhook, read in the delivery's transaction.
    pub async fn find_webhook_call_in(tx: &mut Tx, id: &str) -> Result<Option<WebhookCallRow>, DbError> {
        let sql = format!("SELECT {CALL_COLUMNS} FROM webhook_calls WHERE id = $1");
        Ok(on_tx!(tx, |conn| sqlx::query_as(&sql).bind(id).fetch_optional(conn).await)?)
    }

    /// Stores an attempt: the call's latest request/response and status, and an attempt row.
    /// False if the call is gone (its webhook was deleted meanwhile).
    pub async fn record_webhook_attempt(tx: &mut Tx, call_id: &str, attempt: &AttemptRecord) -> Result<bool, DbError> {
        let number: Option<i64> = on_tx!(tx, |conn| {
            sqlx::query_scalar(
            r#"UPDATE webhook_calls SET attempts = attempts + 1, status = $1, request_url = $2, request_headers = $3,
                   request_payload = $4, response_status = $5, response_headers = $6, response_payload = $7,
                   error = $8, last_sent_at = $9, next_retry_at = $10
               WHERE id = $11 RETURNING attempts"#
        )
        .bind(attempt.status)
        .bind(&attempt.request_url)
        .bind(&attempt.request_headers)
        .bind(&attempt.request_payload)
        .bind(attempt.response_status)
        .bind(&attempt.response_headers)
        .bind(&attempt.response_payload)
        .bind(&attempt.error)
        .bind(attempt.sent_at)
        .bind(attempt.next_retry_at)
        .bind(call_id)
        .fetch_optional(conn)
        .await
        })?;
        let Some(number) = number else { return Ok(false) };
        on_tx!(tx, |conn| sqlx::query(
            r#"INSERT INTO webhook_call_attempts (call_id, number, sent_at, duration_ms, response_status, error)
               VALUES ($1, $2, $3, $4, $5, $6)"#
        )
        .bind(call_id)
        .bind(number)
        .bind(attempt.sent_at)
        .bind(attempt.duration_ms)
        .bind(attempt.response_status)
        .bind(&attempt.error)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(true)
    }

    /// Sets a call's status without an attempt (a disabled webhook, a resend being queued).
    pub async fn set_webhook_call_status(
        tx: &mut Tx,
        call_id: &str,
        status: &str,
        error: Option<&str>,
    ) -> Result<bool, DbError> {
        let updated = on_tx!(tx, |conn| sqlx::query(
            "UPDATE webhook_calls SET status = $1, error = COALESCE($2, error), next_retry_at = NULL WHERE id = $3"
        )
        .bind(status)
        .bind(error)
        .bind(call_id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(updated == 1)
    }

    /// Forgets finished calls (success or failed) created before `cutoff`, with their attempts.
    pub async fn delete_finished_webhook_calls_before(&self, cutoff: i64) -> Result<u64, DbError> {
        let deleted = on_write!(self, |pool| sqlx::query(
            "DELETE FROM webhook_calls WHERE created_at < $1 AND status IN ('success', 'failed')"
        )
        .bind(cutoff)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(deleted)
    }
}
