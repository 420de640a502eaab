//! The server a driver may target (a port of 127.0.0.1, nothing else) and the HTTP client it
//! uses.

use std::time::Duration;

/// How long an idle pooled connection is kept.
const KEEP_ALIVE: Duration = Duration::from_secs(120);

/// Parses a server's base URL, which must be `http://127.0.0.1:PORT` (a trailing `/` is
/// dropped). Made for clap's `value_parser`: the error names what is expected.
pub fn loopback_url(text: &str) -> Result<String, String> {
    let url = text.trim_end_matches('/');
    match url.strip_prefix("http://127.0.0.1:") {
        Some(port) if !port.is_empty() && port.parse::<u16>().is_ok() => Ok(url.to_owned()),
        _ => Err(format!("must be http://127.0.0.1:PORT, not {url}")),
    }
}

/// An HTTP/1.1 client with at most `connections` connections, kept alive between requests,
/// and a bound on each request.
pub fn client(connections: usize, timeout: Duration) -> awc::Client {
    awc::Client::builder()
        .connector(
            awc::Connector::new()
                .limit(connections)
                .conn_keep_alive(KEEP_ALIVE),
        )
        .timeout(timeout)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_port_of_127_0_0_1_is_a_target() {
        assert_eq!(
            loopback_url("http://127.0.0.1:8080/").as_deref(),
            Ok("http://127.0.0.1:8080")
        );
        for bad in [
            "http://127.0.0.1:",
            "http://127.0.0.1:80x",
            "http://127.0.0.1:99999",
            "http://localhost:8080",
            "http://10.0.0.1:8080",
            "https://127.0.0.1:8080",
            "http://127.0.0.1:8080/api",
        ] {
            assert!(loopback_url(bad).is_err(), "{bad} was accepted");
        }
    }
}
