//! The key=value message part: one builder, the escaping rules and the size cap.
//!
//! Whatever goes in, what comes out is printable ASCII: bare values have every byte outside
//! `!`..`~` (and `"`, `\`, `=`, `,`) percent-encoded, quoted text escapes `"` and `\` with a
//! backslash, other control bytes as `\xNN`, and shows each non-ASCII character as `?`.
//! Cut fields (`refs`, `names`, `detail`) keep the message within `MESSAGE_MAX` bytes.

use std::fmt::Write;
use std::net::IpAddr;

/// Largest message part: a 1024-byte record less the longest header any framing adds
/// (RFC 5424 with a 64-byte hostname, a 10-digit PID, both SD elements: 200 bytes).
pub const MESSAGE_MAX: usize = 824;

/// At most this many URLs in `refs`; the rest are counted as `+N`.
pub const MAX_REFS: usize = 3;

/// Space kept for `names` when `refs` is cut, so a record always says why it was listed.
const NAMES_RESERVE: usize = 96;

/// A value that is safe as it prints, written straight into a message: through `fmt`,
/// numbers and addresses were most of a record's cost.
pub trait Plain {
    fn push_to(&self, out: &mut String);
}

impl<T: Plain + ?Sized> Plain for &T {
    fn push_to(&self, out: &mut String) {
        (**self).push_to(out);
    }
}

impl Plain for str {
    fn push_to(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl Plain for String {
    fn push_to(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl Plain for u64 {
    fn push_to(&self, out: &mut String) {
        push_decimal(out, *self);
    }
}

impl Plain for u32 {
    fn push_to(&self, out: &mut String) {
        push_decimal(out, u64::from(*self));
    }
}

impl Plain for u16 {
    fn push_to(&self, out: &mut String) {
        push_decimal(out, u64::from(*self));
    }
}

impl Plain for IpAddr {
    fn push_to(&self, out: &mut String) {
        match self {
            IpAddr::V4(v4) => {
                let [a, b, c, d] = v4.octets();
                push_decimal(out, u64::from(a));
                for octet in [b, c, d] {
                    out.push('.');
                    push_decimal(out, u64::from(octet));
                }
            }
            IpAddr::V6(v6) => {
                let _ = write!(out, "{v6}");
            }
        }
    }
}

/// Appends `value` in decimal.
pub fn push_decimal(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for &digit in &digits[at..] {
        out.push(char::from(digit));
    }
}

/// Builds one message part, key by key, in the order the caller adds them.
#[derive(Debug, Default)]
pub struct Message {
    text: String,
}

impl Message {
    pub fn new() -> Message {
        Message {
            text: String::with_capacity(256),
        }
    }

    pub fn len(&self) -> usize {
        self.text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Bytes left before `MESSAGE_MAX`.
    pub fn room(&self) -> usize {
        MESSAGE_MAX.saturating_sub(self.text.len())
    }

    /// ` key=value` for values that are safe as they print (numbers, addresses, keywords).
    pub fn plain(&mut self, key: &str, value: impl Plain) -> &mut Message {
        self.key(key);
        value.push_to(&mut self.text);
        self
    }

    /// ` key=value` for text from outside (list names, subjects): encoded, `-` when empty.
    pub fn bare(&mut self, key: &str, value: &str) -> &mut Message {
        self.key(key);
        push_bare(&mut self.text, value);
        self
    }

    /// Appends `part`, built by another `Message`, as the next pairs.
    pub fn join(&mut self, part: &str) -> &mut Message {
        if !self.text.is_empty() && !part.is_empty() {
            self.text.push(' ');
        }
        self.text.push_str(part);
        self
    }

    /// ` key="text"`, escaped, the text cut with `...` to fit within `MESSAGE_MAX`.
    pub fn quoted(&mut self, key: &str, value: &str) -> &mut Message {
        self.key(key);
        self.text.push('"');
        let budget = self.room().saturating_sub(1);
        push_cut(&mut self.text, value, budget);
        self.text.push('"');
        self
    }

    /// ` refs=u1,u2,u3,+N`: at most `MAX_REFS` URLs, fewer when `tail` bytes must still fit
    /// after them with room for names; `refs_total` counts every URL, shown or not.
    pub fn refs(&mut self, refs: &[&str], refs_total: usize, tail: usize) -> &mut Message {
        self.key("refs");
        let budget = self.room().saturating_sub(tail + NAMES_RESERVE);
        let start = self.text.len();
        let mut shown = 0;
        for url in refs.iter().take(MAX_REFS) {
            let mut piece = String::new();
            if shown > 0 {
                piece.push(',');
            }
            push_bare(&mut piece, url);
            let suffix = more_refs_len(refs_total.saturating_sub(shown + 1));
            if self.text.len() - start + piece.len() + suffix > budget {
                break;
            }
            self.text.push_str(&piece);
            shown += 1;
        }
        self.more_refs(refs_total.saturating_sub(shown), shown);
        self
    }

    fn more_refs(&mut self, hidden: usize, shown: usize) {
        match (hidden, shown) {
            (0, 0) => self.text.push('-'),
            (0, _) => {}
            (n, 0) => {
                let _ = write!(self.text, "+{n}");
            }
            (n, _) => {
                let _ = write!(self.text, ",+{n}");
            }
        }
    }

    /// ` names="a | b (+N more)"`: whole names while they fit, the first one cut with `...`
    /// if even it does not; `names_total` counts every name, kept or not.
    pub fn names(&mut self, names: &[&str], names_total: usize) -> &mut Message {
        self.key("names");
        self.text.push('"');
        let budget = self.room().saturating_sub(1);
        let start = self.text.len();
        let mut shown = 0;
        for name in names {
            let mut piece = String::new();
            if shown > 0 {
                piece.push_str(" | ");
            }
            push_escaped(&mut piece, name);
            let left = names_total.saturating_sub(shown + 1);
            if self.text.len() - start + piece.len() + more_names_len(left) > budget {
                break;
            }
            self.text.push_str(&piece);
            shown += 1;
        }

        let mut left = names_total.saturating_sub(shown);
        if shown == 0 && left > 0 {
            // Not even the first name fits whole: show what fits of it.
            let room = budget.saturating_sub(more_names_len(left - 1));
            push_cut(&mut self.text, names.first().copied().unwrap_or(""), room);
            left -= 1;
        }
        if left > 0 {
            let _ = write!(self.text, " (+{left} more)");
        }
        self.text.push('"');
        self
    }

    pub fn finish(self) -> String {
        self.text
    }

    fn key(&mut self, key: &str) {
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.text.push_str(key);
        self.text.push('=');
    }
}

fn more_refs_len(hidden: usize) -> usize {
    match hidden {
        0 => 0,
        n => 2 + decimal_len(n),
    }
}

fn more_names_len(left: usize) -> usize {
    match left {
        0 => 0,
        n => " (+ more)".len() + decimal_len(n),
    }
}

fn decimal_len(mut n: usize) -> usize {
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

/// Appends `value` with every byte that could end or confuse a bare value percent-encoded.
pub fn push_bare(out: &mut String, value: &str) {
    if value.is_empty() {
        out.push('-');
        return;
    }
    for byte in value.bytes() {
        let safe = (0x21..=0x7e).contains(&byte) && !b"\"\\=,%".contains(&byte);
        if safe {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

/// Appends `value` escaped for the inside of a quoted value.
pub fn push_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        push_escaped_char(out, c);
    }
}

fn push_escaped_char(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        ' '..='~' => out.push(c),
        c if c.is_ascii() => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        _ => out.push('?'),
    }
}

/// Appends `value` escaped; when it needs more than `budget` bytes, as much as fits with
/// `...` after it. An escape sequence is never split.
fn push_cut(out: &mut String, value: &str, budget: usize) {
    let start = out.len();
    let mut piece = String::with_capacity(4);
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        piece.clear();
        push_escaped_char(&mut piece, c);
        let reserve = if chars.peek().is_some() { 3 } else { 0 };
        if out.len() - start + piece.len() + reserve > budget {
            out.push_str("...");
            return;
        }
        out.push_str(&piece);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printable(text: &str) -> bool {
        text.bytes().all(|b| (0x20..=0x7e).contains(&b))
    }

    #[test]
    fn plain_values_print_as_fmt_does() {
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        for round in 0..10_000u64 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let number = rng >> (round % 64);
            let v4 = IpAddr::from((rng as u32).to_be_bytes());
            let v6 = IpAddr::from((u128::from(rng) << 64 | u128::from(number)).to_be_bytes());
            let mut m = Message::new();
            m.plain("n", number)
                .plain("m", number as u32)
                .plain("p", number as u16)
                .plain("a", v4)
                .plain("b", v6)
                .plain("k", "TCP");
            let expected = format!(
                "n={number} m={} p={} a={v4} b={v6} k=TCP",
                number as u32, number as u16
            );
            assert_eq!(m.finish(), expected);
        }
    }

    #[test]
    fn quoted_escapes_quotes_backslashes_controls_and_non_ascii() {
        let mut m = Message::new();
        m.quoted("detail", "a\"b\\c\nd\0e\x7fé]=x");
        assert_eq!(m.finish(), r#"detail="a\"b\\c\x0ad\x00e\x7f?]=x""#);
    }

    #[test]
    fn bare_encodes_what_would_break_the_pair() {
        let mut m = Message::new();
        m.bare("refs", "http://x/a b\"c=d,e%é").bare("lists", "");
        assert_eq!(
            m.finish(),
            "refs=http://x/a%20b%22c%3Dd%2Ce%25%C3%A9 lists=-"
        );
    }

    #[test]
    fn refs_cut_to_three_plus_count() {
        let urls = ["https://a/1", "https://a/2", "https://a/3", "https://a/4"];
        let mut m = Message::new();
        m.refs(&urls, 5, 0);
        assert_eq!(m.finish(), "refs=https://a/1,https://a/2,https://a/3,+2");

        let mut none = Message::new();
        none.refs(&[], 0, 0);
        assert_eq!(none.finish(), "refs=-");
    }

    #[test]
    fn refs_too_long_become_a_count() {
        let long = "h".repeat(2000);
        let mut m = Message::new();
        m.refs(&[&long, "https://b"], 2, 0);
        assert_eq!(m.finish(), "refs=+2");
    }

    #[test]
    fn names_joined_and_counted() {
        let mut m = Message::new();
        m.names(&["Example \"quoted\" pulse", "SBL900002"], 2);
        assert_eq!(
            m.finish(),
            r#"names="Example \"quoted\" pulse | SBL900002""#
        );

        let mut kept = Message::new();
        kept.names(&["one"], 4);
        assert_eq!(kept.finish(), r#"names="one (+3 more)""#);
    }

    #[test]
    fn names_cut_to_the_cap() {
        let name = "n".repeat(300);
        let names = [name.as_str(); 10];
        let mut m = Message::new();
        m.plain("src", "192.0.2.1");
        m.names(&names, 10);
        let text = m.finish();
        assert!(text.len() <= MESSAGE_MAX, "{}", text.len());
        assert!(text.ends_with(" (+8 more)\""), "{text}");
        assert_eq!(text.matches(" | ").count(), 1);
    }

    #[test]
    fn one_huge_name_is_cut_with_dots() {
        let name = "é\n".repeat(5000);
        let mut m = Message::new();
        m.names(&[&name, "second"], 2);
        let text = m.finish();
        assert!(text.len() <= MESSAGE_MAX && printable(&text));
        assert!(
            text.ends_with("... (+1 more)\""),
            "{}",
            &text[text.len() - 30..]
        );
        assert!(text.starts_with("names=\"?\\x0a?\\x0a"));
    }

    #[test]
    fn quoted_detail_cut_keeps_escapes_whole() {
        let detail = "\\".repeat(2000);
        let mut m = Message::new();
        m.quoted("detail", &detail);
        let text = m.finish();
        assert!(text.len() <= MESSAGE_MAX);
        assert!(text.ends_with("\\\\...\""), "{}", &text[text.len() - 10..]);
    }
}
