//! IANA protocol numbers as records name them, and which protocols carry ports.
//!
//! Unknown numbers stay numbers ("89"), so nothing a flow carries is hidden.

pub const ICMP: u8 = 1;
pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const DCCP: u8 = 33;
pub const GRE: u8 = 47;
pub const ESP: u8 = 50;
pub const ICMPV6: u8 = 58;
pub const SCTP: u8 = 132;
pub const UDPLITE: u8 = 136;

/// A protocol number as `proto=` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtoName(pub u8);

impl std::fmt::Display for ProtoName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match keyword(self.0) {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

/// The upper-case IANA keyword for the protocols records name.
pub fn keyword(protocol: u8) -> Option<&'static str> {
    Some(match protocol {
        ICMP => "ICMP",
        TCP => "TCP",
        UDP => "UDP",
        GRE => "GRE",
        ESP => "ESP",
        ICMPV6 => "IPV6-ICMP",
        SCTP => "SCTP",
        _ => return None,
    })
}

/// True for the protocols whose flows have source and destination ports.
pub fn has_ports(protocol: u8) -> bool {
    matches!(protocol, TCP | UDP | DCCP | SCTP | UDPLITE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(ProtoName(6).to_string(), "TCP");
        assert_eq!(ProtoName(58).to_string(), "IPV6-ICMP");
        assert_eq!(ProtoName(89).to_string(), "89");
        assert_eq!(ProtoName(0).to_string(), "0");
    }

    #[test]
    fn only_port_protocols_have_ports() {
        assert!(has_ports(TCP) && has_ports(UDP) && has_ports(SCTP));
        assert!(!has_ports(ICMP) && !has_ports(ICMPV6) && !has_ports(GRE) && !has_ports(ESP));
    }
}
