//! Listing at scale: seed N synthetic uploads through assetd's own write path, then time the
//! representative `GET /uploads` queries over HTTP and print SQLite's plan for each.
//!
//! `bench_listing seed <data-dir> <count>` then `bench_listing query <base-url> <token> <data-dir> [runs]`.
//! Driven by `bench/listing.sh`.

use std::{path::Path, time::Instant};

use assetd::{
    db::{
        Comparison, Db, FileFacts, NewUpload, NumberField, OrderField, StringField, StringOp, TagOp, UploadCondition,
        UploadQuery,
    },
    domain::{Creator, Locale, MetadataPatch},
};
use serde_json::json;

const ANIMALS: [&str; 24] = [
    "cat", "dog", "fox", "owl", "bear", "wolf", "deer", "hare", "lynx", "seal", "crow", "swan", "frog", "toad", "newt",
    "moth", "wasp", "bee", "ant", "eel", "cod", "carp", "pike", "trout",
];
const COLOURS: [&str; 12] =
    ["red", "blue", "green", "grey", "black", "white", "amber", "violet", "teal", "ochre", "olive", "rose"];
const PLACES: [&str; 16] = [
    "forest", "river", "city", "harbour", "meadow", "desert", "island", "valley", "garden", "bridge", "market",
    "station", "beach", "mountain", "library", "museum",
];
const PAGE: i64 = 30;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("seed") => seed(Path::new(&args[2]), args[3].parse()?).await,
        Some("query") => {
            query(&args[2], &args[3], Path::new(&args[4]), args.get(5).map_or(Ok(50), |r| r.parse())?).await
        }
        _ => anyhow::bail!("usage: bench_listing seed <data-dir> <count> | query <base-url> <token> <data-dir> [runs]"),
    }
}

async fn seed(data_dir: &Path, count: u64) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let (en, it) = (Locale::parse("en").map_err(anyhow::Error::msg)?, Locale::parse("it").map_err(anyhow::Error::msg)?);
    let db = Db::open_sqlite(&data_dir.join("assetd.db"), &[en.clone(), it.clone()]).await?;
    let creator = Creator::access_token("bench");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = Instant::now();
    let now = 1_780_000_000_000_i64;
    let three_years = 3 * 365 * 24 * 3600 * 1000_i64;
    let batch = 5000;
    let mut done = 0;
    while done < count {
        let mut tx = db.begin_write().await?;
        for _ in 0..batch.min(count - done) {
            done += 1;
            let (animal, colour, place) = (rng.pick(&ANIMALS), rng.pick(&COLOURS), rng.pick(&PLACES));
            let (mime, ext, media) = match rng.below(100) {
                0..=49 => ("image/jpeg", "jpg", "image"),
                50..=69 => ("image/png", "png", "image"),
                70..=84 => ("video/mp4", "mp4", "video"),
                85..=94 => ("application/pdf", "pdf", "pdf"),
                _ => ("text/plain", "txt", "text"),
            };
            let is_image = media == "image";
            let (width, height) = if media == "image" || media == "video" {
                (Some(100 + rng.below(6000) as i64), Some(100 + rng.below(4000) as i64))
            } else {
                (None, None)
            };
            // Log-uniform between 10 kB and 50 MB.
            let size = (10_000.0 * (5000.0_f64).powf(rng.unit())) as i64;
            let id = assetd::domain::new_entity_id();
            let basename = format!("{colour}-{animal}-{place}-{done}");
            let path = format!("/1/{}-{basename}.{ext}", 1_700_000_000 + done);
            // A skewed tag distribution: a few tags are everywhere, most are rare.
            let tags: Vec<String> =
                (0..rng.below(5)).map(|_| format!("tag-{}", (rng.unit().powi(3) * 500.0) as u64)).collect();
            let tags = assetd::domain::normalize_tags(tags);
            let metadata = MetadataPatch::from_json(
                &json!({
                    "en": {"alt": format!("A {colour} {animal} near the {place}"), "title": format!("{animal} {done}")},
                    "it": {"alt": format!("Un {animal} {colour}")},
                }),
                &[en.clone(), it.clone()],
            )?;
            let facts = FileFacts {
                blob_key: format!("originals/bench-{done}"),
                size,
                md5: format!("{:032x}", u128::from(rng.next()) << 64 | u128::from(rng.next())),
                mime_type: mime.into(),
                sniffed_format: Some(ext.into()),
                is_image,
                width,
                height,
                duration: (media == "video").then(|| rng.below(600) as f64),
                frame_rate: (media == "video").then_some(25.0),
                blurhash: None,
                thumbhash: None,
                exif_info: json!({}),
                colors: json!([]),
            };
            let author = format!("Author {}", rng.below(200));
            let notes = (rng.below(10) < 3).then(|| format!("Shot at the {place} for the {colour} series"));
            let new = NewUpload {
                id: &id,
                path: &path,
                basename: &basename,
                extension: Some(ext),
                facts: &facts,
                author: Some(&author),
                copyright: None,
                notes: notes.as_deref(),
                tags: &tags,
                metadata: &metadata,
                upload_collection_id: None,
                creator: &creator,
                now: now - three_years + (rng.below(three_years as u64) as i64),
            };
            Db::insert_upload(&mut tx, &new).await?;
        }
        tx.commit().await?;
        if done % 100_000 == 0 || done == count {
            eprintln!("seeded {done} uploads in {:.0} s", start.elapsed().as_secs_f64());
        }
    }
    db.close().await;
    Ok(())
}

struct Case {
    name: &'static str,
    query: &'static str,
    plan: UploadQuery,
}

fn cases() -> Vec<Case> {
    let page = |conditions: Vec<UploadCondition>, order: Vec<(OrderField, bool)>, offset: i64, limit: i64| {
        UploadQuery { conditions, order, offset, limit }
    };
    vec![
        Case {
            name: "full text, one common word",
            query: "filter[query]=owl",
            plan: page(vec![UploadCondition::Search(vec!["en_owl".into()])], vec![], 0, PAGE),
        },
        Case {
            name: "full text, three words",
            query: "filter[query]=teal%20owl%20harbour",
            plan: page(
                vec![UploadCondition::Search(vec!["en_teal".into(), "en_owl".into(), "en_harbour".into()])],
                vec![],
                0,
                PAGE,
            ),
        },
        Case {
            name: "tags anyIn (2 tags)",
            query: "filter[fields][tags][anyIn][]=tag-40&filter[fields][tags][anyIn][]=tag-120",
            plan: page(
                vec![UploadCondition::Tags(TagOp::AnyIn(vec!["tag-40".into(), "tag-120".into()]))],
                vec![],
                0,
                PAGE,
            ),
        },
        Case {
            name: "type image + size 1-2 MB",
            query: "filter[fields][type][eq]=image&filter[fields][size][gte]=1000000&filter[fields][size][lt]=2000000",
            plan: page(
                vec![
                    UploadCondition::String { field: StringField::MediaType, op: StringOp::In(vec!["image".into()]) },
                    UploadCondition::Number { field: NumberField::Size, comparison: Comparison::Gte, value: 1_000_000 },
                    UploadCondition::Number { field: NumberField::Size, comparison: Comparison::Lt, value: 2_000_000 },
                ],
                vec![],
                0,
                PAGE,
            ),
        },
        Case {
            name: "order by size",
            query: "order_by=size_DESC",
            plan: page(vec![], vec![(OrderField::Size, true)], 0, PAGE),
        },
        Case { name: "deep offset (900,000)", query: "page[offset]=900000", plan: page(vec![], vec![], 900_000, PAGE) },
        Case { name: "count only", query: "page[limit]=0", plan: page(vec![], vec![], 0, 0) },
    ]
}

async fn query(base: &str, token: &str, data_dir: &Path, runs: usize) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let locales = [Locale::parse("en").map_err(anyhow::Error::msg)?, Locale::parse("it").map_err(anyhow::Error::msg)?];
    let db = Db::open_sqlite(&data_dir.join("assetd.db"), &locales).await?;
    println!("| query | p50 ms | p95 ms | max ms | total_count |");
    println!("|---|---:|---:|---:|---:|");
    let mut plans = Vec::new();
    for case in cases() {
        let url = format!("{base}/uploads?{}", case.query);
        let mut times = Vec::with_capacity(runs);
        let mut total = 0;
        for run in 0..runs + 5 {
            let started = Instant::now();
            let response = http
                .get(&url)
                .bearer_auth(token)
                .header("accept", "application/json")
                .header("x-api-version", "3")
                .send()
                .await?;
            anyhow::ensure!(response.status().is_success(), "{}: {}", case.name, response.status());
            let body: serde_json::Value = response.json().await?;
            if run >= 5 {
                times.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            total = body["meta"]["total_count"].as_i64().unwrap_or(-1);
        }
        times.sort_by(f64::total_cmp);
        let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
        println!("| {} (`{}`) | {:.1} | {:.1} | {:.1} | {total} |", case.name, case.query, at(0.5), at(0.95), at(1.0));
        plans.push((case.name, db.explain_list_uploads(&case.plan).await?));
    }
    println!();
    for (name, plan) in plans {
        println!("{name}:\n```\n{}\n```", plan.join("\n"));
    }
    Ok(())
}
