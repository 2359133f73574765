//! Downloading text lists that have a `url`, no more often than their `refresh`.
//!
//! A list file is only ever replaced whole, by a download that looks like a list; anything
//! else (a failure, an empty body, an HTML error page sent with status 200) leaves the old
//! file as it was. What was last fetched, and the validators for a conditional GET, live in
//! `<state.dir>/downloads.json`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::http::{self, HttpPolicy, Request};
use crate::config::List;

const DOWNLOADS_VERSION: u32 = 1;

/// `downloads.json`: one record per list name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Downloads {
    pub version: u32,
    pub lists: BTreeMap<String, Fetched>,
}

/// The last successful fetch of one list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fetched {
    /// The url fetched; a changed url starts afresh.
    pub url: String,
    pub fetched_ms: i64,
    pub last_modified: Option<String>,
    pub etag: Option<String>,
}

impl Downloads {
    pub fn empty() -> Downloads {
        Downloads {
            version: DOWNLOADS_VERSION,
            lists: BTreeMap::new(),
        }
    }

    /// Reads the bookkeeping; none yet is empty. A bad file is an error the caller may
    /// treat as empty (the cost is one unconditional download per list).
    pub fn read(path: &Path) -> Result<Downloads, String> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Downloads::empty()),
            Err(err) => return Err(format!("{}: cannot read: {err}", path.display())),
        };
        let downloads: Downloads = serde_json::from_slice(&bytes)
            .map_err(|err| format!("{}: unreadable: {err}", path.display()))?;
        if downloads.version != DOWNLOADS_VERSION {
            return Err(format!("{}: unknown version", path.display()));
        }
        Ok(downloads)
    }

    pub fn write(&self, path: &Path) -> Result<(), String> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        bytes.push(b'\n');
        super::files::write_atomically(path, &bytes)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListOutcome {
    /// Fetched less than `refresh` ago.
    NotDue,
    /// 304 Not Modified.
    NotModified,
    /// A full download with the same bytes as the file.
    Same,
    /// The file was replaced.
    Written,
}

/// Downloads `list` if it is due; the record to keep comes back with every fetch.
pub fn download_list(
    list: &List,
    url: &str,
    last: Option<&Fetched>,
    now_ms: i64,
    policy: &HttpPolicy,
) -> Result<(ListOutcome, Option<Fetched>), String> {
    if is_glob(&list.path) {
        return Err(format!(
            "path {:?} is a glob; a url needs one file",
            list.path
        ));
    }
    let path = Path::new(&list.path);
    let have_file = path.is_file();
    // Validators only count for the same url and a file still there to keep.
    let last = last.filter(|l| l.url == url && have_file);
    let refresh_ms = i64::try_from(list.refresh.as_millis()).unwrap_or(i64::MAX);
    if last.is_some_and(|l| !super::otx_sync::is_due(l.fetched_ms, now_ms, refresh_ms)) {
        return Ok((ListOutcome::NotDue, None));
    }

    let reply = fetch(url, last, policy)?;
    let record = Fetched {
        url: url.to_owned(),
        fetched_ms: now_ms,
        last_modified: reply.header("last-modified").map(str::to_owned),
        etag: reply.header("etag").map(str::to_owned),
    };
    match (reply.status, last) {
        (304, Some(last)) => {
            // A 304 may repeat the validators or leave them out; keep what we had then.
            let record = Fetched {
                last_modified: record.last_modified.or_else(|| last.last_modified.clone()),
                etag: record.etag.or_else(|| last.etag.clone()),
                ..record
            };
            return Ok((ListOutcome::NotModified, Some(record)));
        }
        (200, _) => {}
        (status, _) => return Err(format!("HTTP status {status}; left the file as it was")),
    }

    check_body(&reply.body)?;
    if have_file && std::fs::read(path).is_ok_and(|old| old == reply.body) {
        return Ok((ListOutcome::Same, Some(record)));
    }
    super::files::write_atomically(path, &reply.body)?;
    Ok((ListOutcome::Written, Some(record)))
}

fn fetch(url: &str, last: Option<&Fetched>, policy: &HttpPolicy) -> Result<http::Reply, String> {
    let mut headers = Vec::new();
    if let Some(since) = last.and_then(|l| l.last_modified.as_deref()) {
        headers.push(("If-Modified-Since", since));
    }
    if let Some(etag) = last.and_then(|l| l.etag.as_deref()) {
        headers.push(("If-None-Match", etag));
    }
    let request = Request {
        url,
        headers,
        follow_redirects: true,
    };
    http::get(&request, policy).map_err(|err| format!("{err}; left the file as it was"))
}

fn check_body(body: &[u8]) -> Result<(), String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("the download is empty; left the file as it was".into());
    }
    if !looks_like_list(body) {
        let why = "the download is not a list (no address, prefix or range in it)";
        return Err(format!("{why}; left the file as it was"));
    }
    Ok(())
}

fn is_glob(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

/// Whether downloaded bytes can be a list: some line holds an address, a CIDR prefix or an
/// `a-b` range once comments are stripped, or every line is a comment (a list with a header
/// and no entries, as Spamhaus EDROP is today).
///
/// This is deliberately minimal, a guard against error pages only: the real parsers are in
/// `textlist`, and the build still rejects a file that yields nothing.
pub fn looks_like_list(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let mut comments_only = true;
    for line in text.lines() {
        let content = strip_comment(line).trim();
        if content.is_empty() {
            continue;
        }
        comments_only = false;
        if content.split(is_separator).any(is_address_token) {
            return true;
        }
    }
    comments_only
}

/// What is left of a line without `#` and `;` comments and `//` comment lines.
fn strip_comment(line: &str) -> &str {
    if line.trim_start().starts_with("//") {
        return "";
    }
    line.split(['#', ';']).next().unwrap_or_default()
}

/// Characters that surround addresses in the formats we know (CSV, JSON lines, tabs).
fn is_separator(c: char) -> bool {
    c.is_whitespace() || "\",'<>={}[]()|".contains(c)
}

fn is_address_token(token: &str) -> bool {
    if token.parse::<IpAddr>().is_ok() || token.parse::<IpNet>().is_ok() {
        return true;
    }
    let Some((first, last)) = token.split_once('-') else {
        return false;
    };
    match (first.parse::<IpAddr>(), last.parse::<IpAddr>()) {
        (Ok(a), Ok(b)) => a.is_ipv4() == b.is_ipv4(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_formats_we_know_look_like_lists() {
        let samples: [&[u8]; 8] = [
            b"; Spamhaus DROP\n1.10.16.0/20 ; SBL256894\n",
            b"{\"cidr\":\"1.10.16.0/20\",\"sblid\":\"SBL256894\",\"rir\":\"apnic\"}\n",
            b"# feodo\r\n\"2024-04-04 10:00:00\",\"192.0.2.4\",443,\"online\"\r\n",
            b"ExitAddress 192.0.2.7 2024-03-12 00:00:00\n",
            b"#fields\tindicator\tindicator_type\n2001:db8::1\tIntel::ADDR\n",
            b"192.0.2.1-192.0.2.9\n",
            b"192.0.2.8,1,100\n",
            b"# header only: a list that is empty today\n; and more\n",
        ];
        for sample in samples {
            assert!(
                looks_like_list(sample),
                "{}",
                String::from_utf8_lossy(sample)
            );
        }
    }

    #[test]
    fn error_pages_do_not_look_like_lists() {
        let samples: [&[u8]; 4] = [
            b"<html><head><title>502 Bad Gateway</title></head>\n<body>nginx</body></html>\n",
            b"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code></Error>",
            b"a::before { content: '' }\n",
            b"192.0.2.1-2001:db8::1\n",
        ];
        for sample in samples {
            assert!(
                !looks_like_list(sample),
                "{}",
                String::from_utf8_lossy(sample)
            );
        }
    }

    #[test]
    fn globs_are_recognised() {
        assert!(is_glob("/etc/flowalert/lists.d/*"));
        assert!(is_glob("/lists/drop?.txt"));
        assert!(!is_glob("/lists/drop.txt"));
    }
}
