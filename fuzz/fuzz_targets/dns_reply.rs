//! Fuzzes the DNSBL reply decoder: any bytes from the resolver's address give a reply or
//! an error, never a panic, and a reply reads as an answer to either query type we send.
#![no_main]

use flowalert::dnsbl::wire::{self, Answer};
use hickory_proto::rr::RecordType;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(reply) = wire::decode_reply(data) else {
        return;
    };
    for asked in [RecordType::A, RecordType::TXT] {
        if let Answer::Text { url: Some(url) } = reply.answer(asked) {
            assert!(url.bytes().all(|b| b.is_ascii_graphic()), "{url:?}");
        }
    }
    if let Some(question) = &reply.question {
        assert!(reply.answers(question));
    }
});
