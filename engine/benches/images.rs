//! Images verified per second against the registry's own ceiling. 2,000 signed images on a
//! loopback registry (Debian's docker-registry, started here): vouch's discovery (bounded
//! concurrency on tokio, per-registry adaptive limits) and verification (rayon), against a
//! minimal concurrent HTTP client sending exactly the requests vouch's plan needs, with
//! no dependencies between them and no verification: what the registry can serve. Then
//! the same through a loopback proxy answering every request 20 ms late, so round trips,
//! not CPU, are what is measured.
//!
//!     cargo bench -p vouch-engine --bench images      (VOUCH_BENCH_IMAGES=N for another count)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use rayon::prelude::*;
use reqwest::Method;
use testkit::registry::{block_on, Registry};
use testkit::{GitLab, VirtualSigstore};
use vouch_engine::oci::client::sha256_digest;
use vouch_engine::oci::{self, ImageRef, RegistryClient, RegistryOptions};
use vouch_engine::trust::{Trust, TrustSource};
use vouch_engine::verify::identity::IdentityRequirement;
use vouch_engine::verify::Signer;

const IMAGES: usize = 2000;
const SEQUENTIAL_IMAGES: usize = 200;
const LATENCY_MS: u64 = 20;
const LATENCY_IMAGES: usize = 500;
const LATENCY_SEQUENTIAL_IMAGES: usize = 50;

/// One image as minted: its tag, digest, and the digest of its `.sig` layer.
struct Minted {
    tag: String,
    digest: String,
    layer: String,
}

/// What vouch's plan asks per image on a registry without the referrers API (once it has
/// said so): the tag (HEAD), `.sig` and its layer, `.att`, the referrers tag.
fn planned_requests(m: &Minted) -> [(Method, String); 5] {
    let tag = m.digest.replace(':', "-");
    [
        (Method::HEAD, format!("manifests/{}", m.tag)),
        (Method::GET, format!("manifests/{tag}.sig")),
        (Method::GET, format!("blobs/{}", m.layer)),
        (Method::GET, format!("manifests/{tag}.att")),
        (Method::GET, format!("manifests/{tag}")),
    ]
}

/// CPU seconds (user + system) used so far by a process (`self` or a pid).
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn main() {
    let count: usize = std::env::var("VOUCH_BENCH_IMAGES").ok().and_then(|n| n.parse().ok()).unwrap_or(IMAGES);
    let dir = std::env::temp_dir().join(format!("vouch-bench-images-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  cache:\n    blobdescriptor: inmemory\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
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
        std::thread::sleep(Duration::from_millis(50));
    }

    // Mint: each image with a cosign signature.
    let mut sigstore = VirtualSigstore::new().unwrap();
    let registry = Registry::new(&host);
    let t = Instant::now();
    let mut minted = Vec::new();
    for i in 0..count {
        let img = block_on(registry.push_image("bench/app", &format!("v{i}"), &format!("bench-{i}"))).unwrap().unwrap();
        let layer = sigstore.sign_image(&format!("{host}/bench/app"), &img.bytes, GitLab::default().identity(), None).unwrap();
        block_on(registry.push_cosign_layer("bench/app", &img.digest, &layer)).unwrap().unwrap();
        minted.push(Minted { tag: format!("v{i}"), digest: img.digest.clone(), layer: sha256_digest(&layer.blob) });
    }
    println!("pushed {count} signed images in {:.1?}", t.elapsed());
    let trust =
        Trust::from_json(TrustSource::File("minted".into()), &serde_json::to_string(&sigstore.trusted_root().unwrap()).unwrap()).unwrap();
    let signer =
        Signer::Keyless(IdentityRequirement::from_flags(Some(&GitLab::default().san()), None, Some("https://gitlab.com"), None).unwrap());
    // As `vouch check` runs: two tokio workers for the network, rayon for verification.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    // vouch: one at a time, and as `vouch check` fetches (oci::IMAGES_AT_ONCE images in
    // flight under the registry's adaptive limit), then verified in parallel.
    let vouch = |host: &str, images: &[Minted], sequential: usize| -> (f64, f64, Duration, oci::ClientStats) {
        let refs: Vec<ImageRef> = images.iter().map(|m| ImageRef::parse(&format!("{host}/bench/app:{}", m.tag)).unwrap()).collect();
        let client = RegistryClient::new(RegistryOptions::default()).unwrap();
        let t = Instant::now();
        for r in refs.iter().take(sequential) {
            let d = runtime.block_on(oci::discover(&client, r, None)).unwrap();
            for found in &d.evidence {
                oci::verify_found(&trust, &d.subject, found.as_ref().unwrap(), &signer).unwrap();
            }
        }
        let one_at_a_time = sequential.min(refs.len()) as f64 / t.elapsed().as_secs_f64();

        let client = RegistryClient::new(RegistryOptions::default()).unwrap();
        let t = Instant::now();
        let discoveries: Vec<_> = runtime.block_on(
            futures_util::stream::iter(&refs)
                .map(|r| oci::discover(&client, r, None))
                .buffer_unordered(oci::IMAGES_AT_ONCE)
                .map(|d| d.unwrap())
                .collect(),
        );
        let fetched = t.elapsed();
        let verified: usize = discoveries
            .par_iter()
            .map(|d| d.evidence.iter().filter(|f| oci::verify_found(&trust, &d.subject, f.as_ref().unwrap(), &signer).is_ok()).count())
            .sum();
        assert_eq!(verified, refs.len());
        (one_at_a_time, refs.len() as f64 / t.elapsed().as_secs_f64(), fetched, client.stats())
    };

    // The ceiling: the same requests, all independent, read and dropped; the best of a few
    // concurrency levels.
    let ceiling = |host: &str, images: &[Minted]| -> (f64, usize) {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent("vouch-bench-ceiling")
            .build()
            .unwrap();
        let requests: Vec<(Method, String)> = images.iter().flat_map(planned_requests).collect();
        let mut best = (0.0, 0);
        for at_once in [16, 32, 64, 128] {
            let t = Instant::now();
            let answered: usize = runtime
                .block_on(
                    futures_util::stream::iter(&requests)
                        .map(|(method, path)| {
                            let request = http
                                .request(method.clone(), format!("http://{host}/v2/bench/app/{path}"))
                                .header("accept", oci::client::MANIFEST_ACCEPT);
                            async move {
                                let response = request.send().await.unwrap();
                                let status = response.status();
                                let _ = response.bytes().await.unwrap();
                                usize::from(status.is_success() || status == reqwest::StatusCode::NOT_FOUND)
                            }
                        })
                        .buffer_unordered(at_once)
                        .collect::<Vec<_>>(),
                )
                .iter()
                .sum();
            assert_eq!(answered, requests.len());
            let per_second = requests.len() as f64 / t.elapsed().as_secs_f64();
            if per_second > best.0 {
                best = (per_second, at_once);
            }
        }
        best
    };

    let registry_pid = child.id().to_string();
    let cpu = || (cpu_seconds("self"), cpu_seconds(&registry_pid));
    let report = |label: &str, images: &[Minted], host: &str, sequential: usize| {
        let before = cpu();
        let (ceiling_rps, at_once) = ceiling(host, images);
        let ceiling_cpu = (cpu().0 - before.0, cpu().1 - before.1);
        let ceiling_ips = ceiling_rps / 5.0;
        let before = cpu();
        let (one, concurrent, fetched, stats) = vouch(host, images, sequential);
        let vouch_cpu = (cpu().0 - before.0, cpu().1 - before.1);
        let per = |s: f64, runs: usize| 1e6 * s / (runs * images.len()) as f64;
        println!("{label}: {} images", images.len());
        println!(
            "  registry ceiling:  {ceiling_rps:>8.0} requests/s ({at_once} at once) = {ceiling_ips:>6.0} images/s at 5 requests per image"
        );
        println!(
            "  vouch:             {concurrent:>8.0} images/s = {:.0} % of the ceiling (fetching {fetched:.1?}; {:.2} requests per image; {} halvings, limit {})",
            100.0 * concurrent / ceiling_ips,
            stats.requests as f64 / images.len() as f64,
            stats.throttled,
            stats.lowest_limit.unwrap_or_default()
        );
        println!("  vouch, one image at a time ({} images): {one:>6.1} images/s", sequential.min(images.len()));
        println!(
            "  CPU per image: ceiling client {:.0} µs + registry {:.0} µs; vouch {:.0} µs + registry {:.0} µs (both runs)",
            per(ceiling_cpu.0, 4),
            per(ceiling_cpu.1, 4),
            per(vouch_cpu.0, 1),
            per(vouch_cpu.1, 1)
        );
    };
    report("loopback registry", &minted, &host, SEQUENTIAL_IMAGES);

    let proxy = testkit::harness::LatencyProxy::start(&host, Duration::from_millis(LATENCY_MS));
    let far = &minted[..LATENCY_IMAGES.min(count)];
    report(&format!("the same registry {LATENCY_MS} ms away (latency proxy)"), far, &proxy.host, LATENCY_SEQUENTIAL_IMAGES);

    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
