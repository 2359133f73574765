//! pcap and pcapng reading for replay (being written).
