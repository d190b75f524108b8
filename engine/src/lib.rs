//! vouch engine: verifies Sigstore signatures and attestations, turns each verified
//! certificate into typed identity claims, judges them with Rego policies, and reports
//! one decision per subject.
//!
//! Every command is one flow, one module per stage, in this order:
//!
//! 1. [`plan`]: a [`plan::Request`] (flags and/or a manifest) → a [`plan::Plan`]: the
//!    subjects with their evidence, who may sign, the policy, the trusted root. Every
//!    configuration error is found here, before any subject is judged.
//! 2. [`evidence`] and [`oci`]: bundles and cosign layers, read from files or fetched
//!    from registries.
//! 3. [`trust`] and [`verify`]: the signatures verified against the trusted root, the
//!    signer matched against the identity requirements.
//! 4. [`claims`]: each verified certificate → its claims document.
//! 5. [`decide`]: the policy input, the policy's findings ([`policy`] wraps regorus),
//!    the verdict per subject.
//! 6. [`run`]: the plan → results: shards, dedup, rayon for CPU, one tokio runtime for
//!    registries.
//! 7. [`report`]: the one [`report::Report`] every command renders, in every format;
//!    merges of sharded runs.
//!
//! Errors carry a [`Code`] (stable name, hint, exit class). The CLI only turns arguments
//! into a request and renders what this crate returns.

pub mod plan;

pub mod evidence;
pub mod oci;

pub mod trust;
pub mod verify;

pub mod claims;

pub mod decide;
pub mod policy;

pub mod run;

pub mod report;
pub mod vsa;

pub mod error;

pub use error::{Class, Code, Error, ErrorKind, Reason};
