//! Query ids from xorshift64*, seeded from /dev/urandom (or, failing that, the time and the
//! process id). Enough to make ids unguessable to an off-path sender; not cryptographic.

use std::io::Read;

pub struct Rng(u64);

impl Rng {
    pub fn seeded(now_us: i64) -> Rng {
        let mut bytes = [0u8; 8];
        let from_os = std::fs::File::open("/dev/urandom")
            .and_then(|mut file| file.read_exact(&mut bytes))
            .is_ok();
        let seed = if from_os {
            u64::from_le_bytes(bytes)
        } else {
            now_us.unsigned_abs() ^ (u64::from(std::process::id()) << 32)
        };
        Rng::from_seed(seed)
    }

    pub fn from_seed(seed: u64) -> Rng {
        // splitmix64 once, so a small seed still starts far from zero; zero is a fixed point.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn next_u16(&mut self) -> u16 {
        (self.next_u64() >> 48) as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_spread_over_the_range() {
        let mut rng = Rng::from_seed(0);
        let ids: std::collections::HashSet<u16> = (0..1000).map(|_| rng.next_u16()).collect();
        assert!(ids.len() > 980, "{} distinct of 1000", ids.len());
    }
}
