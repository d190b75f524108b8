//! The `vouch` binary: parses arguments, calls the engine, renders results.
//! Exit codes: 0 verified/passed, 1 rejected, 2 usage or configuration error,
//! 3 infrastructure error.

mod render;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use vouch_engine::evidence;
use vouch_engine::identity::IdentityRequirement;
use vouch_engine::subject::{Artifact, ArtifactInput};
use vouch_engine::trust::{Trust, TrustSource};
use vouch_engine::verify::{self, Signer};
use vouch_engine::Error;

#[derive(Parser)]
#[command(name = "vouch", version, about = "Verify Sigstore signatures and judge them with policies", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify a file (or a sha256: digest) against a Sigstore or cosign bundle.
    VerifyBlob(VerifyBlobArgs),
    /// Print the claims document a policy would see for a bundle's signer.
    Claims(ClaimsArgs),
}

#[derive(Args)]
struct TrustArgs {
    /// Sigstore TrustedRoot JSON for a private instance (or a ClientTrustConfig).
    #[arg(long, value_name = "FILE", conflicts_with = "staging")]
    trusted_root: Option<PathBuf>,
    /// Use the embedded Sigstore staging root instead of production.
    #[arg(long)]
    staging: bool,
}

impl TrustArgs {
    fn source(&self) -> TrustSource {
        match (&self.trusted_root, self.staging) {
            (Some(path), _) => TrustSource::File(path.clone()),
            (None, true) => TrustSource::Staging,
            (None, false) => TrustSource::Production,
        }
    }
}

#[derive(Args)]
struct IdentityArgs {
    /// The exact certificate identity (SAN) the signer must have.
    #[arg(long, value_name = "ID")]
    certificate_identity: Option<String>,
    /// A regular expression the whole identity must match (always anchored).
    #[arg(long, value_name = "REGEX", conflicts_with = "certificate_identity")]
    certificate_identity_regexp: Option<String>,
    /// The exact OIDC issuer, e.g. https://gitlab.com or https://token.actions.githubusercontent.com.
    #[arg(long, value_name = "URL")]
    certificate_oidc_issuer: Option<String>,
    /// A regular expression the whole issuer must match (always anchored).
    #[arg(long, value_name = "REGEX", conflicts_with = "certificate_oidc_issuer")]
    certificate_oidc_issuer_regexp: Option<String>,
    /// Verify a key-signed bundle with this PEM public key instead of an identity.
    #[arg(long, value_name = "PEM")]
    key: Option<PathBuf>,
}

impl IdentityArgs {
    fn signer(&self) -> Result<Signer, Error> {
        let any_identity_flag = self.certificate_identity.is_some()
            || self.certificate_identity_regexp.is_some()
            || self.certificate_oidc_issuer.is_some()
            || self.certificate_oidc_issuer_regexp.is_some();
        match &self.key {
            Some(_) if any_identity_flag => Err(Error::IdentityFlag(
                "--key verifies a key-signed bundle; it cannot be combined with certificate identity flags".into(),
            )),
            Some(path) => Signer::public_key_from_pem_file(path),
            None => Ok(Signer::Keyless(IdentityRequirement::from_flags(
                self.certificate_identity.as_deref(),
                self.certificate_identity_regexp.as_deref(),
                self.certificate_oidc_issuer.as_deref(),
                self.certificate_oidc_issuer_regexp.as_deref(),
            )?)),
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

#[derive(Args)]
struct VerifyBlobArgs {
    /// The artifact: a file path, or sha256:<hex> when only its digest is at hand.
    #[arg(value_name = "FILE|sha256:HEX")]
    input: String,
    /// The bundle: a Sigstore bundle (v0.1–v0.3) or a cosign `sign-blob --bundle` file.
    #[arg(long, value_name = "FILE")]
    bundle: PathBuf,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    trust: TrustArgs,
    /// `json` prints the verification result with the signer's claims on stdout.
    #[arg(long, value_enum, default_value = "text")]
    output: OutputFormat,
}

#[derive(Args)]
struct ClaimsArgs {
    /// The artifact; without it the bundle's own digest is used (the signature,
    /// certificate and log entry are still verified, the artifact is not).
    #[arg(value_name = "FILE|sha256:HEX")]
    input: Option<String>,
    #[arg(long, value_name = "FILE")]
    bundle: PathBuf,
    #[command(flatten)]
    trust: TrustArgs,
}

fn main() -> ExitCode {
    render::install_hook();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::VerifyBlob(args) => verify_blob(args),
        Command::Claims(args) => claims(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            render::diagnostic(&error);
            render::exit_code(&error)
        }
    }
}

fn verify_blob(args: VerifyBlobArgs) -> Result<ExitCode, Error> {
    // Usage errors first: nothing is read before the invocation makes sense.
    let signer = args.identity.signer()?;
    let input = ArtifactInput::parse(&args.input)?;
    let trust = Trust::load(&args.trust.source())?;
    let evidence = match evidence::load_bundle(&args.bundle) {
        Ok(evidence) => evidence,
        Err(error) => return Ok(render::rejected(args.output, &args.input, &error)),
    };
    let artifact = Artifact::open(input)?;
    match verify::verify(&trust, &artifact, &evidence, &signer) {
        Ok(signature) => {
            render::verified(args.output, &artifact, &signature);
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => Ok(render::rejected(args.output, &args.input, &error)),
    }
}

fn claims(args: ClaimsArgs) -> Result<ExitCode, Error> {
    let trust = Trust::load(&args.trust.source())?;
    let evidence = evidence::load_bundle(&args.bundle)?;
    let input = match &args.input {
        Some(input) => ArtifactInput::parse(input)?,
        None => {
            let digest = evidence.claimed_sha256().ok_or_else(|| {
                Error::NeedArtifact("the bundle names no sha256 digest of its artifact (an attestation with sha512 subjects?)".into())
            })?;
            eprintln!("note: no artifact given: verifying the bundle against the sha256 it names ({})", digest.to_hex());
            ArtifactInput::Digest(digest)
        }
    };
    let artifact = Artifact::open(input)?;
    let signature = verify::verify(&trust, &artifact, &evidence, &Signer::AnyIdentity)?;
    render::claims(&signature);
    Ok(ExitCode::SUCCESS)
}
