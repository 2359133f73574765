//! `flowalert update` against a scripted HTTP/1.1 server on loopback: OTX paging, incremental
//! sync, expiry, ageing, refusals and retries, cut-off pages, and list downloads.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use flowalert::clock::Clock;
use flowalert::config::{Config, Report};
use flowalert::intel::otx::load_cache;
use flowalert::intel::update::{looks_like_list, UpdateRun};
use flowalert::intel::update::{run_update_with, HttpPolicy, UpdateOptions, UpdateOutcome};

use crate::common::testdata;

const KEY: &str = "otx-test-key-5f0e1d2c3b4a";

/// 2024-06-01T00:00:00Z
const NOW_MS: i64 = 1_717_200_000_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

// ---------------------------------------------------------------------------------------
// The server

/// One request as the server read it; header names lowercased.
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        let found = self.headers.iter().find(|(n, _)| n == name);
        found.map(|(_, value)| value.as_str())
    }
}

/// A scripted answer. `cut_after` sends only that many body bytes of a full Content-Length,
/// then closes: a server dying mid-page.
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    cut_after: Option<usize>,
}

fn answer(status: u16, body: &str) -> Answer {
    Answer {
        status,
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
        cut_after: None,
    }
}

type Handler = Box<dyn FnMut(&Seen) -> Answer + Send>;

struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(mut handler: Handler) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));

        let (thread_seen, thread_stop) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if thread_stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                serve_one(stream, &mut handler, &thread_seen);
            }
        });
        Server {
            addr,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve_one(stream: TcpStream, handler: &mut Handler, seen: &Mutex<Vec<Seen>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let Some(request) = read_request(&stream) else {
        return;
    };
    seen.lock().unwrap().push(request.clone());
    let reply = handler(&request);
    write_answer(stream, &reply);
}

fn read_request(stream: &TcpStream) -> Option<Seen> {
    let mut reader = BufReader::new(stream.take(64 * 1024));
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let target = line.split(' ').nth(1)?.to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            return Some(Seen { target, headers });
        }
        let (name, value) = trimmed.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
}

fn write_answer(mut stream: TcpStream, answer: &Answer) {
    let mut head = format!(
        "HTTP/1.1 {} Scripted\r\nConnection: close\r\n",
        answer.status
    );
    if answer.status != 304 {
        head.push_str(&format!("Content-Length: {}\r\n", answer.body.len()));
    }
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");

    let sent = answer.cut_after.unwrap_or(answer.body.len());
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&answer.body[..sent.min(answer.body.len())]);
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

// ---------------------------------------------------------------------------------------
// Configurations, runs and files

/// A temporary directory with a config pointing into it; removed on drop.
struct Setup {
    dir: PathBuf,
    config: Config,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Setup {
    /// `sections` is TOML appended to `[state]`; `{dir}` in it is the directory.
    fn new(name: &str, sections: &str) -> Setup {
        let dir =
            std::env::temp_dir().join(format!("flowalert-it-update-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("otx.key"), format!("  {KEY}\n")).unwrap();

        let text = format!("[state]\ndir = \"{}/state\"\n\n{sections}", dir.display())
            .replace("{dir}", &dir.display().to_string());
        let mut report = Report::default();
        let config = Config::parse(&text, Path::new("test.toml"), &mut report);
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        Setup {
            dir,
            config: config.unwrap(),
        }
    }

    fn otx(name: &str, server: &Server, max_age: &str) -> Setup {
        let sections = format!(
            "[otx]\nenabled = true\nurl = \"{}\"\napi-key-file = \"{{dir}}/otx.key\"\n\
             refresh = \"1h\"\nmax-age = \"{max_age}\"\n",
            server.url()
        );
        Setup::new(name, &sections)
    }

    fn cache_path(&self) -> PathBuf {
        self.config.state.dir.join("otx-cache.json")
    }

    fn run(&self, now_ms: i64) -> UpdateRun {
        let options = UpdateOptions {
            http: HttpPolicy {
                connect_timeout: Duration::from_secs(5),
                read_timeout: Duration::from_secs(10),
                tries: 3,
                backoff_base: Duration::ZERO,
                ..HttpPolicy::default()
            },
            otx_overlap: Duration::from_secs(3600),
            otx_env_key: None,
        };
        let run = run_update_with(&self.config, &Clock::fixed(now_ms * 1000), &options);
        assert_key_not_shown(&run);
        run
    }

    fn entries(&self, now_ms: i64, max_age_ms: i64) -> Vec<String> {
        let source = load_cache(&self.cache_path(), now_ms, max_age_ms).unwrap();
        let mut entries: Vec<String> = source
            .indicators
            .iter()
            .map(|i| format!("{} {}", i.entry, i.comment))
            .collect();
        entries.sort();
        entries
    }
}

fn assert_key_not_shown(run: &UpdateRun) {
    for line in &run.log {
        assert!(!line.contains(KEY), "the key is in a log line: {line}");
    }
    if let Err(err) = &run.outcome {
        assert!(!format!("{err:#}").contains(KEY), "the key is in the error");
    }
}

fn outcome(run: &UpdateRun) -> UpdateOutcome {
    match &run.outcome {
        Ok(outcome) => *outcome,
        Err(err) => panic!("update failed: {err:#}\nlog: {:#?}", run.log),
    }
}

fn error(run: &UpdateRun) -> String {
    match &run.outcome {
        Ok(outcome) => panic!("update did not fail: {outcome:?}"),
        Err(err) => format!("{err:#}"),
    }
}

/// A page of pulses as OTX sends them; `pulses` are `pulse(...)` values.
fn page(pulses: &[String], next: Option<&str>) -> String {
    let next = next.map_or("null".to_owned(), |n| format!("\"{n}\""));
    format!(
        "{{\"results\": [{}], \"count\": {}, \"previous\": null, \"next\": {next}}}",
        pulses.join(","),
        pulses.len()
    )
}

/// A pulse; each indicator is (value, type, expiration or "null", is_active).
fn pulse(id: &str, name: &str, modified: &str, indicators: &[(&str, &str, &str, u8)]) -> String {
    let indicators: Vec<String> = indicators
        .iter()
        .map(|(value, kind, expiration, active)| {
            let expiration = match *expiration {
                "null" => "null".to_owned(),
                e => format!("\"{e}\""),
            };
            format!(
                "{{\"indicator\": \"{value}\", \"type\": \"{kind}\", \
                 \"expiration\": {expiration}, \"is_active\": {active}}}"
            )
        })
        .collect();
    format!(
        "{{\"id\": \"{id}\", \"name\": \"{name}\", \"modified\": \"{modified}\", \
         \"indicators\": [{}], \"more_indicators\": false}}",
        indicators.join(",")
    )
}

fn single_page(body: String) -> Handler {
    Box::new(move |_| answer(200, &body))
}

// ---------------------------------------------------------------------------------------
// OTX

#[test]
fn otx_next_link_on_another_host_is_asked_of_the_configured_server_with_the_key() {
    let first = page(
        &[pulse(
            "aaaa01",
            "First",
            "2024-05-30T10:00:00.5",
            &[
                ("192.0.2.1", "IPv4", "null", 1),
                ("bad.example", "domain", "null", 1),
            ],
        )],
        Some("https://otx.example.invalid/api/v1/pulses/subscribed?page=2"),
    );
    let second = page(
        &[pulse(
            "bbbb02",
            "Second",
            "2024-05-29T10:00:00",
            &[
                ("2001:db8::5", "IPv6", "null", 1),
                ("198.51.100.0/25", "CIDR", "null", 1),
            ],
        )],
        None,
    );
    let server = Server::start(Box::new(move |seen| {
        let body = if seen.target.contains("page=2") {
            &second
        } else {
            &first
        };
        answer(200, body)
    }));
    let setup = Setup::otx("paging", &server, "30d");

    let run = setup.run(NOW_MS);

    assert_eq!(outcome(&run), UpdateOutcome::Changed);
    let requests = server.requests();
    let targets: Vec<&str> = requests.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "/api/v1/pulses/subscribed?limit=50&modified_since=2024-05-02T00%3A00%3A00",
            "/api/v1/pulses/subscribed?page=2",
        ]
    );
    for request in &requests {
        assert_eq!(request.header("x-otx-api-key"), Some(KEY));
        assert_eq!(
            request.header("host"),
            Some(server.addr.to_string().as_str())
        );
    }
    assert_eq!(
        setup.entries(NOW_MS, 30 * DAY_MS),
        [
            "192.0.2.1 First",
            "198.51.100.0/25 Second",
            "2001:db8::5 Second"
        ]
    );
    let summary = run.log.iter().find(|l| l.contains("update: otx:")).unwrap();
    assert_eq!(
        summary,
        "info: update: otx: changed; 2 page(s), 2 pulse(s) (0 bad), 3 indicator(s) kept, \
         0 inactive, 0 expired, 0 bad value(s), 0 pulse(s) aged out; skipped types: domain 1"
    );
}

#[test]
fn otx_second_run_asks_since_last_sync_less_overlap_and_merges_by_pulse_id() {
    let first = page(
        &[
            pulse(
                "aaaa01",
                "A v1",
                "2024-05-30T10:00:00",
                &[("192.0.2.1", "IPv4", "null", 1)],
            ),
            pulse(
                "bbbb02",
                "B",
                "2024-05-29T10:00:00",
                &[("192.0.2.2", "IPv4", "null", 1)],
            ),
        ],
        None,
    );
    let second = page(
        &[pulse(
            "aaaa01",
            "A v2",
            "2024-06-01T01:00:00",
            &[("192.0.2.9", "IPv4", "null", 1)],
        )],
        None,
    );
    let mut calls = 0;
    let server = Server::start(Box::new(move |_| {
        calls += 1;
        answer(200, if calls == 1 { &first } else { &second })
    }));
    let setup = Setup::otx("incremental", &server, "30d");

    assert_eq!(outcome(&setup.run(NOW_MS)), UpdateOutcome::Changed);
    let later = NOW_MS + 2 * HOUR_MS;
    assert_eq!(outcome(&setup.run(later)), UpdateOutcome::Changed);

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[1].target,
        "/api/v1/pulses/subscribed?limit=50&modified_since=2024-05-31T23%3A00%3A00"
    );
    assert_eq!(
        setup.entries(later, 30 * DAY_MS),
        ["192.0.2.2 B", "192.0.2.9 A v2"]
    );

    // The same answer again changes nothing; ten minutes later the sync is not due.
    assert_eq!(
        outcome(&setup.run(later + 2 * HOUR_MS)),
        UpdateOutcome::Unchanged
    );
    let run = setup.run(later + 2 * HOUR_MS + 10 * 60_000);
    assert_eq!(outcome(&run), UpdateOutcome::Unchanged);
    assert_eq!(server.requests().len(), 3);
    assert!(run.log.contains(&"info: update: otx: not due".to_owned()));
}

#[test]
fn otx_expired_and_inactive_indicators_are_dropped_at_sync_and_expiry_again_at_load() {
    let body = page(
        &[pulse(
            "aaaa01",
            "Mixed",
            "2024-05-30T10:00:00",
            &[
                ("192.0.2.1", "IPv4", "2024-06-02T00:00:00", 1),
                ("192.0.2.2", "IPv4", "2024-05-31T00:00:00", 1),
                ("192.0.2.3", "IPv4", "null", 0),
                ("192.0.2.4", "IPv4", "null", 1),
            ],
        )],
        None,
    );
    let server = Server::start(single_page(body));
    let setup = Setup::otx("expiry", &server, "30d");

    let run = setup.run(NOW_MS);

    assert_eq!(outcome(&run), UpdateOutcome::Changed);
    assert!(run
        .log
        .iter()
        .any(|l| l.contains("2 indicator(s) kept, 1 inactive, 1 expired")));
    assert_eq!(
        setup.entries(NOW_MS, 30 * DAY_MS),
        ["192.0.2.1 Mixed", "192.0.2.4 Mixed"]
    );
    // Two days on, with no sync in between, the first has expired all the same.
    assert_eq!(
        setup.entries(NOW_MS + 2 * DAY_MS, 30 * DAY_MS),
        ["192.0.2.4 Mixed"]
    );
}

#[test]
fn otx_pulses_not_modified_within_max_age_age_out_of_the_cache() {
    let body = page(
        &[
            pulse(
                "aaaa01",
                "Recent",
                "2024-05-30T10:00:00",
                &[("192.0.2.1", "IPv4", "null", 1)],
            ),
            pulse(
                "bbbb02",
                "Ancient",
                "2024-04-01T00:00:00",
                &[("192.0.2.2", "IPv4", "null", 1)],
            ),
        ],
        None,
    );
    let server = Server::start(single_page(body));
    let setup = Setup::otx("ageing", &server, "30d");
    // A cache from an earlier sync holding a pulse last modified 40 days ago.
    let old = format!(
        "{{\"version\": 1, \"last_sync_ms\": {}, \"pulses\": [{{\"id\": \"cccc03\", \
         \"name\": \"Old\", \"modified_ms\": {}, \"indicators\": [{{\"type\": \"IPv4\", \
         \"indicator\": \"192.0.2.3\", \"expiration_ms\": null, \"is_active\": true}}]}}]}}",
        NOW_MS - 2 * HOUR_MS,
        NOW_MS - 40 * DAY_MS
    );
    std::fs::create_dir_all(&setup.config.state.dir).unwrap();
    std::fs::write(setup.cache_path(), old).unwrap();
    assert_eq!(setup.entries(NOW_MS, 50 * DAY_MS), ["192.0.2.3 Old"]);

    let run = setup.run(NOW_MS);

    assert_eq!(outcome(&run), UpdateOutcome::Changed);
    assert!(
        run.log.iter().any(|l| l.contains("2 pulse(s) aged out")),
        "{:?}",
        run.log
    );
    assert_eq!(setup.entries(NOW_MS, 50 * DAY_MS), ["192.0.2.1 Recent"]);
    let cache = std::fs::read_to_string(setup.cache_path()).unwrap();
    assert!(
        !cache.contains("cccc03") && !cache.contains("bbbb02"),
        "{cache}"
    );
}

#[test]
fn otx_full_sync_once_a_day_drops_pulses_no_longer_subscribed() {
    let a = pulse(
        "aaaa01",
        "A",
        "2024-05-30T10:00:00",
        &[("192.0.2.1", "IPv4", "null", 1)],
    );
    let b = pulse(
        "bbbb02",
        "B",
        "2024-05-29T10:00:00",
        &[("192.0.2.2", "IPv4", "null", 1)],
    );
    let both = page(&[a.clone(), b], None);
    let only_a = page(&[a], None);
    let mut calls = 0;
    let server = Server::start(Box::new(move |_| {
        calls += 1;
        answer(200, if calls == 1 { &both } else { &only_a })
    }));
    let setup = Setup::otx("fullsync", &server, "30d");
    assert_eq!(outcome(&setup.run(NOW_MS)), UpdateOutcome::Changed);

    // Two hours later only what changed is asked for: B is not in the answer, and stays.
    let later = NOW_MS + 2 * HOUR_MS;
    assert_eq!(outcome(&setup.run(later)), UpdateOutcome::Unchanged);
    assert_eq!(
        setup.entries(later, 30 * DAY_MS),
        ["192.0.2.1 A", "192.0.2.2 B"]
    );

    // A day after the first, the whole subscription is asked for, and B is gone from it.
    let next_day = NOW_MS + DAY_MS + HOUR_MS;
    let run = setup.run(next_day);
    assert_eq!(outcome(&run), UpdateOutcome::Changed);
    assert!(
        run.log
            .iter()
            .any(|l| l.ends_with("; 1 pulse(s) no longer subscribed")),
        "{:?}",
        run.log
    );
    assert_eq!(setup.entries(next_day, 30 * DAY_MS), ["192.0.2.1 A"]);
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(
        requests[1].target,
        "/api/v1/pulses/subscribed?limit=50&modified_since=2024-05-31T23%3A00%3A00"
    );
    assert_eq!(
        requests[2].target,
        "/api/v1/pulses/subscribed?limit=50&modified_since=2024-05-03T01%3A00%3A00"
    );
}

fn write_old_cache(setup: &Setup) -> Vec<u8> {
    let old = format!(
        "{{\"version\": 1, \"last_sync_ms\": {}, \"pulses\": [{{\"id\": \"cccc03\", \
         \"name\": \"Kept\", \"modified_ms\": {}, \"indicators\": [{{\"type\": \"IPv4\", \
         \"indicator\": \"192.0.2.3\", \"expiration_ms\": null, \"is_active\": true}}]}}]}}",
        NOW_MS - 2 * HOUR_MS,
        NOW_MS - DAY_MS
    );
    std::fs::create_dir_all(&setup.config.state.dir).unwrap();
    std::fs::write(setup.cache_path(), &old).unwrap();
    old.into_bytes()
}

#[test]
fn otx_403_is_a_clear_error_and_the_cache_is_untouched() {
    let server = Server::start(Box::new(|_| answer(403, "{\"detail\": \"Forbidden\"}")));
    let setup = Setup::otx("refused", &server, "30d");
    let old = write_old_cache(&setup);

    let run = setup.run(NOW_MS);

    assert_eq!(
        error(&run),
        "update: 1 source(s) failed: otx: page 1: the OTX API key was refused (HTTP 403)"
    );
    assert_eq!(server.requests().len(), 1, "a refusal is not retried");
    assert_eq!(std::fs::read(setup.cache_path()).unwrap(), old);
}

#[test]
fn otx_429_and_503_are_retried_until_success() {
    let body = page(
        &[pulse(
            "aaaa01",
            "Late",
            "2024-05-30T10:00:00",
            &[("192.0.2.1", "IPv4", "null", 1)],
        )],
        None,
    );
    let mut calls = 0;
    let server = Server::start(Box::new(move |_| {
        calls += 1;
        match calls {
            1 => Answer {
                headers: vec![("Retry-After", "0".into())],
                ..answer(429, "slow down")
            },
            2 => answer(503, "busy"),
            _ => answer(200, &body),
        }
    }));
    let setup = Setup::otx("retry", &server, "30d");

    let run = setup.run(NOW_MS);

    assert_eq!(outcome(&run), UpdateOutcome::Changed);
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests
        .iter()
        .all(|r| r.header("x-otx-api-key") == Some(KEY)));
    assert_eq!(setup.entries(NOW_MS, 30 * DAY_MS), ["192.0.2.1 Late"]);
}

#[test]
fn otx_retries_end_after_the_set_number_of_tries() {
    let server = Server::start(Box::new(|_| answer(502, "bad gateway")));
    let setup = Setup::otx("retry-limit", &server, "30d");

    let run = setup.run(NOW_MS);

    assert_eq!(
        error(&run),
        "update: 1 source(s) failed: otx: page 1: HTTP status 502 after 3 tries"
    );
    assert_eq!(server.requests().len(), 3);
    assert!(!setup.cache_path().exists());
}

#[test]
fn otx_server_closing_mid_page_keeps_the_old_cache_byte_for_byte() {
    let first = page(
        &[pulse(
            "aaaa01",
            "New",
            "2024-05-31T10:00:00",
            &[("192.0.2.1", "IPv4", "null", 1)],
        )],
        Some("/api/v1/pulses/subscribed?page=2"),
    );
    let second = page(
        &[pulse(
            "bbbb02",
            "Cut",
            "2024-05-31T09:00:00",
            &[("192.0.2.2", "IPv4", "null", 1)],
        )],
        None,
    );
    let server = Server::start(Box::new(move |seen| {
        if seen.target.contains("page=2") {
            Answer {
                cut_after: Some(second.len() / 2),
                ..answer(200, &second)
            }
        } else {
            answer(200, &first)
        }
    }));
    let setup = Setup::otx("cut", &server, "30d");
    let old = write_old_cache(&setup);

    let run = setup.run(NOW_MS);

    let err = error(&run);
    assert!(
        err.starts_with("update: 1 source(s) failed: otx: page 2: connection closed after"),
        "{err}"
    );
    assert_eq!(
        server.requests().len(),
        1 + 3,
        "the cut page is tried three times"
    );
    assert_eq!(std::fs::read(setup.cache_path()).unwrap(), old);
}

#[test]
fn otx_invalid_json_keeps_the_old_cache_byte_for_byte() {
    let server = Server::start(Box::new(|_| answer(200, "<html>maintenance</html>")));
    let setup = Setup::otx("badjson", &server, "30d");
    let old = write_old_cache(&setup);

    let err = error(&setup.run(NOW_MS));

    assert!(
        err.starts_with("update: 1 source(s) failed: otx: page 1: not OTX pulse JSON"),
        "{err}"
    );
    assert_eq!(std::fs::read(setup.cache_path()).unwrap(), old);
}

#[test]
fn otx_without_any_key_is_an_error_naming_both_places() {
    let server = Server::start(single_page(page(&[], None)));
    let sections = format!("[otx]\nenabled = true\nurl = \"{}\"\n", server.url());
    let setup = Setup::new("nokey", &sections);

    let err = error(&setup.run(NOW_MS));

    assert!(err.contains("set [otx] api-key-file or the environment variable FLOWALERT_OTX_KEY"));
    assert!(server.requests().is_empty());
}

// ---------------------------------------------------------------------------------------
// Lists

const DROP: &str = "; Spamhaus DROP List\n1.10.16.0/20 ; SBL256894\n2.56.192.0/22 ; SBL459831\n";

fn list_setup(name: &str, server: &Server, old: Option<&str>) -> Setup {
    let sections = format!(
        "[[list]]\nname = \"drop\"\npath = \"{{dir}}/drop.txt\"\nurl = \"{}/drop.txt?token=x\"\n\
         refresh = \"1h\"\n",
        server.url()
    );
    let setup = Setup::new(name, &sections);
    if let Some(old) = old {
        std::fs::write(setup.dir.join("drop.txt"), old).unwrap();
    }
    setup
}

#[test]
fn list_download_replaces_the_file() {
    let server = Server::start(Box::new(|_| answer(200, DROP)));
    let setup = list_setup("list-ok", &server, Some("1.2.3.4\n"));

    let run = setup.run(NOW_MS);

    assert_eq!(outcome(&run), UpdateOutcome::Changed);
    assert_eq!(
        std::fs::read_to_string(setup.dir.join("drop.txt")).unwrap(),
        DROP
    );
    assert_eq!(server.requests()[0].target, "/drop.txt?token=x");
    assert_eq!(server.requests()[0].header("if-modified-since"), None);
    assert!(run.log.contains(
        &"info: update: lists: 1 written, 0 unchanged, 0 not modified, 0 not due, 0 failed"
            .to_owned()
    ));
}

#[test]
fn list_download_with_the_bytes_already_there_is_unchanged() {
    let server = Server::start(Box::new(|_| answer(200, DROP)));
    let setup = list_setup("list-same", &server, Some(DROP));
    let before = std::fs::metadata(setup.dir.join("drop.txt"))
        .unwrap()
        .modified()
        .unwrap();

    let run = setup.run(NOW_MS);

    assert_eq!(outcome(&run), UpdateOutcome::Unchanged);
    let after = std::fs::metadata(setup.dir.join("drop.txt"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after, "the file was not rewritten");
    assert!(run.log.contains(
        &"info: update: lists: 0 written, 1 unchanged, 0 not modified, 0 not due, 0 failed"
            .to_owned()
    ));
}

#[test]
fn list_answering_304_is_unchanged_and_was_asked_if_modified_since() {
    let last_modified = "Fri, 31 May 2024 22:00:00 GMT";
    let mut calls = 0;
    let server = Server::start(Box::new(move |_| {
        calls += 1;
        let status = if calls == 1 { 200 } else { 304 };
        Answer {
            headers: vec![
                ("Last-Modified", last_modified.into()),
                ("ETag", "\"v1\"".into()),
            ],
            ..answer(status, if calls == 1 { DROP } else { "" })
        }
    }));
    let setup = list_setup("list-304", &server, None);

    assert_eq!(outcome(&setup.run(NOW_MS)), UpdateOutcome::Changed);
    // Ten minutes on the list is not due; two hours on it is asked for conditionally.
    assert_eq!(
        outcome(&setup.run(NOW_MS + 600_000)),
        UpdateOutcome::Unchanged
    );
    assert_eq!(server.requests().len(), 1);
    let run = setup.run(NOW_MS + 2 * HOUR_MS);

    assert_eq!(outcome(&run), UpdateOutcome::Unchanged);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].header("if-modified-since"), Some(last_modified));
    assert_eq!(requests[1].header("if-none-match"), Some("\"v1\""));
    assert_eq!(
        std::fs::read_to_string(setup.dir.join("drop.txt")).unwrap(),
        DROP
    );
    let book = std::fs::read_to_string(setup.config.state.dir.join("downloads.json")).unwrap();
    assert!(
        book.contains(&format!("\"fetched_ms\": {}", NOW_MS + 2 * HOUR_MS)),
        "{book}"
    );
}

#[test]
fn list_answering_an_html_error_page_with_200_keeps_the_old_file() {
    let html = "<!DOCTYPE html>\n<html><body><h1>Service unavailable</h1></body></html>\n";
    let server = Server::start(Box::new(move |_| answer(200, html)));
    let setup = list_setup("list-html", &server, Some(DROP));

    let err = error(&setup.run(NOW_MS));

    assert_eq!(
        err,
        format!(
            "update: 1 source(s) failed: list drop ({}/drop.txt): the download is not a list (no \
             address, prefix or range in it); left the file as it was",
            server.url()
        )
    );
    assert_eq!(
        std::fs::read_to_string(setup.dir.join("drop.txt")).unwrap(),
        DROP
    );
}

#[test]
fn list_failing_with_404_keeps_the_old_file_and_otx_still_runs() {
    let body = page(
        &[pulse(
            "aaaa01",
            "P",
            "2024-05-30T10:00:00",
            &[("192.0.2.1", "IPv4", "null", 1)],
        )],
        None,
    );
    let server = Server::start(Box::new(move |seen| {
        if seen.target.starts_with("/api/") {
            answer(200, &body)
        } else {
            answer(404, "not found")
        }
    }));
    let sections = format!(
        "[otx]\nenabled = true\nurl = \"{0}\"\napi-key-file = \"{{dir}}/otx.key\"\n\n\
         [[list]]\nname = \"drop\"\npath = \"{{dir}}/drop.txt\"\nurl = \"{0}/drop.txt\"\n",
        server.url()
    );
    let setup = Setup::new("list-404", &sections);
    std::fs::write(setup.dir.join("drop.txt"), DROP).unwrap();

    let err = error(&setup.run(NOW_MS));

    assert!(
        err.ends_with("drop.txt): HTTP status 404; left the file as it was"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(setup.dir.join("drop.txt")).unwrap(),
        DROP
    );
    assert_eq!(setup.entries(NOW_MS, 30 * DAY_MS), ["192.0.2.1 P"]);
}

#[test]
fn list_with_a_glob_path_cannot_have_a_url() {
    let sections = "[[list]]\nname = \"many\"\npath = \"{dir}/lists/*\"\n\
                    url = \"http://127.0.0.1:9/x\"\n";
    let setup = Setup::new("list-glob", sections);

    let err = error(&setup.run(NOW_MS));

    assert!(err.ends_with("is a glob; a url needs one file"), "{err}");
}

// ---------------------------------------------------------------------------------------
// The shared samples

fn shared(name: &str) -> String {
    let path = testdata(&format!("lists/{name}"));
    std::fs::read_to_string(path).unwrap()
}

/// 2024-05-25T00:00:00Z: every sample pulse is recent and 2001:db8:ffff::1 not yet expired.
const SAMPLE_NOW_MS: i64 = 1_716_595_200_000;

#[test]
#[ignore = "needs shared testdata"]
fn shared_otx_sample_pages_keep_the_address_indicators() {
    let (first, second) = (
        shared("otx_subscribed_page1.json"),
        shared("otx_subscribed_page2.json"),
    );
    let server = Server::start(Box::new(move |seen| {
        answer(
            200,
            if seen.target.contains("page=2") {
                &second
            } else {
                &first
            },
        )
    }));
    let setup = Setup::otx("shared-pages", &server, "30d");

    let run = setup.run(SAMPLE_NOW_MS);

    assert_eq!(outcome(&run), UpdateOutcome::Changed);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[1].target,
        "/api/v1/pulses/subscribed?limit=2&modified_since=2024-05-01T00%3A00%3A00&page=2"
    );
    assert_eq!(requests[1].header("x-otx-api-key"), Some(KEY));
    let summary = run.log.iter().find(|l| l.contains("update: otx:")).unwrap();
    assert_eq!(
        summary,
        "info: update: otx: changed; 2 page(s), 3 pulse(s) (0 bad), 8 indicator(s) kept, \
         2 inactive, 0 expired, 0 bad value(s), 0 pulse(s) aged out; skipped types: CVE 1, \
         FileHash-MD5 1, FileHash-SHA1 1, FileHash-SHA256 1, FilePath 1, Mutex 1, URI 1, \
         URL 2, domain 2, email 1, hostname 2"
    );
    let c2 = "ExampleRAT C2 infrastructure (CONSTRUCTED SAMPLE)";
    let phish = "Phishing kit hosts (CONSTRUCTED SAMPLE)";
    let scan = "Scanner netblocks (CONSTRUCTED SAMPLE)";
    assert_eq!(
        setup.entries(SAMPLE_NOW_MS, 30 * DAY_MS),
        [
            format!("192.0.2.10 {c2}"),
            format!("192.0.2.10 {phish}"),
            format!("198.51.100.0/24 {scan}"),
            format!("198.51.100.200 {phish}"),
            format!("2001:db8:4000::25 {phish}"),
            format!("2001:db8::bad:1 {c2}"),
            format!("2001:db8:ffff::1 {scan}"),
            format!("203.0.113.0/28 {c2}"),
        ]
    );
    // On 2024-06-01 the scanner's IPv6 address has expired: the build drops it unsynced.
    let june = setup.entries(NOW_MS, 30 * DAY_MS);
    assert_eq!(june.len(), 7);
    assert!(!june.contains(&format!("2001:db8:ffff::1 {scan}")));
    // With a 20-day max-age the scanner pulse (modified 2024-05-02) has aged out.
    assert_eq!(setup.entries(SAMPLE_NOW_MS, 20 * DAY_MS).len(), 6);
}

#[test]
#[ignore = "needs shared testdata"]
fn shared_elastic_mock_keeps_its_one_address_until_it_expires() {
    let mock = shared("otx_subscribed_elastic_mock.json");
    let empty = page(&[], None);
    let server = Server::start(Box::new(move |seen| {
        answer(
            200,
            if seen.target.contains("page=2") {
                &empty
            } else {
                &mock
            },
        )
    }));
    let setup = Setup::otx("shared-elastic", &server, "90d");
    // 2023-08-25T00:00:00Z
    let now = 1_692_921_600_000;

    let run = setup.run(now);

    assert_eq!(outcome(&run), UpdateOutcome::Changed);
    let summary = run.log.iter().find(|l| l.contains("update: otx:")).unwrap();
    assert!(
        summary.ends_with("FileHash-MD5 1, FileHash-SHA1 1, domain 1"),
        "{summary}"
    );
    assert_eq!(
        setup.entries(now, 90 * DAY_MS),
        ["172.67.177.165 Sample Pulse"]
    );
    let source = load_cache(&setup.cache_path(), now, 90 * DAY_MS).unwrap();
    assert_eq!(
        source.indicators[0].url.as_deref(),
        Some("https://otx.alienvault.com/pulse/64e38336d783f91d6948a7b1")
    );
    // Expired on 2023-09-05.
    assert!(setup.entries(now + 15 * DAY_MS, 90 * DAY_MS).is_empty());
}

#[test]
#[ignore = "needs shared testdata"]
fn shared_list_samples_look_like_lists_and_the_error_page_does_not() {
    let lists = [
        "cins_ci-badguys.txt",
        "dshield_block.txt",
        "et_compromised-ips.txt",
        "feodo_ipblocklist.csv",
        "feodo_ipblocklist_recommended_crlf.txt",
        "firehol_dshield.netset",
        "firehol_feodo_empty.ipset",
        "firehol_level1.netset",
        "spamhaus_drop.txt",
        "spamhaus_drop_v4.json",
        "spamhaus_dropv6.txt",
        "spamhaus_edrop_2018-10.txt",
        "spamhaus_edrop_2024-10_merged.txt",
        "suricata_iprep_otx_reputation.list",
        "talos_ip-filter.blf",
        "tor_exit-addresses.txt",
        "tor_torbulkexitlist.txt",
    ];
    for name in lists {
        assert!(looks_like_list(shared(name).as_bytes()), "{name}");
    }
    assert!(!looks_like_list(
        shared("bad_download_s3_accessdenied.blf").as_bytes()
    ));
}
