//! The registry's ceiling for scripts/bench-packages: GET every URL of a curl config
//! (`url = "…"` lines) with the HTTP client vouch uses (reqwest, rustls, no redirects),
//! 128 at a time on a 2-thread runtime, no parsing or verification, and print the
//! requests and the seconds they took.
//!
//!     http-ceiling FILE

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

fn main() {
    let file = std::env::args().nth(1).expect("http-ceiling FILE");
    let urls: Vec<String> = std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("url = \"").and_then(|u| u.strip_suffix('"')).map(str::to_string))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let t = std::time::Instant::now();
    let n = urls.len();
    runtime.block_on(async move {
        let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(128));
        let mut tasks = tokio::task::JoinSet::new();
        for url in urls {
            let (client, permit) = (client.clone(), limit.clone().acquire_owned().await.unwrap());
            tasks.spawn(async move {
                let body = client.get(&url).send().await.unwrap().bytes().await.unwrap();
                drop(permit);
                body.len()
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
    });
    println!("{n} {}", t.elapsed().as_secs_f64());
}
