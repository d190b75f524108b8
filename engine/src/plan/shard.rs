//! `--shard I/N`: which of a plan's subjects one job judges.

/// The most shards a plan may have (`--shard I/N`, N ≤ this).
pub const MAX_SHARDS: u64 = 10_000;

/// `I/N`: this run judges the subjects whose digest falls in shard I of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub total: u64,
}

impl Shard {
    pub fn parse(s: &str) -> Option<Self> {
        let (i, n) = s.split_once('/')?;
        let (index, total) = (i.trim().parse().ok()?, n.trim().parse().ok()?);
        ((1..=MAX_SHARDS).contains(&total) && (1..=total).contains(&index)).then_some(Shard { index, total })
    }

    pub fn all() -> Self {
        Shard { index: 1, total: 1 }
    }

    /// Whether the subject with this plan id ([`SubjectPlan::id`]) is this shard's: by the
    /// id as listed, never by a digest resolved at run time (a tag that moves between
    /// two shard jobs must not make its image fall between them). The same id listed
    /// twice lands in the same shard.
    pub fn contains(&self, id: &str) -> bool {
        let hash = sigstore_verify::crypto::sha256(id.as_bytes());
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(hash.as_bytes().get(..8).unwrap_or(&[0; 8]));
        u64::from_be_bytes(prefix) % self.total == self.index - 1
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.total)
    }
}
