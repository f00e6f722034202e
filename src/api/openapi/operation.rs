//! One documented operation, and what every CMA operation shares: the bearer token, the
//! `X-Api-Version`/`X-Environment` headers and the error answers of the CMA guard.

use serde_json::{json, Map, Value};

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    /// Behind the CMA guard: token, headers, rate limit, CMA error envelope.
    Cma,
    /// No token (probes, delivery, the signed direct PUT).
    Public,
}

/// Statuses the CMA guard (or the framework under it) may answer on any CMA operation.
const CMA_ERRORS: [u16; 9] = [400, 401, 403, 404, 406, 422, 429, 500, 503];
/// Statuses only an operation that reads a JSON body answers.
const BODY_ERRORS: [u16; 2] = [413, 415];

#[derive(Debug, Clone)]
pub(super) struct Operation {
    /// Lowercase HTTP method, as OpenAPI spells it.
    pub method: &'static str,
    pub path: String,
    access: Access,
    fields: Map<String, Value>,
    parameters: Vec<Value>,
    responses: Map<String, Value>,
    reads_json_body: bool,
}

impl Operation {
    /// `id` is the handler's name (`list_uploads`), so a search for either finds both.
    pub(super) fn new(access: Access, method: &'static str, path: impl Into<String>, id: &str, tag: &str) -> Self {
        let mut fields = Map::new();
        fields.insert("operationId".into(), json!(id));
        fields.insert("tags".into(), json!([tag]));
        Operation {
            method,
            path: path.into(),
            access,
            fields,
            parameters: Vec::new(),
            responses: Map::new(),
            reads_json_body: false,
        }
    }

    pub(super) fn summary(mut self, summary: &str) -> Self {
        self.fields.insert("summary".into(), json!(summary));
        self
    }

    pub(super) fn description(mut self, description: &str) -> Self {
        self.fields.insert("description".into(), json!(description));
        self
    }

    pub(super) fn param(mut self, parameter: Value) -> Self {
        self.parameters.push(parameter);
        self
    }

    /// A JSON request body described by the schema (a `$ref` or inline).
    pub(super) fn json_body(mut self, schema: Value) -> Self {
        self.reads_json_body = true;
        self.fields.insert(
            "requestBody".into(),
            json!({ "required": true, "content": { "application/json": { "schema": schema } } }),
        );
        self
    }

    /// Any other request body (the direct PUT's raw bytes).
    pub(super) fn raw_body(mut self, request_body: Value) -> Self {
        self.fields.insert("requestBody".into(), request_body);
        self
    }

    /// A JSON answer whose body follows `schema`.
    pub(super) fn json_response(self, status: u16, description: &str, schema: Value) -> Self {
        self.response(
            status,
            json!({ "description": description, "content": { "application/json": { "schema": schema } } }),
        )
    }

    /// Any answer (a `$ref` to a shared response, or a full response object).
    pub(super) fn response(mut self, status: u16, response: Value) -> Self {
        self.responses.insert(status.to_string(), response);
        self
    }

    /// Links from a response to follow-up operations (used by stateful testing).
    pub(super) fn links(mut self, status: u16, links: Value) -> Self {
        if let Some(Value::Object(response)) = self.responses.get_mut(&status.to_string()) {
            response.insert("links".into(), links);
        }
        self
    }

    pub(super) fn to_json(&self) -> Value {
        let mut operation = self.fields.clone();
        let mut parameters = self.parameters.clone();
        let mut responses = self.responses.clone();
        match self.access {
            Access::Cma => {
                parameters.push(json!({ "$ref": "#/components/parameters/ApiVersion" }));
                parameters.push(json!({ "$ref": "#/components/parameters/Environment" }));
                let body_errors: &[u16] = if self.reads_json_body { &BODY_ERRORS } else { &[] };
                for status in CMA_ERRORS.iter().chain(body_errors) {
                    responses.entry(status.to_string()).or_insert_with(|| error_ref(*status));
                }
                for response in responses.values_mut() {
                    add_cma_headers(response);
                }
                operation.insert("security".into(), json!([{ "apiToken": [] }]));
            }
            Access::Public => {
                operation.insert("security".into(), json!([]));
            }
        }
        if !parameters.is_empty() {
            operation.insert("parameters".into(), Value::Array(parameters));
        }
        operation.insert("responses".into(), Value::Object(responses));
        Value::Object(operation)
    }
}

/// The shared error response for a status (`#/components/responses/Error404`).
pub(super) fn error_ref(status: u16) -> Value {
    json!({ "$ref": format!("#/components/responses/Error{status}") })
}

/// Every CMA answer, success or error, carries the rate-limit and version headers (the guard sets
/// them); shared error responses already list them.
fn add_cma_headers(response: &mut Value) {
    let Some(response) = response.as_object_mut() else { return };
    if response.contains_key("$ref") {
        return;
    }
    let headers = response.entry("headers").or_insert_with(|| json!({}));
    if let Some(headers) = headers.as_object_mut() {
        for (name, component) in super::components::CMA_HEADERS {
            headers.entry(name).or_insert_with(|| json!({ "$ref": format!("#/components/headers/{component}") }));
        }
    }
}

/// A path parameter holding an id.
pub(super) fn path_id(description: &str) -> Value {
    json!({ "name": "id", "in": "path", "required": true, "description": description, "schema": { "type": "string" } })
}

/// An optional query parameter.
pub(super) fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}
