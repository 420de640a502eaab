//! Files for the asset tests, made here: images of each accepted type, PDFs (one that
//! renders, one whose first page takes poppler minutes), and hostile ones.

use std::io::{Cursor, Write};

use image::{ImageFormat, Rgb, RgbImage};

/// An image with a gradient and a bright square near the right edge (where a focal point can
/// be put), encoded as `format`.
pub fn image(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let picture = RgbImage::from_fn(width, height, |x, y| {
        let in_square = x > width * 3 / 4 && x < width * 7 / 8 && y > height / 3 && y < height / 2;
        if in_square {
            Rgb([255, 40, 40])
        } else {
            Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 120])
        }
    });
    let mut bytes = Cursor::new(Vec::new());
    let result = if format == ImageFormat::WebP || format == ImageFormat::Png {
        image::DynamicImage::ImageRgba8(image::DynamicImage::ImageRgb8(picture).to_rgba8())
            .write_to(&mut bytes, format)
    } else {
        picture.write_to(&mut bytes, format)
    };
    result.expect("the test image cannot be encoded");
    bytes.into_inner()
}

pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    image(width, height, ImageFormat::Jpeg)
}

pub fn png(width: u32, height: u32) -> Vec<u8> {
    image(width, height, ImageFormat::Png)
}

/// A PNG whose header declares `width` × `height` pixels, with a single tiny compressed row:
/// a decompression bomb when the numbers are large, refused before any pixel is decoded.
pub fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &header);
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(&vec![0u8; 64 * 1024])
        .expect("zlib writes to memory");
    let data = encoder.finish().expect("zlib writes to memory");
    chunk(&mut out, b"IDAT", &data);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A PDF of `contents.len()` pages of 960 × 540 points, each drawn by its content stream.
pub fn pdf_of(contents: &[Vec<u8>]) -> Vec<u8> {
    let pages = contents.len();
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 3 + 2 * i)).collect();
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            kids.join(" ")
        )
        .into_bytes(),
    ];
    for (i, content) in contents.iter().enumerate() {
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 960 540] /Contents {} 0 R >>",
                4 + 2 * i
            )
            .into_bytes(),
        );
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(content).expect("zlib writes to memory");
        let data = encoder.finish().expect("zlib writes to memory");
        let mut stream = format!(
            "<< /Length {} /Filter /FlateDecode >>\nstream\n",
            data.len()
        )
        .into_bytes();
        stream.extend_from_slice(&data);
        stream.extend_from_slice(b"\nendstream");
        objects.push(stream);
    }
    assemble(&objects)
}

/// A PDF of slides as presentation tools export them: one full-page JPEG per page
/// (`jpegs[i]`, `width` × `height` pixels, shown on a 960 × 540 point page).
pub fn slides_pdf(jpegs: &[Vec<u8>], width: u32, height: u32) -> Vec<u8> {
    let pages = jpegs.len();
    // Objects: 1 catalog, 2 pages, then for each page: page, content, image.
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 3 + 3 * i)).collect();
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            kids.join(" ")
        )
        .into_bytes(),
    ];
    for (i, jpeg) in jpegs.iter().enumerate() {
        let (page, content, image) = (3 + 3 * i, 4 + 3 * i, 5 + 3 * i);
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 960 540] /Contents {content} 0 R \
                 /Resources << /XObject << /Im{page} {image} 0 R >> >> >>"
            )
            .into_bytes(),
        );
        let draw = format!("q 960 0 0 540 0 0 cm /Im{page} Do Q");
        let mut stream = format!("<< /Length {} >>\nstream\n", draw.len()).into_bytes();
        stream.extend_from_slice(draw.as_bytes());
        stream.extend_from_slice(b"\nendstream");
        objects.push(stream);
        let mut stream = format!(
            "<< /Type /XObject /Subtype /Image /Width {width} /Height {height} \
             /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode /Length {} >>\nstream\n",
            jpeg.len()
        )
        .into_bytes();
        stream.extend_from_slice(jpeg);
        stream.extend_from_slice(b"\nendstream");
        objects.push(stream);
    }
    assemble(&objects)
}

/// A slide: a background of the `seed`'s colour, a title bar and bullet-like bands, with the
/// fine noise of a photograph or a screenshot (so that it compresses as real slides do).
pub fn slide(width: u32, height: u32, seed: u32) -> RgbImage {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let base = [
        (next() % 200) as u8 + 30,
        (next() % 200) as u8 + 30,
        (next() % 200) as u8 + 30,
    ];
    let bands = 3 + next() % 5;
    RgbImage::from_fn(width, height, |x, y| {
        let noise = (next() % 24) as u8;
        let title = y > height / 12 && y < height / 5 && x > width / 12 && x < width * 3 / 4;
        let band = (0..bands).any(|b| {
            let top = height / 4 + b * height / 10;
            y > top
                && y < top + height / 30
                && x > width / 8
                && x < width / 8 + (x % 7 + 5) * width / 14
        });
        if title || band {
            Rgb([250 - noise, 250 - noise, 250 - noise])
        } else {
            let shade = |c: u8, d: u32| {
                c.saturating_add(((x + y + d) * 40 / (width + height)) as u8)
                    .saturating_sub(noise)
            };
            Rgb([
                shade(base[0], 0),
                shade(base[1], width / 3),
                shade(base[2], height / 2),
            ])
        }
    })
}

/// `picture` encoded as a JPEG of `quality`.
pub fn encode_jpeg(picture: &RgbImage, quality: u8) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(picture)
        .expect("the slide cannot be encoded");
    bytes
}

/// A PDF file of these objects (the first one its catalog), with its cross-reference table.
fn assemble(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(object);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A PDF of `pages` pages, the first blue with a red square.
pub fn pdf(pages: usize) -> Vec<u8> {
    let mut contents =
        vec![b"0.2 0.4 0.8 rg 0 0 960 540 re f 1 0 0 rg 600 200 200 200 re f".to_vec()];
    for i in 1..pages {
        contents.push(format!("0 {} 0 rg 0 0 960 540 re f", (i % 10) as f32 / 10.0).into_bytes());
    }
    pdf_of(&contents)
}

/// A PDF of about 30 KB whose first page draws ten million thick lines: poppler takes
/// minutes over it.
pub fn slow_pdf() -> Vec<u8> {
    let mut content = b"0 0 1 RG 4 w ".to_vec();
    for _ in 0..300_000 {
        content.extend_from_slice(b"0 0 m 960 540 l 960 0 l 0 540 l S ");
    }
    pdf_of(&[content])
}

/// A `multipart/form-data` body: its content type (with the boundary) and its bytes. Each
/// part is (name, file name, bytes).
pub fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    (MULTIPART.to_owned(), multipart_body(parts))
}

/// The content type of every body [`multipart`] makes.
pub const MULTIPART: &str = "multipart/form-data; boundary=lectern-test-boundary-7d3f9a";

/// The bytes of a `multipart/form-data` body of content type [`MULTIPART`].
pub fn multipart_body(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let boundary = "lectern-test-boundary-7d3f9a";
    let mut body = Vec::new();
    for (name, filename, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(filename) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}
