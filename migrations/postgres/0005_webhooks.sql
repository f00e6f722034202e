-- Webhooks (issue 7): URLs that receive a signed POST when an upload is created, updated or
-- deleted. `headers` (an object of strings) and `events` (the DatoCMS event list) are JSON text.
-- `secret` signs every delivery (X-Assetd-Signature); it must be readable to sign, so it is
-- stored as is, like the HTTP basic password.
CREATE TABLE webhooks (
    id                      TEXT COLLATE "C" PRIMARY KEY,
    name                    TEXT NOT NULL UNIQUE,
    url                     TEXT NOT NULL,
    headers                 TEXT NOT NULL,
    events                  TEXT NOT NULL,
    custom_payload          TEXT,
    http_basic_user         TEXT,
    http_basic_password     TEXT,
    enabled                 BOOLEAN NOT NULL,
    payload_api_version     TEXT NOT NULL,
    nested_items_in_payload BOOLEAN NOT NULL,
    auto_retry              BOOLEAN NOT NULL,
    secret                  TEXT NOT NULL,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);

-- The delivery log and outbox: one row per (event, webhook), written in the transaction that
-- commits the upload change; a `deliver_webhook` job (same transaction) sends it. The request and
-- response columns describe the latest attempt; `webhook_call_attempts` keeps every attempt.
CREATE TABLE webhook_calls (
    id               TEXT COLLATE "C" PRIMARY KEY,
    webhook_id       TEXT COLLATE "C" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    entity_type      TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    entity_id        TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    request_url      TEXT,
    request_headers  TEXT,
    request_payload  TEXT,
    response_status  BIGINT,
    response_headers TEXT,
    response_payload TEXT,
    error            TEXT,
    created_at       BIGINT NOT NULL,
    last_sent_at     BIGINT,
    next_retry_at    BIGINT
);
CREATE INDEX webhook_calls_by_webhook ON webhook_calls (webhook_id, created_at);
CREATE INDEX webhook_calls_by_time ON webhook_calls (created_at);

CREATE TABLE webhook_call_attempts (
    call_id         TEXT COLLATE "C" NOT NULL REFERENCES webhook_calls (id) ON DELETE CASCADE,
    number          BIGINT NOT NULL,
    sent_at         BIGINT NOT NULL,
    duration_ms     BIGINT NOT NULL,
    response_status BIGINT,
    error           TEXT,
    PRIMARY KEY (call_id, number)
);
