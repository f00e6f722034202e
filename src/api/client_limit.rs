//! The per-client-address budget of the unauthenticated endpoints (asset URLs and the direct
//! PUT), in the same fixed windows as the per-token API budget. IPv6 clients count per /64, the
//! block one subscriber usually holds, so rotating addresses within it does not reset the budget.

use std::{
    net::{IpAddr, Ipv6Addr},
    sync::Arc,
};

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{rate_limit::Decision, server::PeerAddr, state::HttpEdge};
use crate::{app::App, domain::CmaError};

pub(super) async fn limit_by_client(
    State(app): State<Arc<App>>,
    State(http): State<Arc<HttpEdge>>,
    request: Request,
    next: Next,
) -> Response {
    let key = client_key(app.config.client_ip_header.as_deref(), &request);
    match http.public_rate_limiter.check(&key) {
        Decision::Limited { limit, reset_secs } => {
            let mut error = CmaError::new(429, "RATE_LIMIT_EXCEEDED", json!({ "scope": "client_address" }));
            error.retry_after_secs = Some(reset_secs);
            let mut response = error.into_response();
            budget_headers(response.headers_mut(), limit, 0);
            response
        }
        Decision::Allowed { limit, remaining } => {
            // Asset responses are shared by caches: per-client counters do not belong in them.
            let uncacheable = request.method() == Method::PUT;
            let mut response = next.run(request).await;
            if uncacheable && limit != u32::MAX {
                budget_headers(response.headers_mut(), limit, remaining);
            }
            response
        }
    }
}

fn budget_headers(headers: &mut HeaderMap, limit: u32, remaining: u32) {
    headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
}

/// The budget key of a request: the configured proxy header's last address (the one the proxy
/// nearest to us saw), else the TCP peer.
fn client_key(ip_header: Option<&str>, request: &Request) -> String {
    let from_header = ip_header.and_then(|name| {
        let value = request.headers().get(name)?.to_str().ok()?;
        value.rsplit(',').next()?.trim().parse::<IpAddr>().ok()
    });
    let address = from_header.or_else(|| request.extensions().get::<PeerAddr>().map(|peer| peer.0.ip()));
    match address {
        Some(address) => format!("ip:{}", budget_block(address)),
        None => "ip:unknown".to_owned(),
    }
}

fn budget_block(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(peer: &str, forwarded: Option<&str>) -> Request {
        let mut builder = Request::builder().uri("/1/a.jpg");
        if let Some(forwarded) = forwarded {
            builder = builder.header("x-forwarded-for", forwarded);
        }
        let mut request = builder.body(axum::body::Body::empty()).unwrap();
        request.extensions_mut().insert(PeerAddr(peer.parse().unwrap()));
        request
    }

    #[test]
    fn keys_come_from_the_peer_or_the_configured_header() {
        assert_eq!(client_key(None, &request("10.0.0.1:5000", Some("1.2.3.4"))), "ip:10.0.0.1");
        let header = Some("x-forwarded-for");
        assert_eq!(client_key(header, &request("10.0.0.1:5000", Some("9.9.9.9, 1.2.3.4"))), "ip:1.2.3.4");
        assert_eq!(client_key(header, &request("10.0.0.1:5000", Some("garbage"))), "ip:10.0.0.1");
        assert_eq!(client_key(header, &request("10.0.0.1:5000", None)), "ip:10.0.0.1");
        assert_eq!(client_key(None, &request("[2001:db8:1:2:3:4:5:6]:80", None)), "ip:2001:db8:1:2::");
        assert_eq!(client_key(None, &request("[::ffff:1.2.3.4]:80", None)), "ip:1.2.3.4");
    }
}
