//! One HTTP GET with timeouts, a size cap and bounded retries, for `update` only.
//!
//! A reply is either a complete body (its length checked against Content-Length, so a
//! connection closed mid-body is an error, not a short file) or an error. Headers a caller
//! sets (an API key) are never written into an error message.

use std::io::Read;
use std::time::Duration;

use attohttpc::header::HeaderMap;

/// How hard to try, and how long to wait.
#[derive(Debug, Clone)]
pub struct HttpPolicy {
    pub connect_timeout: Duration,
    /// Longest silence while reading.
    pub read_timeout: Duration,
    /// Longest a whole request may take.
    pub total_timeout: Duration,
    /// Tries per request, the first included.
    pub tries: u32,
    /// The wait after the first failure; it doubles after each further one.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A Retry-After up to this is waited for; a longer one ends the retries.
    pub max_retry_after: Duration,
    /// Bodies above this are refused.
    pub max_body: u64,
}

impl Default for HttpPolicy {
    fn default() -> HttpPolicy {
        HttpPolicy {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            total_timeout: Duration::from_secs(300),
            tries: 4,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(120),
            max_body: 128 * 1024 * 1024,
        }
    }
}

/// What a request is: the URL and the extra headers.
pub struct Request<'a> {
    pub url: &'a str,
    pub headers: Vec<(&'static str, &'a str)>,
    /// Lists may redirect (mirrors); OTX must not, so its key stays on its host.
    pub follow_redirects: bool,
}

/// A complete answer, any status.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Why no usable reply came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// Connect, TLS, read or a cut-off body; the text says which.
    Transport(String),
    /// The last status after every try, or a status not worth retrying.
    Status(u16),
    /// The server asked for a wait longer than `max_retry_after` (seconds).
    RetryAfterTooLong {
        status: u16,
        seconds: u64,
    },
    TooLarge {
        limit: u64,
    },
    /// A header value cannot be sent (a key with a newline in it).
    BadHeader(&'static str),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Transport(why) => write!(f, "{why}"),
            FetchError::Status(status) => write!(f, "HTTP status {status}"),
            FetchError::RetryAfterTooLong { status, seconds } => {
                write!(
                    f,
                    "HTTP status {status} with Retry-After {seconds}s; not waiting"
                )
            }
            FetchError::TooLarge { limit } => write!(f, "body larger than {limit} bytes"),
            FetchError::BadHeader(name) => write!(f, "the {name} header value is not valid"),
        }
    }
}

/// GETs `request`, retrying connection failures, 429 and 5xx with backoff. Any other
/// status is returned as a `Reply` for the caller to judge.
pub fn get(request: &Request<'_>, policy: &HttpPolicy) -> Result<Reply, FetchError> {
    let tries = policy.tries.max(1);
    let mut attempt = 1;
    loop {
        let outcome = get_once(request, policy);
        let retryable = match &outcome {
            Ok(reply) => is_retryable(reply.status),
            Err(FetchError::Transport(_)) => true,
            Err(_) => false,
        };
        if !retryable {
            return outcome;
        }
        if attempt >= tries {
            return outcome.and_then(|reply| Err(FetchError::Status(reply.status)));
        }

        let wait = match &outcome {
            Ok(reply) => retry_after(reply, policy)?,
            Err(_) => None,
        };
        std::thread::sleep(wait.unwrap_or_else(|| backoff(policy, attempt)));
        attempt += 1;
    }
}

fn is_retryable(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

/// `base * 2^(attempt-1)`, capped.
fn backoff(policy: &HttpPolicy, attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    policy
        .backoff_base
        .saturating_mul(factor)
        .min(policy.backoff_max)
}

/// The server's Retry-After as a wait, if it gave one we accept.
fn retry_after(reply: &Reply, policy: &HttpPolicy) -> Result<Option<Duration>, FetchError> {
    let Some(text) = reply.header("retry-after") else {
        return Ok(None);
    };
    let seconds = match text.trim().parse::<u64>() {
        Ok(seconds) => seconds,
        Err(_) => match httpdate::parse_http_date(text.trim()) {
            Ok(when) => when
                .duration_since(std::time::SystemTime::now())
                .map_or(0, |d| d.as_secs()),
            Err(_) => return Ok(None),
        },
    };
    if seconds > policy.max_retry_after.as_secs() {
        let status = reply.status;
        return Err(FetchError::RetryAfterTooLong { status, seconds });
    }
    Ok(Some(Duration::from_secs(seconds)))
}

fn get_once(request: &Request<'_>, policy: &HttpPolicy) -> Result<Reply, FetchError> {
    let mut builder = attohttpc::get(request.url)
        .connect_timeout(policy.connect_timeout)
        .read_timeout(policy.read_timeout)
        .timeout(policy.total_timeout)
        .follow_redirects(request.follow_redirects);
    for &(name, value) in &request.headers {
        builder = builder
            .try_header(name, value)
            .map_err(|_| FetchError::BadHeader(name))?;
    }

    let response = builder.send().map_err(transport)?;
    let (status, headers, reader) = response.split();
    let body = read_body(reader, &headers, policy.max_body)?;
    Ok(Reply {
        status: status.as_u16(),
        headers,
        body,
    })
}

fn read_body(reader: impl Read, headers: &HeaderMap, limit: u64) -> Result<Vec<u8>, FetchError> {
    let mut body = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut body)
        .map_err(|err| FetchError::Transport(format!("reading the body: {err}")))?;
    if body.len() as u64 > limit {
        return Err(FetchError::TooLarge { limit });
    }

    // attohttpc stops quietly at a short Content-Length body; a cut-off page is an error.
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(declared) = declared {
        if (body.len() as u64) < declared {
            let got = body.len();
            let why = format!("connection closed after {got} of {declared} body bytes");
            return Err(FetchError::Transport(why));
        }
    }
    Ok(body)
}

fn transport(err: attohttpc::Error) -> FetchError {
    FetchError::Transport(err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = HttpPolicy {
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(3),
            ..HttpPolicy::default()
        };
        assert_eq!(backoff(&policy, 1), Duration::from_millis(500));
        assert_eq!(backoff(&policy, 2), Duration::from_millis(1000));
        assert_eq!(backoff(&policy, 3), Duration::from_millis(2000));
        assert_eq!(backoff(&policy, 4), Duration::from_secs(3));
        assert_eq!(backoff(&policy, 40), Duration::from_secs(3));
    }

    fn reply_with_retry_after(value: &str) -> Reply {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", value.parse().unwrap());
        Reply {
            status: 429,
            headers,
            body: Vec::new(),
        }
    }

    #[test]
    fn retry_after_is_honoured_when_small_and_ends_retries_when_long() {
        let policy = HttpPolicy::default();
        let small = reply_with_retry_after("7");
        assert_eq!(
            retry_after(&small, &policy),
            Ok(Some(Duration::from_secs(7)))
        );
        let long = reply_with_retry_after("3600");
        assert_eq!(
            retry_after(&long, &policy),
            Err(FetchError::RetryAfterTooLong {
                status: 429,
                seconds: 3600
            })
        );
        let junk = reply_with_retry_after("soon");
        assert_eq!(retry_after(&junk, &policy), Ok(None));
    }

    #[test]
    fn short_body_against_content_length_is_an_error() {
        let mut headers = HeaderMap::new();
        headers.insert("content-length", "10".parse().unwrap());
        let err = read_body(&b"12345"[..], &headers, 100).unwrap_err();
        assert_eq!(
            err,
            FetchError::Transport("connection closed after 5 of 10 body bytes".into())
        );
        assert_eq!(
            read_body(&b"12345"[..], &HeaderMap::new(), 4),
            Err(FetchError::TooLarge { limit: 4 })
        );
    }
}
