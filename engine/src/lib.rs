//! vouch engine: verifies Sigstore signatures and attestations, turns each verified
//! certificate into typed identity claims, and (later) judges them with Rego policies.
//!
//! The flow runs in one direction, one module per stage:
//! [`trust`] → [`evidence`] → [`verify`] → [`claims`].
//! The CLI only parses arguments and renders what this crate returns.

pub mod batch;
pub mod claims;
pub mod error;
pub mod evidence;
pub mod identity;
pub mod judge;
pub mod manifest;
pub mod oci;
pub mod policy;
pub mod report;
pub mod subject;
pub mod trust;
pub mod verify;

pub use error::{Error, ErrorKind};
