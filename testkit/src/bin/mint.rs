//! Mint signed artifacts under a fresh private Sigstore, for scripts and benchmarks.
//!
//!     cargo run --release -p testkit --bin mint -- --out DIR --count N \
//!         [--format v0.3|v0.1|cosign-bundle] [--dsse] [--gitlab-project P] [--ref R] [--instance URL]
//!     cargo run --release -p testkit --bin mint -- image --registry HOST:PORT --repository NAME \
//!         [--format sig|att|referrer] [--count N] [--out DIR] [--gitlab-project P] [--ref R] [--instance URL]
//!
//! Writes DIR/artifact-NNNNN.txt with its bundle, DIR/trusted_root.json (and the same
//! root as a sigstore-python ClientTrustConfig, DIR/trust_config.json), and
//! DIR/subjects.tsv (artifact, bundle, certificate identity, issuer; paths relative to DIR).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use testkit::{Content, Format, GitLab, SignRequest, VirtualSigstore};

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    #[value(name = "v0.3")]
    V03,
    #[value(name = "v0.1")]
    V01,
    #[value(name = "cosign-bundle")]
    CosignBundle,
}

#[derive(Parser)]
#[command(about = "Mint artifacts signed by a private test Sigstore", args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[arg(long, required = false, default_value = "minted")]
    out: PathBuf,
    #[arg(long, default_value_t = 1)]
    count: usize,
    #[arg(long, value_enum, default_value = "v0.3")]
    format: FormatArg,
    /// Sign an in-toto statement (SLSA provenance v1) in a DSSE envelope instead.
    #[arg(long)]
    dsse: bool,
    #[command(flatten)]
    signer: SignerArgs,
}

/// The GitLab identity the artifacts are signed with.
#[derive(clap::Args)]
struct SignerArgs {
    #[arg(long, default_value = "acme/app")]
    gitlab_project: String,
    #[arg(long = "ref", default_value = "refs/heads/main")]
    git_ref: String,
    #[arg(long, default_value = "https://gitlab.com")]
    instance: String,
}

impl SignerArgs {
    fn gitlab(&self) -> GitLab {
        GitLab { instance: self.instance.clone(), project: self.gitlab_project.clone(), git_ref: self.git_ref.clone(), ..GitLab::default() }
    }
}

#[derive(clap::Subcommand)]
enum Command {
    /// Push small images, each signed, to a registry; print each digest reference, the
    /// certificate identity and the trusted root to verify with.
    Image(ImageArgs),
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ImageFormat {
    /// A cosign `sha256-<hex>.sig` signature (simple-signing payload).
    Sig,
    /// A cosign `sha256-<hex>.att` attestation (SLSA provenance v1 in DSSE).
    Att,
    /// A Sigstore bundle v0.3 as an OCI 1.1 referrer (cosign 3), with the tag-schema index.
    Referrer,
}

#[derive(clap::Args)]
struct ImageArgs {
    /// host:port of a registry reachable over plain HTTP.
    #[arg(long)]
    registry: String,
    #[arg(long)]
    repository: String,
    #[arg(long, value_enum, default_value = "sig")]
    format: ImageFormat,
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Where to write trusted_root.json.
    #[arg(long, default_value = "minted-images")]
    out: PathBuf,
    #[command(flatten)]
    signer: SignerArgs,
}

fn mint_images(args: ImageArgs) -> Result<(), String> {
    use testkit::registry::{block_on, Registry};
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let gitlab = args.signer.gitlab();
    let mut sigstore = VirtualSigstore::new()?;
    let root_path = args.out.join("trusted_root.json");
    let root = serde_json::to_string_pretty(&sigstore.trusted_root()?).map_err(|e| e.to_string())?;
    std::fs::write(&root_path, root).map_err(|e| e.to_string())?;
    let registry = Registry::new(&args.registry);
    let run = std::process::id();
    for i in 0..args.count {
        let seed = format!("{run}-{i}-{}", jiff::Timestamp::now().as_nanosecond());
        let image = block_on(registry.push_image(&args.repository, &format!("v{i}"), &seed))??;
        let reference = format!("{}/{}", args.registry, args.repository);
        match args.format {
            ImageFormat::Sig => {
                let layer = sigstore.sign_image(&reference, &image.bytes, gitlab.identity(), None)?;
                block_on(registry.push_cosign_layer(&args.repository, &image.digest, &layer))??;
            }
            ImageFormat::Att => {
                let layer = sigstore.attest_image(
                    &image.bytes,
                    gitlab.identity(),
                    Content::slsa_v1(&format!("{}/{}/-/runners/1", gitlab.instance, gitlab.project)),
                    None,
                )?;
                block_on(registry.push_cosign_layer(&args.repository, &image.digest, &layer))??;
            }
            ImageFormat::Referrer => {
                let minted = sigstore.sign_image_bundle(&image.bytes, gitlab.identity(), None)?;
                block_on(registry.push_referrer(&args.repository, &image, minted.json().as_bytes()))??;
            }
        }
        println!("{reference}@{}\t{}\t{}\t{}", image.digest, gitlab.san(), gitlab.instance, root_path.display());
    }
    Ok(())
}

fn main() {
    let args = Args::parse();
    if let Some(Command::Image(image)) = args.command {
        if let Err(e) = mint_images(image) {
            eprintln!("mint image: {e}");
            std::process::exit(1);
        }
        return;
    }
    if let Err(e) = run(args) {
        eprintln!("mint: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), String> {
    let started = Instant::now();
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let gitlab = args.signer.gitlab();
    let identity = gitlab.identity();
    let format = match args.format {
        FormatArg::V03 => Format::V03,
        FormatArg::V01 => Format::V01,
        FormatArg::CosignBundle => Format::CosignLegacy,
    };
    if args.dsse && format == Format::CosignLegacy {
        return Err("--dsse needs a Sigstore bundle format (v0.3 or v0.1)".into());
    }
    let mut sigstore = VirtualSigstore::new()?;
    let names: Vec<String> = (1..=args.count).map(|i| format!("artifact-{i:05}.txt")).collect();
    let requests = names
        .iter()
        .map(|name| {
            let contents = format!("{name}: built by {} at {}\n", gitlab.project, gitlab.git_ref);
            let request = if args.dsse {
                SignRequest::dsse(
                    contents,
                    identity.clone(),
                    Content::slsa_v1(&format!("{}/{}/-/runners/1", gitlab.instance, gitlab.project)),
                )
            } else {
                SignRequest::message(contents, identity.clone())
            };
            request.format(format).name(name)
        })
        .collect::<Vec<_>>();
    let contents: Vec<Vec<u8>> = requests.iter().map(|r| r.artifact.clone()).collect();
    let minted = sigstore.sign_many(requests)?;
    let suffix = if format == Format::CosignLegacy { "cosign.bundle" } else { "sigstore.json" };
    let write = |name: &str, bytes: &[u8]| std::fs::write(args.out.join(name), bytes).map_err(|e| format!("{name}: {e}"));
    let mut tsv = Vec::new();
    for ((name, bytes), m) in names.iter().zip(&contents).zip(&minted) {
        let bundle = format!("{name}.{suffix}");
        write(name, bytes)?;
        write(&bundle, m.json().as_bytes())?;
        writeln!(tsv, "{name}\t{bundle}\t{}\t{}", m.identity, m.issuer).map_err(|e| e.to_string())?;
    }
    write("subjects.tsv", &tsv)?;
    let root = serde_json::to_string_pretty(&sigstore.trusted_root()?).map_err(|e| e.to_string())?;
    write("trusted_root.json", root.as_bytes())?;
    let config = serde_json::to_string_pretty(&sigstore.client_trust_config()?).map_err(|e| e.to_string())?;
    write("trust_config.json", config.as_bytes())?;
    eprintln!("minted {} artifacts in {:.2?} into {}", args.count, started.elapsed(), args.out.display());
    Ok(())
}
