//! What a file is, read from its bytes: its media type (never the name's or the client's
//! word), and the pixels of an image, checked before anything is decoded.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

use super::AssetError;

/// The kinds of file Lectern stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Jpeg,
    Png,
    Webp,
    Gif,
    Pdf,
}

impl MediaType {
    pub const ALL: [MediaType; 5] = [Self::Jpeg, Self::Png, Self::Webp, Self::Gif, Self::Pdf];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Gif => "image/gif",
            Self::Pdf => "application/pdf",
        }
    }

    pub fn parse(media_type: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == media_type)
    }

    /// What people call it, in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "a JPEG image",
            Self::Png => "a PNG image",
            Self::Webp => "a WebP image",
            Self::Gif => "a GIF image",
            Self::Pdf => "a PDF document",
        }
    }

    /// The usual extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Gif => "gif",
            Self::Pdf => "pdf",
        }
    }

    fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Jpeg => &["jpg", "jpeg", "jpe", "jfif"],
            Self::Png => &["png"],
            Self::Webp => &["webp"],
            Self::Gif => &["gif"],
            Self::Pdf => &["pdf"],
        }
    }

    pub fn is_image(self) -> bool {
        self != Self::Pdf
    }

    fn image_format(self) -> Option<ImageFormat> {
        match self {
            Self::Jpeg => Some(ImageFormat::Jpeg),
            Self::Png => Some(ImageFormat::Png),
            Self::Webp => Some(ImageFormat::WebP),
            Self::Gif => Some(ImageFormat::Gif),
            Self::Pdf => None,
        }
    }
}

/// The bytes needed to tell the media type.
pub const SNIFF_LEN: usize = 16;

/// The media type of a file from its first bytes ([`SNIFF_LEN`] are enough), or why it is
/// refused.
pub fn sniff(head: &[u8]) -> Result<MediaType, AssetError> {
    if head.starts_with(b"%PDF-") {
        return Ok(MediaType::Pdf);
    }
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(MediaType::Jpeg);
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(MediaType::Png);
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return Ok(MediaType::Gif);
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Ok(MediaType::Webp);
    }
    let text = String::from_utf8_lossy(head)
        .trim_start()
        .to_ascii_lowercase();
    if text.starts_with("<svg") || text.starts_with("<?xml") {
        return Err(AssetError::Unsupported(
            "SVG is not accepted (it can carry scripts); upload it as PNG".into(),
        ));
    }
    let found = match image::guess_format(head) {
        Ok(format) => format!("a {format:?} file"),
        Err(_) if head.is_empty() => "an empty file".to_owned(),
        Err(_) => "none of them".to_owned(),
    };
    Err(AssetError::Unsupported(format!(
        "the file must be JPEG, PNG, WebP, GIF or PDF, and its bytes are {found}"
    )))
}

/// Refuses a name whose extension says another type than the bytes.
pub fn check_name(filename: &str, media: MediaType) -> Result<(), AssetError> {
    let Some((_, extension)) = filename.rsplit_once('.') else {
        return Ok(());
    };
    let extension = extension.to_ascii_lowercase();
    let named = MediaType::ALL
        .into_iter()
        .find(|m| m.extensions().contains(&extension.as_str()));
    let named_other = extension == "svg" || matches!(named, Some(m) if m != media);
    if named_other {
        return Err(AssetError::Rejected(format!(
            "the file is named `{filename}` but its bytes are {}",
            media.name()
        )));
    }
    Ok(())
}

/// How large an image may be.
#[derive(Debug, Clone, Copy)]
pub struct PixelLimits {
    /// The longest side, in pixels.
    pub max_side: u32,
    /// Width times height.
    pub max_pixels: u64,
}

/// The size an image's header declares, without decoding it: for images Lectern made itself
/// (a PDF's first page from poppler).
pub fn declared_size(bytes: &[u8], media: MediaType) -> Result<(u32, u32), AssetError> {
    let format = media
        .image_format()
        .ok_or_else(|| AssetError::Internal("not an image".into()))?;
    ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| AssetError::Internal(format!("a rendered page that cannot be read: {e}")))
}

/// An image's size, read from its header and then checked by decoding it whole (a truncated
/// or damaged image is refused). The header is checked against `limits` before any pixel is
/// decoded, so a small file that declares a huge image costs nothing.
pub fn image_size(
    bytes: &[u8],
    media: MediaType,
    limits: PixelLimits,
) -> Result<(u32, u32), AssetError> {
    let format = media
        .image_format()
        .ok_or_else(|| AssetError::Internal("not an image".into()))?;
    let reader = || ImageReader::with_format(Cursor::new(bytes), format);
    let (width, height) = reader()
        .into_dimensions()
        .map_err(|e| AssetError::Rejected(format!("{} that cannot be read: {e}", media.name())))?;
    if width == 0 || height == 0 {
        return Err(AssetError::Rejected(format!(
            "{} of {width} × {height} pixels",
            media.name()
        )));
    }
    let pixels = u64::from(width) * u64::from(height);
    if width > limits.max_side || height > limits.max_side || pixels > limits.max_pixels {
        return Err(AssetError::TooManyPixels(format!(
            "the image declares {width} × {height} pixels; at most {max} pixels a side and \
             {mp:.1} megapixels are accepted",
            max = limits.max_side,
            mp = limits.max_pixels as f64 / 1e6
        )));
    }
    let mut reader = reader();
    let mut decode_limits = Limits::default();
    decode_limits.max_image_width = Some(limits.max_side);
    decode_limits.max_image_height = Some(limits.max_side);
    // Four bytes a pixel, and room for the decoder's own buffers.
    decode_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8));
    reader.limits(decode_limits);
    reader
        .decode()
        .map_err(|e| AssetError::Rejected(format!("{} that is damaged: {e}", media.name())))?;
    if media == MediaType::Jpeg && !ends_jpeg(bytes) {
        // The JPEG decoder fills a cut-off image with grey instead of failing.
        return Err(AssetError::Rejected(
            "a JPEG image that is truncated: its end-of-image marker is missing".into(),
        ));
    }
    Ok((width, height))
}

/// Whether a JPEG ends with its end-of-image marker (some writers pad after it).
fn ends_jpeg(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    tail.windows(2).any(|w| w == [0xFF, 0xD9])
}

/// A filename made safe for a URL path and a `Content-Disposition`: its last path component,
/// letters, digits, `.`, `-` and `_` kept, everything else `-`; the extension that the media
/// type has when it has none.
pub fn safe_filename(name: &str, media: MediaType) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut safe: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    safe = safe.trim_matches(['.', '-']).chars().take(120).collect();
    if safe.is_empty() {
        safe = "file".to_owned();
    }
    if !safe.contains('.') {
        safe = format!("{safe}.{}", media.extension());
    }
    safe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_each_accepted_type_and_refuses_the_rest() {
        assert_eq!(sniff(b"%PDF-1.7\n").ok(), Some(MediaType::Pdf));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]).ok(), Some(MediaType::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0").ok(), Some(MediaType::Png));
        assert_eq!(sniff(b"GIF89a").ok(), Some(MediaType::Gif));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 ").ok(), Some(MediaType::Webp));
        let svg = sniff(b"<svg xmlns=").unwrap_err().to_string();
        assert!(svg.contains("SVG"), "{svg}");
        let bmp = sniff(b"BM\0\0\0\0\0\0\0\0").unwrap_err().to_string();
        assert!(bmp.contains("Bmp"), "{bmp}");
        assert!(sniff(b"").unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn a_name_that_says_another_type_is_refused() {
        assert!(check_name("slides.pdf", MediaType::Pdf).is_ok());
        assert!(check_name("cover.JPEG", MediaType::Jpeg).is_ok());
        assert!(check_name("notes.txt", MediaType::Png).is_ok());
        assert!(check_name("no-extension", MediaType::Png).is_ok());
        let error = check_name("slides.pdf", MediaType::Png).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the file is named `slides.pdf` but its bytes are a PNG image"
        );
        assert!(check_name("logo.svg", MediaType::Png).is_err());
    }

    #[test]
    fn filenames_are_made_safe() {
        assert_eq!(
            safe_filename("../../etc/passwd", MediaType::Png),
            "passwd.png"
        );
        assert_eq!(
            safe_filename("C:\\x\\My Slides (final).pdf", MediaType::Pdf),
            "My-Slides--final-.pdf"
        );
        assert_eq!(safe_filename("..", MediaType::Jpeg), "file.jpg");
        assert_eq!(safe_filename("café.jpg", MediaType::Jpeg), "caf-.jpg");
    }
}
