//! A Rekor-v1-style transparency log: an RFC 6962 Merkle tree over canonicalized entry
//! bodies, signed entry timestamps (SETs), inclusion proofs and signed checkpoints in the
//! signed-note format.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::x509::Result;

type Hash = [u8; 32];

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut data = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        data.extend_from_slice(p);
    }
    *sigstore_verify::crypto::sha256(&data).as_bytes()
}

pub fn leaf_hash(body: &[u8]) -> Hash {
    sha256(&[&[0], body])
}

fn node_hash(l: &Hash, r: &Hash) -> Hash {
    sha256(&[&[1], l, r])
}

pub struct TransparencyLog {
    pub key: crate::key::Key,
    pub log_id: Hash,
    pub origin: String,
    leaves: Vec<Hash>,
    /// levels[i][j]: the hash of the aligned 2^i-leaf subtree j (complete subtrees only).
    levels: Vec<Vec<Hash>>,
}

pub struct Proof {
    pub tree_size: u64,
    pub root: Hash,
    pub hashes: Vec<Hash>,
    pub checkpoint: String,
}

impl TransparencyLog {
    pub fn new(name: &str) -> Result<Self> {
        let key = crate::key::Key::p256()?;
        let spki = crate::x509::spki_der(&key)?;
        let log_id = *sigstore_verify::crypto::sha256(&spki).as_bytes();
        let tree_id = u64::from_be_bytes(log_id[..8].try_into().unwrap_or_default()) >> 1;
        Ok(TransparencyLog { key, log_id, origin: format!("{name} - {tree_id}"), leaves: Vec::new(), levels: Vec::new() })
    }

    pub fn size(&self) -> u64 {
        self.leaves.len() as u64
    }

    pub fn append(&mut self, body: &[u8]) -> u64 {
        self.leaves.push(leaf_hash(body));
        self.levels.clear();
        self.leaves.len() as u64 - 1
    }

    fn build_levels(&mut self) {
        if !self.levels.is_empty() {
            return;
        }
        let mut level = self.leaves.clone();
        while level.len() > 1 {
            let next: Vec<Hash> = level.chunks_exact(2).map(|p| node_hash(&p[0], &p[1])).collect();
            self.levels.push(std::mem::replace(&mut level, next));
        }
        self.levels.push(level);
    }

    /// MTH(D[lo:hi]) per RFC 6962 2.1.
    fn mth(&self, lo: usize, hi: usize) -> Hash {
        let n = hi - lo;
        if n == 1 {
            return self.leaves[lo];
        }
        if n.is_power_of_two() && lo.is_multiple_of(n) {
            let level = n.trailing_zeros() as usize;
            return self.levels[level][lo / n];
        }
        let k = split(n);
        node_hash(&self.mth(lo, lo + k), &self.mth(lo + k, hi))
    }

    /// PATH(m, D[lo:hi]) per RFC 6962 2.1.1, leaf-side first.
    fn path(&self, m: usize, lo: usize, hi: usize, out: &mut Vec<Hash>) {
        let n = hi - lo;
        if n <= 1 {
            return;
        }
        let k = split(n);
        if m - lo < k {
            self.path(m, lo, lo + k, out);
            out.push(self.mth(lo + k, hi));
        } else {
            self.path(m, lo + k, hi, out);
            out.push(self.mth(lo, lo + k));
        }
    }

    /// The signed checkpoint of the current tree.
    pub fn checkpoint(&mut self) -> Result<(Hash, String)> {
        self.build_levels();
        let size = self.leaves.len();
        let root = if size == 0 { sha256(&[]) } else { self.mth(0, size) };
        let body = format!("{}\n{}\n{}\n", self.origin, size, STANDARD.encode(root));
        let sig = self.key.sign(body.as_bytes())?;
        let mut hint_and_sig = self.log_id[..4].to_vec();
        hint_and_sig.extend_from_slice(&sig);
        let name = self.origin.split(' ').next().unwrap_or_default();
        Ok((root, format!("{body}\n\u{2014} {name} {}\n", STANDARD.encode(hint_and_sig))))
    }

    /// Inclusion proofs of `indices` against the current tree, sharing one checkpoint.
    pub fn prove(&mut self, indices: &[u64]) -> Result<Vec<Proof>> {
        let (root, checkpoint) = self.checkpoint()?;
        let size = self.leaves.len();
        Ok(indices
            .iter()
            .map(|&i| {
                let mut hashes = Vec::new();
                self.path(i as usize, 0, size, &mut hashes);
                Proof { tree_size: size as u64, root, hashes, checkpoint: checkpoint.clone() }
            })
            .collect())
    }

    /// The signed entry timestamp over Rekor's canonical payload.
    pub fn set(&self, body: &[u8], integrated_time: i64, log_index: u64) -> Result<Vec<u8>> {
        let payload = serde_json::json!({
            "body": STANDARD.encode(body),
            "integratedTime": integrated_time,
            "logID": hex::encode(self.log_id),
            "logIndex": log_index,
        });
        // serde_json without preserve_order writes sorted keys, compact: canonical JSON.
        let bytes = serde_json::to_vec(&payload).map_err(|e| e.to_string())?;
        self.key.sign(&bytes)
    }
}

/// The largest power of two smaller than n (n > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}
