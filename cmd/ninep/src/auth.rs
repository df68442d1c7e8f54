//! Authenticated 9P with the cluster's secret: the guard an export asks
//! for proof with (its challenge: fresh unpredictable bytes; a proof:
//! `fs9p::auth::prove`), and the secret and seed a program got in
//! its environment (`UX_SECRET`, `UX_SEED`, hex), which only the cluster
//! server has and passes on to the exports and mounts it starts.

use alloc::vec::Vec;
use fs9p::auth::{from_hex, proves};
use libux::cluster::Nonces;

pub struct SecretGuard {
    secret: Vec<u8>,
    nonces: Nonces,
}

impl SecretGuard {
    pub fn new(secret: &[u8], seed: &[u8]) -> SecretGuard {
        SecretGuard { secret: secret.into(), nonces: Nonces::new(seed) }
    }
}

impl fs9p::server::Guard for SecretGuard {
    fn challenge(&mut self) -> Vec<u8> {
        self.nonces.bytes().to_vec()
    }

    fn verify(&self, challenge: &[u8], answer: &[u8]) -> bool {
        proves(&self.secret, challenge, answer)
    }
}

/// `key` of our environment, as bytes from hex; none if absent or not hex.
pub fn env_hex(key: &str) -> Option<Vec<u8>> {
    let value = libux::rt::start_block().env.into_iter().find_map(|e| e.strip_prefix(key)?.strip_prefix('='))?;
    from_hex(value).filter(|v| !v.is_empty())
}
