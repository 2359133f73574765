//! Fuzzes capture reading (pcap and pcapng, fragments reassembled) from bytes in memory:
//! every input ends in datagrams, a typed error or the end, and never loops or panics.
#![no_main]

use std::io::Cursor;

use flowalert::capture::CaptureReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::from_reader(Box::new(Cursor::new(data.to_vec()))) else {
        return;
    };
    // Each datagram takes at least one frame's bytes, so the input bounds the count.
    let mut datagrams = 0usize;
    while let Ok(Some(datagram)) = reader.next_datagram() {
        assert!(datagram.payload.len() <= 65_535);
        datagrams += 1;
        assert!(datagrams <= data.len(), "more datagrams than input bytes");
    }
    // After the end or an error the reader stays finished.
    assert!(matches!(reader.next_datagram(), Ok(None)));
});
