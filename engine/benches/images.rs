//! Images verified per second: 200 signed images on a loopback registry (Debian's
//! docker-registry, started here), discovered with bounded concurrency on tokio and
//! verified on rayon, against the same work one image at a time.
//!
//!     cargo bench -p vouch-engine --bench images

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::process::{Command, Stdio};
use std::time::Instant;

use rayon::prelude::*;
use testkit::registry::{block_on, Registry};
use testkit::{GitLab, VirtualSigstore};
use vouch_engine::oci::{self, ImageRef, RegistryClient, RegistryOptions};
use vouch_engine::trust::{Trust, TrustSource};
use vouch_engine::verify::identity::IdentityRequirement;
use vouch_engine::verify::Signer;

const IMAGES: usize = 200;
const CONCURRENCY: usize = 16;
const LATENCY_MS: u64 = 20;
const LATENCY_IMAGES: usize = 100;

fn main() {
    let dir = std::env::temp_dir().join(format!("vouch-bench-images-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let bin = std::env::var("VOUCH_DOCKER_REGISTRY").unwrap_or_else(|_| "docker-registry".into());
    let mut child = Command::new(&bin)
        .arg("serve")
        .arg(dir.join("config.yml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin} ({e}): apt-get install docker-registry"));
    let host = format!("127.0.0.1:{port}");
    while std::net::TcpStream::connect(&host).is_err() {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // Mint: 200 images, each with a cosign signature.
    let mut sigstore = VirtualSigstore::new().unwrap();
    let registry = Registry::new(&host);
    let t = Instant::now();
    let mut refs = Vec::new();
    for i in 0..IMAGES {
        let img = block_on(registry.push_image("bench/app", &format!("v{i}"), &format!("bench-{i}"))).unwrap().unwrap();
        let layer = sigstore.sign_image(&format!("{host}/bench/app"), &img.bytes, GitLab::default().identity(), None).unwrap();
        block_on(registry.push_cosign_layer("bench/app", &img.digest, &layer)).unwrap().unwrap();
        refs.push(ImageRef::parse(&format!("{host}/bench/app:v{i}")).unwrap());
    }
    println!("pushed {IMAGES} signed images in {:.1?}", t.elapsed());
    let trust =
        Trust::from_json(TrustSource::File("minted".into()), &serde_json::to_string(&sigstore.trusted_root().unwrap()).unwrap()).unwrap();
    let signer =
        Signer::Keyless(IdentityRequirement::from_flags(Some(&GitLab::default().san()), None, Some("https://gitlab.com"), None).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let measure = |refs: &[ImageRef]| -> (f64, f64, std::time::Duration) {
        let client = RegistryClient::new(RegistryOptions::default()).unwrap();
        // One image at a time: resolve, fetch, verify.
        let t = Instant::now();
        for r in refs {
            let d = runtime.block_on(oci::discover(&client, r, None)).unwrap();
            for found in &d.evidence {
                oci::verify_found(&trust, &d.subject, found.as_ref().unwrap(), &signer).unwrap();
            }
        }
        let sequential = refs.len() as f64 / t.elapsed().as_secs_f64();

        // Concurrent fetches (bounded), then verification in parallel.
        let t = Instant::now();
        let discoveries = runtime.block_on(async {
            let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
            let client = std::sync::Arc::new(client);
            let tasks: Vec<_> = refs
                .iter()
                .cloned()
                .map(|r| {
                    let (semaphore, client) = (semaphore.clone(), client.clone());
                    tokio::spawn(async move {
                        let _permit = semaphore.acquire().await;
                        oci::discover(&client, &r, None).await
                    })
                })
                .collect();
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap().unwrap());
            }
            out
        });
        let fetched = t.elapsed();
        let verified: usize = discoveries
            .par_iter()
            .map(|d| d.evidence.iter().filter(|f| oci::verify_found(&trust, &d.subject, f.as_ref().unwrap(), &signer).is_ok()).count())
            .sum();
        assert_eq!(verified, refs.len());
        (sequential, refs.len() as f64 / t.elapsed().as_secs_f64(), fetched)
    };
    let (sequential, concurrent, fetched) = measure(&refs);
    println!("{IMAGES} images on a loopback registry (resolve tag, fetch .sig manifest and layer, referrers, verify):");
    println!("  one at a time:                        {sequential:>7.0} images/s");
    println!("  {CONCURRENCY} concurrent fetches + rayon verify: {concurrent:>7.0} images/s (fetching took {fetched:.1?})");

    // The same registry 20 ms away (a loopback proxy answering each request 20 ms late):
    // round trips, not CPU, decide.
    let proxy = testkit::harness::LatencyProxy::start(&host, std::time::Duration::from_millis(LATENCY_MS));
    let far: Vec<ImageRef> = refs
        .iter()
        .take(LATENCY_IMAGES)
        .map(|r| ImageRef::parse(&format!("{}/{}:{}", proxy.host, r.repository, r.tag.clone().unwrap_or_default())).unwrap())
        .collect();
    let (sequential, concurrent, fetched) = measure(&far);
    println!("{LATENCY_IMAGES} of them {LATENCY_MS} ms away (a latency proxy):");
    println!("  one at a time:                        {sequential:>7.1} images/s");
    println!("  {CONCURRENCY} concurrent fetches + rayon verify: {concurrent:>7.0} images/s (fetching took {fetched:.1?})");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
