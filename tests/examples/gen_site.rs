//! Writes the static folder of a site for a folder of talk documents: for each document, the
//! slide image its `image` names (1280 × 720, JPEG or PNG as its name says) and the PDF its
//! `pdf` names (8 to 40 pages of 1280 × 720 JPEG slides, as presentation tools export them),
//! at the paths the documents give. For `bench/assets.sh`.
//!
//! Usage: `gen_site TALKS_DIR OUT_DIR`, or `gen_site --photos N OUT_DIR` for N distinct
//! 4000 × 3000 JPEG photographs (quality 90) named `photo-<i>.jpg`. Deterministic: the same
//! arguments give the same files.

use std::path::{Path, PathBuf};

use tests::files::{encode_jpeg, slide, slides_pdf};

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 720;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(talks), Some(out)) = (args.next(), args.next()) else {
        return Err("usage: gen_site TALKS_DIR OUT_DIR | gen_site --photos N OUT_DIR".into());
    };
    if talks == "--photos" {
        let (Ok(count), Some(out)) = (out.parse::<u32>(), args.next()) else {
            return Err("usage: gen_site --photos N OUT_DIR".into());
        };
        std::fs::create_dir_all(&out)?;
        for i in 0..count {
            let photo = encode_jpeg(&slide(4000, 3000, 7000 + i), 90);
            std::fs::write(Path::new(&out).join(format!("photo-{i}.jpg")), photo)?;
        }
        println!("{count} photographs of 4000 × 3000 in {out}");
        return Ok(());
    }
    let mut documents: Vec<PathBuf> = std::fs::read_dir(&talks)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    documents.sort();
    // A pool of distinct slides, so that each deck is made of real JPEGs without encoding
    // thousands of them.
    let pool: Vec<Vec<u8>> = (0..48)
        .map(|i| encode_jpeg(&slide(WIDTH, HEIGHT, i), 82))
        .collect();
    let (mut files, mut bytes) = (0usize, 0u64);
    for (n, document) in documents.iter().enumerate() {
        let text = std::fs::read_to_string(document)?;
        let seed = n as u32 + 1000;
        for line in text.lines().take(40) {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            if !value.starts_with('/') {
                continue;
            }
            let written = match key {
                "image" => {
                    let picture = slide(WIDTH, HEIGHT, seed);
                    let data = if value.ends_with(".png") {
                        let mut png = std::io::Cursor::new(Vec::new());
                        picture.write_to(&mut png, image::ImageFormat::Png)?;
                        png.into_inner()
                    } else {
                        encode_jpeg(&picture, 85)
                    };
                    write(Path::new(&out), value, &data)?
                }
                "pdf" => {
                    let pages = 8 + (seed as usize * 7919) % 33;
                    let deck: Vec<Vec<u8>> = (0..pages)
                        .map(|p| pool[(n * 5 + p) % pool.len()].clone())
                        .collect();
                    write(Path::new(&out), value, &slides_pdf(&deck, WIDTH, HEIGHT))?
                }
                _ => continue,
            };
            files += 1;
            bytes += written;
        }
    }
    println!(
        "{files} files, {:.1} MB, for {} documents in {out}",
        bytes as f64 / 1e6,
        documents.len()
    );
    Ok(())
}

fn write(out: &Path, site_path: &str, data: &[u8]) -> std::io::Result<u64> {
    let path = out.join(site_path.trim_start_matches('/'));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, data)?;
    Ok(data.len() as u64)
}
