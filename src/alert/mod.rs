//! Alert records: direction, repeat folding and the message format (being written).
