//! The template cache on disk: a versioned JSON file written atomically (temporary file,
//! fsync, rename), so a crash leaves either the old file or the new one.
//!
//! Restoring never trusts the file: it is size-capped, every template is recompiled (and
//! rejected like one from the wire), and the usual per-exporter limits apply.

use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::cache::{Domain, Exporter};
use super::fields::MAX_SAMPLERS;
use super::template::{FieldSpec, Kind, Template};
use super::Limits;

const FORMAT: &str = "flowalert-templates";
const VERSION: u32 = 1;

/// Larger files are not read (a full cache of the default limits is far smaller).
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
struct File {
    format: String,
    version: u32,
    exporters: Vec<SavedExporter>,
}

#[derive(Serialize, Deserialize)]
struct SavedExporter {
    address: IpAddr,
    domains: Vec<SavedDomain>,
    templates: Vec<SavedTemplate>,
}

#[derive(Serialize, Deserialize)]
struct SavedDomain {
    domain: u32,
    last_seq: Option<u32>,
    last_uptime: Option<u32>,
    init_ms: Option<i64>,
    sampling: u32,
    samplers: Vec<(u64, u32)>,
}

#[derive(Serialize, Deserialize)]
struct SavedTemplate {
    domain: u32,
    id: u16,
    kind: Kind,
    scope_count: u16,
    v9_scope: bool,
    learned_ms: i64,
    fields: Vec<FieldSpec>,
}

pub fn save(exporters: &HashMap<IpAddr, Exporter>, path: &Path) -> std::io::Result<()> {
    let file = File {
        format: FORMAT.into(),
        version: VERSION,
        exporters: exporters.iter().map(|(a, ex)| saved(*a, ex)).collect(),
    };
    let bytes = serde_json::to_vec(&file).map_err(std::io::Error::other)?;

    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

fn saved(address: IpAddr, ex: &Exporter) -> SavedExporter {
    let domains = ex
        .domains
        .iter()
        .map(|(&domain, d)| SavedDomain {
            domain,
            last_seq: d.last_seq,
            last_uptime: d.last_uptime,
            init_ms: d.init_ms,
            sampling: d.sampling.default,
            samplers: d.sampling.samplers.iter().map(|(&k, &v)| (k, v)).collect(),
        })
        .collect();
    let templates = ex
        .templates
        .iter()
        .map(|(&(domain, id), t)| SavedTemplate {
            domain,
            id,
            kind: t.kind,
            scope_count: t.scope_count,
            v9_scope: t.v9_scope,
            learned_ms: t.learned_ms,
            fields: t.specs.clone(),
        })
        .collect();
    SavedExporter {
        address,
        domains,
        templates,
    }
}

pub fn restore(
    exporters: &mut HashMap<IpAddr, Exporter>,
    limits: &Limits,
    path: &Path,
    now_ms: i64,
) -> Result<usize, String> {
    // No file yet (first start) is not a problem worth a warning.
    if matches!(std::fs::metadata(path), Err(e) if e.kind() == std::io::ErrorKind::NotFound) {
        return Ok(0);
    }
    let file =
        read(path).map_err(|e| format!("template cache {} discarded: {e}", path.display()))?;
    let mut restored = 0;
    for saved in file.exporters {
        let full = exporters.len() >= limits.max_exporters;
        if full && !exporters.contains_key(&saved.address) {
            continue;
        }
        let ex = exporters.entry(saved.address).or_default();
        if ex.last_seen == 0 {
            ex.last_seen = now_ms;
        }
        restore_domains(ex, &saved.domains);
        restored += restore_templates(ex, saved.templates, limits, now_ms);
    }
    Ok(restored)
}

fn read(path: &Path) -> Result<File, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{} bytes is over the {MAX_FILE_BYTES}-byte cap",
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let file: File = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    if file.format != FORMAT || file.version != VERSION {
        return Err(format!(
            "format {} version {} unknown",
            file.format, file.version
        ));
    }
    Ok(file)
}

fn restore_domains(ex: &mut Exporter, domains: &[SavedDomain]) {
    for s in domains {
        let Some(d) = ex.domain(s.domain) else {
            return;
        };
        if *d != Domain::default() {
            continue;
        }
        d.last_seq = s.last_seq;
        d.last_uptime = s.last_uptime;
        d.init_ms = s.init_ms;
        d.sampling.default = s.sampling;
        let samplers = s.samplers.iter().take(MAX_SAMPLERS);
        d.sampling.samplers = samplers.copied().collect();
    }
}

/// Restores templates younger than the maximum age that the exporter does not already
/// know live; returns how many.
fn restore_templates(
    ex: &mut Exporter,
    templates: Vec<SavedTemplate>,
    limits: &Limits,
    now_ms: i64,
) -> usize {
    let mut n = 0;
    for s in templates {
        let key = (s.domain, s.id);
        let too_old = now_ms.saturating_sub(s.learned_ms) > limits.max_restored_age_ms;
        let full = ex.templates.len() >= limits.max_per_exporter;
        if too_old || full || s.id < 256 || ex.templates.contains_key(&key) {
            continue;
        }
        let Ok(mut t) = Template::compile(s.kind, s.scope_count, s.fields, s.v9_scope, s.id, 0)
        else {
            continue;
        };
        t.learned_ms = s.learned_ms;
        t.restored = true;
        ex.templates.insert(key, t);
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::flow::testutil::{exporter, feed, ipfix, set, template, v9, NOW};
    use crate::flow::{Decoder, Limits};

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("flowalert-persist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    fn v9_template() -> Vec<u8> {
        v9(
            60_000,
            1_000,
            10,
            &[set(0, &template(256, &[(8, 4), (12, 4)]))],
        )
    }

    fn v9_data(uptime: u32, seq: u32) -> Vec<u8> {
        v9(
            uptime,
            1_000,
            seq,
            &[set(256, &[10, 0, 0, 1, 192, 0, 2, 1])],
        )
    }

    /// A decoder restored from a file saved by one that learnt `datagrams`.
    fn saved_and_restored(name: &str, datagrams: &[Vec<u8>], now: i64) -> (Decoder, usize) {
        let path = temp(name);
        let mut first = Decoder::new(Limits::default());
        feed(&mut first, datagrams);
        first.save(&path).unwrap();
        assert!(
            !path.with_extension("tmp").exists(),
            "temporary file renamed away"
        );

        let mut second = Decoder::new(Limits::default());
        let n = second.restore(&path, now).unwrap();
        (second, n)
    }

    #[test]
    fn restored_templates_decode_data_after_a_restart_of_the_collector() {
        let (mut d, n) = saved_and_restored("roundtrip.json", &[v9_template()], NOW);
        assert_eq!((n, d.templates_known()), (1, 1));
        let out = feed(&mut d, &[v9_data(61_000, 11)]);
        assert_eq!(out.len(), 1);
        assert_eq!(d.counters().sets_no_template, 0);
        assert_eq!(d.counters().sequence_gaps, 0);
    }

    #[test]
    fn restored_templates_older_than_the_maximum_age_are_skipped() {
        let late = NOW + Limits::default().max_restored_age_ms + 1;
        let (d, n) = saved_and_restored("old.json", &[v9_template()], late);
        assert_eq!((n, d.templates_known()), (0, 0));
    }

    #[test]
    fn v9_uptime_going_backwards_drops_restored_templates() {
        let (mut d, _) = saved_and_restored("v9restart.json", &[v9_template()], NOW);
        let out = feed(&mut d, &[v9_data(500, 0)]); // uptime 0.5 s < 60 s: rebooted
        assert!(out.is_empty());
        assert_eq!(d.counters().exporter_restarts, 1);
        assert_eq!(d.counters().sets_no_template, 1);
        assert_eq!(d.templates_known(), 0);
    }

    #[test]
    fn ipfix_sequence_reset_drops_restored_templates() {
        let t = ipfix(0, 5000, 1, &[set(2, &template(256, &[(8, 4)]))]);
        let (mut d, _) = saved_and_restored("ipfixrestart.json", &[t], NOW);
        let out = feed(&mut d, &[ipfix(0, 0, 1, &[set(256, &[10, 0, 0, 1])])]);
        assert!(out.is_empty());
        assert_eq!(d.counters().exporter_restarts, 1);
    }

    #[test]
    fn live_templates_survive_what_looks_like_a_restart() {
        let mut d = Decoder::new(Limits::default());
        let out = feed(&mut d, &[v9_template(), v9_data(500, 11)]);
        assert_eq!(out.len(), 1);
        assert_eq!(d.counters().exporter_restarts, 0);
    }

    #[test]
    fn unreadable_files_are_discarded_with_a_warning() {
        let path = temp("garbage.json");
        std::fs::write(&path, b"{not json").unwrap();
        let mut d = Decoder::new(Limits::default());
        let err = d.restore(&path, NOW).unwrap_err();
        assert!(err.starts_with("template cache "), "{err}");
        assert!(err.contains("discarded"), "{err}");

        std::fs::write(
            &path,
            br#"{"format":"flowalert-templates","version":99,"exporters":[]}"#,
        )
        .unwrap();
        let err = d.restore(&path, NOW).unwrap_err();
        assert!(
            err.ends_with("format flowalert-templates version 99 unknown"),
            "{err}"
        );
        assert_eq!(d.restore(&temp("missing.json"), NOW), Ok(0));
        assert_eq!(d.templates_known(), 0);
    }

    #[test]
    fn restored_state_keeps_exporters_and_sampling() {
        let (d, _) = saved_and_restored("exporters.json", &[v9_template()], NOW);
        assert_eq!(
            d.exporters().map(|e| e.0).collect::<Vec<_>>(),
            vec![exporter()]
        );
    }
}
