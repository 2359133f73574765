//! Finds the line of a table header or key in configuration text, for messages.
//!
//! The TOML parser has already accepted the text; this only scans lines for `[name]`,
//! `[[name]]` and `key =`, which is enough to point a person at the right place. A key it
//! cannot find is reported at the table's header line, or line 0 when even that is missing.

pub struct Locator {
    /// (header name, index among same-named headers, key or "" for the header, line)
    entries: Vec<(String, usize, String, usize)>,
}

impl Locator {
    pub fn new(text: &str) -> Locator {
        let mut entries = Vec::new();
        let mut header = String::new();
        let mut index = 0;
        let mut seen: Vec<(String, usize)> = Vec::new();

        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            let number = number + 1;
            if let Some(name) = table_header(line) {
                index = bump(&mut seen, &name);
                header = name;
                entries.push((header.clone(), index, String::new(), number));
            } else if let Some(key) = key_of(line) {
                entries.push((header.clone(), index, key, number));
            }
        }
        Locator { entries }
    }

    /// The line of `key =` inside the `index`th table named `header` ("" for top level).
    pub fn key_line(&self, header: &str, index: usize, key: &str) -> usize {
        let found = self
            .entries
            .iter()
            .find(|(h, i, k, _)| h == header && *i == index && k == key);
        match found {
            Some(entry) => entry.3,
            None => self.header_line(header, index),
        }
    }

    pub fn header_line(&self, header: &str, index: usize) -> usize {
        let found = self
            .entries
            .iter()
            .find(|(h, i, k, _)| h == header && *i == index && k.is_empty());
        found.map_or(0, |entry| entry.3)
    }

    /// A top-level name: a table header, or a key before any header.
    pub fn top_level(&self, name: &str) -> usize {
        match self.header_line(name, 0) {
            0 => self.key_line("", 0, name),
            line => line,
        }
    }
}

fn bump(seen: &mut Vec<(String, usize)>, name: &str) -> usize {
    match seen.iter_mut().find(|(n, _)| n == name) {
        Some((_, count)) => {
            *count += 1;
            *count
        }
        None => {
            seen.push((name.to_owned(), 0));
            0
        }
    }
}

fn table_header(line: &str) -> Option<String> {
    let inner = line
        .strip_prefix("[[")
        .and_then(|rest| rest.split_once("]]"))
        .or_else(|| line.strip_prefix('[').and_then(|rest| rest.split_once(']')))?;
    Some(inner.0.trim().trim_matches('"').to_owned())
}

fn key_of(line: &str) -> Option<String> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    let is_key = !key.is_empty() && !key.starts_with('#');
    is_key.then(|| key.to_owned())
}
