//! DNSBL queries and replies on the wire, built and parsed with `hickory-proto`.
//!
//! Query names follow RFC 5782: IPv4 octets reversed, IPv6 nibbles reversed, then the zone.
//! `decode_reply` never panics: any bytes give a `Reply` or a `ReplyError`, and a reply is
//! reduced to what a DNSBL lookup needs, with every list read from it capped.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

/// Return codes read from one answer at most; a zone has a handful.
const MAX_CODES: usize = 16;
/// TXT text read from one answer at most, in bytes.
const MAX_TEXT: usize = 2048;
/// A URL taken from TXT is cut here.
const MAX_URL: usize = 256;

/// `4.3.2.1.zone.` for 1.2.3.4; 32 reversed nibbles for IPv6 (RFC 5782 sections 2.1, 2.4).
pub fn query_name(address: IpAddr, zone: &str) -> String {
    let mut name = String::with_capacity(80 + zone.len());
    match address {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            let _ = write!(name, "{d}.{c}.{b}.{a}.");
        }
        IpAddr::V6(v6) => {
            for byte in v6.octets().iter().rev() {
                let _ = write!(name, "{:x}.{:x}.", byte & 0x0f, byte >> 4);
            }
        }
    }
    name.push_str(zone);
    name.push('.');
    name
}

/// What a query asked: a reply must repeat it exactly (RFC 5452 section 9.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub qtype: RecordType,
}

impl Question {
    pub fn new(name: &str, qtype: RecordType) -> Option<Question> {
        let name = Name::from_ascii(name).ok()?;
        Some(Question { name, qtype })
    }

    /// The query datagram: one question, recursion desired, no EDNS (answers fit in 512).
    pub fn encode(&self, id: u16) -> Option<Vec<u8>> {
        let mut message = Message::new(id, MessageType::Query, OpCode::Query);
        message.metadata.recursion_desired = true;
        let mut query = Query::query(self.name.clone(), self.qtype);
        query.set_query_class(DNSClass::IN);
        message.add_query(query);
        message.to_vec().ok()
    }
}

/// A decoded reply: its id and question, checked against the pending query before the
/// answer is read for the type that query asked.
#[derive(Debug, Clone)]
pub struct Reply {
    pub id: u16,
    /// The question the reply repeats: `None` unless there is exactly one, of class IN.
    pub question: Option<Question>,
    message: Message,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// NOERROR with A records: the return codes and the smallest TTL among them.
    Codes { codes: Vec<Ipv4Addr>, ttl: u32 },
    /// TXT records, and the first URL found in them.
    Text { url: Option<String> },
    /// NXDOMAIN, or NOERROR without a record of the type asked: not listed. The negative
    /// TTL is min(SOA TTL, SOA minimum) when the authority section has an SOA (RFC 2308).
    NotListed { negative_ttl: Option<u32> },
    /// SERVFAIL, REFUSED and every other response code.
    Failure(ResponseCode),
    /// The TC bit: the answer did not fit. A DNSBL answer always fits, so this is a failure.
    Truncated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyError {
    /// Not a DNS message (cut short, bad names, bad counts).
    Malformed,
    /// A query, or an opcode other than QUERY.
    NotAResponse,
}

impl Reply {
    pub fn answers(&self, question: &Question) -> bool {
        self.question.as_ref() == Some(question)
    }

    /// The answer, read as the reply to a query of type `asked`.
    pub fn answer(&self, asked: RecordType) -> Answer {
        if self.message.metadata.truncation {
            return Answer::Truncated;
        }
        answer_of(&self.message, asked)
    }
}

pub fn decode_reply(bytes: &[u8]) -> Result<Reply, ReplyError> {
    let message = Message::from_vec(bytes).map_err(|_| ReplyError::Malformed)?;
    let metadata = &message.metadata;
    if metadata.message_type != MessageType::Response || metadata.op_code != OpCode::Query {
        return Err(ReplyError::NotAResponse);
    }

    let question = match message.queries.as_slice() {
        [query] if query.query_class() == DNSClass::IN => Some(Question {
            name: query.name().clone(),
            qtype: query.query_type(),
        }),
        _ => None,
    };
    Ok(Reply {
        id: metadata.id,
        question,
        message,
    })
}

fn answer_of(message: &Message, asked: RecordType) -> Answer {
    match message.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return not_listed(message),
        other => return Answer::Failure(other),
    }
    match asked {
        RecordType::TXT => text_of(message),
        _ => codes_of(message),
    }
}

fn codes_of(message: &Message) -> Answer {
    let mut codes = Vec::new();
    let mut ttl = u32::MAX;
    // Owner names are not compared: a CNAME chain the resolver followed is fine.
    for record in &message.answers {
        if let RData::A(a) = &record.data {
            if codes.len() < MAX_CODES && !codes.contains(&a.0) {
                codes.push(a.0);
            }
            ttl = ttl.min(record.ttl);
        }
    }
    if codes.is_empty() {
        return not_listed(message);
    }
    Answer::Codes { codes, ttl }
}

fn text_of(message: &Message) -> Answer {
    let mut text = Vec::new();
    for record in &message.answers {
        if let RData::TXT(txt) = &record.data {
            for part in txt.txt_data.iter() {
                let room = MAX_TEXT.saturating_sub(text.len());
                text.extend(part.iter().take(room));
                text.push(b' ');
            }
        }
    }
    if text.is_empty() {
        return not_listed(message);
    }
    Answer::Text {
        url: first_url(&text),
    }
}

/// The first `http://` or `https://` word, printable ASCII only, without the characters
/// that would break a comma-separated `refs=`.
pub fn first_url(text: &[u8]) -> Option<String> {
    let start = (0..text.len()).find(|&at| {
        let rest = &text[at..];
        rest.starts_with(b"https://") || rest.starts_with(b"http://")
    })?;
    let url: String = text[start..]
        .iter()
        .take_while(|&&b| b.is_ascii_graphic() && !b",;\"'\\<>".contains(&b))
        .take(MAX_URL)
        .map(|&b| char::from(b))
        .collect();
    Some(url)
}

fn not_listed(message: &Message) -> Answer {
    let negative_ttl = message
        .authorities
        .iter()
        .find_map(|record| match &record.data {
            RData::SOA(soa) => Some(record.ttl.min(soa.minimum)),
            _ => None,
        });
    Answer::NotListed { negative_ttl }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_octets_are_reversed() {
        let name = query_name("192.0.2.99".parse().unwrap(), "zen.spamhaus.org");
        assert_eq!(name, "99.2.0.192.zen.spamhaus.org.");
    }

    #[test]
    fn ipv6_nibbles_are_reversed() {
        // The example of RFC 5782 section 2.4.
        let address = "2001:db8:1:2:3:4:567:89ab".parse().unwrap();
        assert_eq!(
            query_name(address, "ugly.example.com"),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.example.com."
        );
    }

    /// A reply to id 0x1234 for 2.0.0.127.a.test A: A 127.0.0.2 TTL 60.
    const LISTED: &[u8] = &[
        0x12, 0x34, // id
        0x81, 0x80, // QR, RD, RA; NOERROR
        0, 1, 0, 1, 0, 0, 0, 0, // one question, one answer
        1, b'2', 1, b'0', 1, b'0', 3, b'1', b'2', b'7', 1, b'a', 4, b't', b'e', b's', b't', 0, 0,
        1, 0, 1, // A, IN
        0xc0, 12, // the name again, compressed
        0, 1, 0, 1, // A, IN
        0, 0, 0, 60, // TTL
        0, 4, 127, 0, 0, 2, // RDLENGTH, 127.0.0.2
    ];

    #[test]
    fn a_listed_reply_gives_its_codes_and_question() {
        let reply = decode_reply(LISTED).unwrap();
        assert_eq!(reply.id, 0x1234);
        let codes = vec![Ipv4Addr::new(127, 0, 0, 2)];
        assert_eq!(
            reply.answer(RecordType::A),
            Answer::Codes { codes, ttl: 60 }
        );
        let empty = Answer::NotListed { negative_ttl: None };
        assert_eq!(
            reply.answer(RecordType::TXT),
            empty,
            "no TXT in an A answer"
        );
        let asked = Question::new("2.0.0.127.A.TEST.", RecordType::A).unwrap();
        assert!(reply.answers(&asked), "names compare without case");
        let other = Question::new("3.0.0.127.a.test.", RecordType::A).unwrap();
        assert!(!reply.answers(&other));
        let txt = Question::new("2.0.0.127.a.test.", RecordType::TXT).unwrap();
        assert!(!reply.answers(&txt));
    }

    #[test]
    fn every_cut_of_a_reply_is_an_error_not_a_panic() {
        for end in 0..LISTED.len() {
            assert!(decode_reply(&LISTED[..end]).is_err(), "cut at {end}");
        }
    }

    #[test]
    fn every_single_byte_change_decodes_or_errs_without_panicking() {
        let mut bytes = LISTED.to_vec();
        let mut listed = 0;
        for at in 0..bytes.len() {
            for value in [0x00, 0x01, 0x3f, 0x7f, 0xc0, 0xff] {
                let original = bytes[at];
                bytes[at] = value;
                if let Ok(reply) = decode_reply(&bytes) {
                    let answers = [reply.answer(RecordType::A), reply.answer(RecordType::TXT)];
                    listed += answers
                        .iter()
                        .filter(|a| matches!(a, Answer::Codes { .. }))
                        .count();
                }
                bytes[at] = original;
            }
        }
        // Changes to the TTL, the code or the id still read as a listing.
        assert!(listed > 0);
    }

    #[test]
    fn a_query_is_not_a_reply() {
        let question = Question::new("2.0.0.127.a.test.", RecordType::A).unwrap();
        let bytes = question.encode(7).unwrap();
        assert_eq!(&bytes[..4], &[0, 7, 0x01, 0x00]);
        let parsed = decode_reply(&bytes).map(|reply| reply.id);
        assert_eq!(parsed, Err(ReplyError::NotAResponse));
    }

    #[test]
    fn urls_are_cut_at_what_would_break_refs() {
        let text = b"Listed by SBL, see https://check.spamhaus.org/sbl/query/SBL1,x y";
        let url = first_url(text);
        assert_eq!(
            url.as_deref(),
            Some("https://check.spamhaus.org/sbl/query/SBL1")
        );
        assert_eq!(first_url(b"no link here"), None);
    }
}
