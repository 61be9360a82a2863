//! Plivo's V3 webhook signature (`X-Plivo-Signature-V3`), as the official SDKs validate it.
//!
//! The signed string is built from the URL (without fragment) and the parameters:
//! * GET: `scheme://host/path`, then `?` and the query (the URL's own query merged with the
//!   parameters, sorted by name, `name=value` joined by `&`, not percent-encoded) when there is
//!   one; then `.` and the nonce.
//! * POST: `scheme://host/path`, then, when the URL has a query, `?` and its sorted query
//!   (followed by `.` when there are parameters, or preceded by `?` alone when there are
//!   parameters and no query); then every parameter as `namevalue`, sorted by name; then `.`
//!   and the nonce.
//!
//! The signature is the Base64 of HMAC-SHA256 keyed with the auth token.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::xml::values::Method;

/// Splits `url` into its base (`scheme://host/path`) and its decoded query pairs.
fn split(url: &str) -> (&str, Vec<(String, String)>) {
    let url = url.split_once('#').map_or(url, |(u, _)| u);
    match url.split_once('?') {
        Some((base, query)) => {
            let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default();
            (base, pairs)
        }
        None => (url, Vec::new()),
    }
}

fn sorted_query(pairs: &[(String, String)]) -> String {
    let mut p: Vec<&(String, String)> = pairs.iter().collect();
    p.sort();
    p.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// The string that is signed, before the nonce.
pub fn signed_base(method: Method, url: &str, params: &[(String, String)]) -> String {
    let (base, query) = split(url);
    let mut out = base.to_owned();
    match method {
        Method::Get => {
            let mut all = query;
            all.extend(params.iter().cloned());
            let q = sorted_query(&all);
            if !q.is_empty() {
                out.push('?');
                out.push_str(&q);
            }
        }
        Method::Post => {
            let q = sorted_query(&query);
            if !q.is_empty() || !params.is_empty() {
                out.push('?');
                out.push_str(&q);
            }
            if !q.is_empty() && !params.is_empty() {
                out.push('.');
            }
            let mut p: Vec<&(String, String)> = params.iter().collect();
            p.sort();
            for (k, v) in p {
                out.push_str(k);
                out.push_str(v);
            }
        }
    }
    out
}

/// `X-Plivo-Signature-V3` for a request.
pub fn sign(auth_token: &str, method: Method, url: &str, params: &[(String, String)], nonce: &str) -> String {
    let data = format!("{}.{}", signed_base(method, url, params), nonce);
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(auth_token.as_bytes()) else {
        return String::new();
    };
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn signed_strings() {
        let params = p(&[("To", "2"), ("From", "1")]);
        assert_eq!(signed_base(Method::Post, "https://a.example/x#ct=100", &params), "https://a.example/x?From1To2");
        assert_eq!(
            signed_base(Method::Post, "https://a.example/x?b=2&a=1", &params),
            "https://a.example/x?a=1&b=2.From1To2"
        );
        assert_eq!(signed_base(Method::Post, "https://a.example/x", &[]), "https://a.example/x");
        assert_eq!(signed_base(Method::Get, "https://a.example/x?z=9", &params), "https://a.example/x?From=1&To=2&z=9");
        assert_eq!(signed_base(Method::Get, "https://a.example/x", &[]), "https://a.example/x");
    }

    #[test]
    fn signature_is_base64_hmac_sha256() {
        // HMAC-SHA256("token", "https://a.example/x?From1To2.12345"), computed independently
        // with Python's hmac module.
        let sig = sign("token", Method::Post, "https://a.example/x", &p(&[("To", "2"), ("From", "1")]), "12345");
        assert_eq!(sig, "SoBe9eEgbHPfOIWlAhvyIYE+E9e+GxFSujVYJMXzuFg=");
    }
}
