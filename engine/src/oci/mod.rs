//! Images in OCI registries: resolve a reference to a digest once, find everything that
//! claims to sign it — cosign `.sig` and `.att` tags, OCI 1.1 referrers holding Sigstore
//! bundles (API, or the `sha256-<hex>` tag schema) — and verify each through the same
//! core as files.

pub mod client;
pub mod discover;
pub mod limit;
pub mod reference;

pub use client::{ClientStats, Credentials, OciError, OciErrorKind, RegistryClient, RegistryOptions};
pub use discover::{discover, verify_found, Discovery, Found, ImageSubject};
pub use reference::ImageRef;

/// Images discovered at once. Network-bound, so not tied to `--jobs`: each registry's own
/// adaptive limit ([`limit::Limiter`]) decides how many requests it gets.
pub const IMAGES_AT_ONCE: usize = 64;
