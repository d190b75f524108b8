//! Mint signed artifacts under a fresh private Sigstore, for scripts and benchmarks.
//!
//!     cargo run --release -p testkit --bin mint -- --out DIR --count N \
//!         [--format v0.3|v0.1|cosign-bundle] [--dsse] [--gitlab-project P] [--ref R] [--instance URL]
//!
//! Writes DIR/artifact-NNNNN.txt with its bundle, DIR/trusted_root.json (and the same
//! root as a sigstore-python ClientTrustConfig, DIR/trust_config.json), and
//! DIR/subjects.tsv (artifact, bundle, certificate identity, issuer; paths relative to DIR).

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
#[command(about = "Mint artifacts signed by a private test Sigstore")]
struct Args {
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 1)]
    count: usize,
    #[arg(long, value_enum, default_value = "v0.3")]
    format: FormatArg,
    /// Sign an in-toto statement (SLSA provenance v1) in a DSSE envelope instead.
    #[arg(long)]
    dsse: bool,
    #[arg(long, default_value = "acme/app")]
    gitlab_project: String,
    #[arg(long = "ref", default_value = "refs/heads/main")]
    git_ref: String,
    #[arg(long, default_value = "https://gitlab.com")]
    instance: String,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("mint: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), String> {
    let started = Instant::now();
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let gitlab = GitLab { instance: args.instance.clone(), project: args.gitlab_project.clone(), git_ref: args.git_ref.clone(), ..GitLab::default() };
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
                SignRequest::dsse(contents, identity.clone(), Content::slsa_v1(&format!("{}/{}/-/runners/1", gitlab.instance, gitlab.project)))
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
