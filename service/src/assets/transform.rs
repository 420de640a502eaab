//! Variants of an image: resized, cropped around its focal point, re-encoded. Only sizes and
//! qualities from the configured sets are made, so the variants of one asset are a bounded
//! set and nobody can make the server render millions of them.

use std::collections::BTreeMap;
use std::io::Cursor;

use fast_image_resize::{ResizeOptions, Resizer};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, ImageEncoder, ImageReader};
use serde::{Deserialize, Serialize};

use super::AssetError;
use super::inspect::MediaType;

/// How an image is fitted into a box of both a width and a height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Fit {
    /// Fills the box; what sticks out is cropped, keeping the focal point in view.
    Cover,
    /// Scaled to fit in the box, which is filled around it (transparent, white for JPEG).
    Contain,
    /// Scaled to fit in the box; the result is as small as the image needs.
    #[default]
    Inside,
}

impl Fit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Cover => "cover",
            Self::Contain => "contain",
            Self::Inside => "inside",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Cover, Self::Contain, Self::Inside]
            .into_iter()
            .find(|fit| fit.as_str() == text)
    }
}

/// What a variant is encoded as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Webp,
    Jpeg,
    Png,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webp => "webp",
            Self::Jpeg => "jpeg",
            Self::Png => "png",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "webp" => Some(Self::Webp),
            "jpeg" | "jpg" => Some(Self::Jpeg),
            "png" => Some(Self::Png),
            _ => None,
        }
    }

    pub fn media_type(self) -> MediaType {
        match self {
            Self::Webp => MediaType::Webp,
            Self::Jpeg => MediaType::Jpeg,
            Self::Png => MediaType::Png,
        }
    }

    /// What an image of `media` is served as when no format is asked for: its own format,
    /// PNG for a GIF (a variant is one frame) and for a PDF's page.
    fn of(media: MediaType) -> Self {
        match media {
            MediaType::Jpeg => Self::Jpeg,
            MediaType::Webp => Self::Webp,
            MediaType::Png | MediaType::Gif | MediaType::Pdf => Self::Png,
        }
    }
}

/// A transform as configured for a preset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Preset {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fit: Option<Fit>,
    pub format: Option<Format>,
    pub quality: Option<u8>,
}

/// The transforms the server makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformRules {
    /// The widths and heights a request may ask for, in pixels.
    pub sizes: Vec<u32>,
    /// The qualities a request may ask for (JPEG; WebP variants are lossless).
    pub qualities: Vec<u8>,
    /// The quality when none is asked for.
    pub default_quality: u8,
    /// Named transforms, asked for as `?preset=name`; their sizes need not be in `sizes`.
    pub presets: BTreeMap<String, Preset>,
}

impl Default for TransformRules {
    fn default() -> Self {
        Self {
            sizes: vec![
                64, 96, 128, 160, 240, 320, 400, 480, 640, 800, 960, 1200, 1280, 1600, 1920,
            ],
            qualities: vec![50, 60, 70, 75, 80, 85, 90],
            default_quality: 80,
            presets: BTreeMap::from([
                (
                    "thumbnail".to_owned(),
                    Preset {
                        width: Some(320),
                        height: Some(180),
                        fit: Some(Fit::Cover),
                        format: Some(Format::Webp),
                        quality: None,
                    },
                ),
                (
                    "card".to_owned(),
                    Preset {
                        width: Some(800),
                        height: Some(450),
                        fit: Some(Fit::Cover),
                        format: None,
                        quality: None,
                    },
                ),
            ]),
        }
    }
}

/// A transform as a request asks for it: each parameter as text, unchecked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TransformQuery {
    pub width: Option<String>,
    pub height: Option<String>,
    pub fit: Option<String>,
    pub format: Option<String>,
    pub quality: Option<String>,
    pub preset: Option<String>,
}

impl TransformQuery {
    /// The query string that asks for this transform (`width=800&format=webp`), parameters in
    /// a fixed order so that the same request is the same URL; empty for the original.
    pub fn query_string(&self) -> String {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("preset", &self.preset),
            ("width", &self.width),
            ("height", &self.height),
            ("fit", &self.fit),
            ("format", &self.format),
            ("quality", &self.quality),
        ] {
            if let Some(value) = value {
                pairs.append_pair(name, value);
            }
        }
        pairs.finish()
    }

    pub fn is_empty(&self) -> bool {
        self.width.is_none()
            && self.height.is_none()
            && self.fit.is_none()
            && self.format.is_none()
            && self.quality.is_none()
            && self.preset.is_none()
    }
}

/// A checked transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transform {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fit: Fit,
    pub format: Option<Format>,
    pub quality: u8,
}

impl Transform {
    /// The name the variant is stored under, the same for the same output.
    pub fn key(&self, media: MediaType) -> String {
        let format = self.format.unwrap_or(Format::of(media));
        let quality = if format == Format::Jpeg {
            self.quality
        } else {
            0
        };
        format!(
            "w{}-h{}-{}-{}-q{}",
            self.width.unwrap_or(0),
            self.height.unwrap_or(0),
            self.fit.as_str(),
            format.as_str(),
            quality
        )
    }
}

fn refused(parameter: &str, message: String) -> AssetError {
    AssetError::Transform {
        parameter: parameter.to_owned(),
        message,
    }
}

fn list<T: std::fmt::Display>(values: &[T]) -> String {
    values
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl TransformRules {
    /// The transform a query asks for, checked against the rules; `None` for the original.
    pub fn check(&self, query: &TransformQuery) -> Result<Option<Transform>, AssetError> {
        if query.is_empty() {
            return Ok(None);
        }
        let mut preset = Preset::default();
        if let Some(name) = &query.preset {
            preset = self.presets.get(name).cloned().ok_or_else(|| {
                refused(
                    "preset",
                    format!(
                        "there is no preset `{name}`; the presets are: {}",
                        list(&self.presets.keys().collect::<Vec<_>>())
                    ),
                )
            })?;
        }
        let size = |parameter: &str, text: &Option<String>| -> Result<Option<u32>, AssetError> {
            let Some(text) = text else { return Ok(None) };
            match text.parse::<u32>() {
                Ok(value) if self.sizes.contains(&value) => Ok(Some(value)),
                _ => Err(refused(
                    parameter,
                    format!(
                        "`{text}` is not an allowed size; the sizes are: {}",
                        list(&self.sizes)
                    ),
                )),
            }
        };
        let width = size("width", &query.width)?.or(preset.width);
        let height = size("height", &query.height)?.or(preset.height);
        let fit = match &query.fit {
            Some(text) => Fit::parse(text).ok_or_else(|| {
                refused(
                    "fit",
                    format!("`{text}` is not a fit; use cover, contain or inside"),
                )
            })?,
            None => preset.fit.unwrap_or_default(),
        };
        let format = match &query.format {
            Some(text) => Some(Format::parse(text).ok_or_else(|| {
                refused(
                    "format",
                    format!("`{text}` is not a format; use webp, jpeg or png"),
                )
            })?),
            None => preset.format,
        };
        let quality = match &query.quality {
            Some(text) => match text.parse::<u8>() {
                Ok(value) if self.qualities.contains(&value) => value,
                _ => {
                    return Err(refused(
                        "quality",
                        format!(
                            "`{text}` is not an allowed quality; the qualities are: {}",
                            list(&self.qualities)
                        ),
                    ));
                }
            },
            None => preset.quality.unwrap_or(self.default_quality),
        };
        Ok(Some(Transform {
            width,
            height,
            fit,
            format,
            quality,
        }))
    }
}

/// A rendered variant.
#[derive(Debug)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub media: MediaType,
    pub width: u32,
    pub height: u32,
}

/// Renders `transform` of an image (`source` holds its bytes, of type `media`; a PDF's page
/// is a PNG). `focal` is the point kept in view by `cover`, as fractions. Never enlarges.
pub fn render(
    source: &[u8],
    media: MediaType,
    transform: &Transform,
    focal: (f64, f64),
) -> Result<Rendered, AssetError> {
    let format = transform.format.unwrap_or(Format::of(media));
    let image = ImageReader::new(Cursor::new(source))
        .with_guessed_format()
        .map_err(|e| AssetError::Internal(e.to_string()))?
        .decode()
        .map_err(|e| AssetError::Internal(format!("a stored image cannot be decoded: {e}")))?;
    let image = match image {
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) | DynamicImage::ImageLuma8(_) => {
            image
        }
        other if other.color().has_alpha() => DynamicImage::ImageRgba8(other.to_rgba8()),
        other => DynamicImage::ImageRgb8(other.to_rgb8()),
    };
    let (sw, sh) = (f64::from(image.width()), f64::from(image.height()));
    let plan = plan(sw, sh, transform, focal);
    let mut out = DynamicImage::new(plan.width, plan.height, image.color());
    let options = ResizeOptions::new().crop(plan.crop.0, plan.crop.1, plan.crop.2, plan.crop.3);
    Resizer::new()
        .resize(&image, &mut out, &options)
        .map_err(|e| AssetError::Internal(format!("resizing failed: {e}")))?;
    if let Some((box_w, box_h)) = plan.pad {
        out = pad(out, box_w, box_h, format);
    }
    let (width, height) = (out.width(), out.height());
    let bytes = encode(out, format, transform.quality)?;
    Ok(Rendered {
        bytes,
        media: format.media_type(),
        width,
        height,
    })
}

/// Where the pixels of a variant come from and how large it is.
#[derive(Debug, PartialEq)]
struct Plan {
    /// Left, top, width and height in the source.
    crop: (f64, f64, f64, f64),
    width: u32,
    height: u32,
    /// The box the result is placed in the middle of (`contain`).
    pad: Option<(u32, u32)>,
}

fn plan(sw: f64, sh: f64, transform: &Transform, focal: (f64, f64)) -> Plan {
    let whole = (0.0, 0.0, sw, sh);
    let px = |value: f64| (value.round() as u32).max(1);
    match (transform.width, transform.height) {
        (None, None) => Plan {
            crop: whole,
            width: px(sw),
            height: px(sh),
            pad: None,
        },
        (Some(w), None) => {
            let scale = (f64::from(w) / sw).min(1.0);
            Plan {
                crop: whole,
                width: px(sw * scale),
                height: px(sh * scale),
                pad: None,
            }
        }
        (None, Some(h)) => {
            let scale = (f64::from(h) / sh).min(1.0);
            Plan {
                crop: whole,
                width: px(sw * scale),
                height: px(sh * scale),
                pad: None,
            }
        }
        (Some(w), Some(h)) => {
            let (bw, bh) = (f64::from(w), f64::from(h));
            match transform.fit {
                Fit::Cover => {
                    // The largest window of the box's shape in the source, scaled down to
                    // the box, never up.
                    let cw = sw.min(sh * bw / bh);
                    let ch = cw * bh / bw;
                    let (ow, oh) = if cw >= bw { (bw, bh) } else { (cw, ch) };
                    let left = (focal.0 * sw - cw / 2.0).clamp(0.0, sw - cw);
                    let top = (focal.1 * sh - ch / 2.0).clamp(0.0, sh - ch);
                    Plan {
                        crop: (left, top, cw, ch),
                        width: px(ow),
                        height: px(oh),
                        pad: None,
                    }
                }
                Fit::Contain | Fit::Inside => {
                    let scale = (bw / sw).min(bh / sh).min(1.0);
                    let pad = (transform.fit == Fit::Contain).then_some((w, h));
                    Plan {
                        crop: whole,
                        width: px(sw * scale),
                        height: px(sh * scale),
                        pad,
                    }
                }
            }
        }
    }
}

fn pad(image: DynamicImage, width: u32, height: u32, format: Format) -> DynamicImage {
    let (width, height) = (width.max(image.width()), height.max(image.height()));
    let x = i64::from((width - image.width()) / 2);
    let y = i64::from((height - image.height()) / 2);
    if format == Format::Jpeg {
        let mut canvas = image::RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
        image::imageops::overlay(&mut canvas, &image.to_rgb8(), x, y);
        DynamicImage::ImageRgb8(canvas)
    } else {
        let mut canvas = image::RgbaImage::new(width, height);
        image::imageops::overlay(&mut canvas, &image.to_rgba8(), x, y);
        DynamicImage::ImageRgba8(canvas)
    }
}

fn encode(image: DynamicImage, format: Format, quality: u8) -> Result<Vec<u8>, AssetError> {
    let mut bytes = Vec::new();
    let failed = |e: image::ImageError| AssetError::Internal(format!("encoding failed: {e}"));
    let (width, height) = (image.width(), image.height());
    match format {
        Format::Jpeg => {
            let rgb = flatten(image);
            JpegEncoder::new_with_quality(&mut bytes, quality)
                .write_image(rgb.as_raw(), width, height, image::ExtendedColorType::Rgb8)
                .map_err(failed)?;
        }
        Format::Png => {
            let rgba = image.to_rgba8();
            PngEncoder::new(&mut bytes)
                .write_image(
                    rgba.as_raw(),
                    width,
                    height,
                    image::ExtendedColorType::Rgba8,
                )
                .map_err(failed)?;
        }
        Format::Webp => {
            let rgba = image.to_rgba8();
            WebPEncoder::new_lossless(&mut bytes)
                .write_image(
                    rgba.as_raw(),
                    width,
                    height,
                    image::ExtendedColorType::Rgba8,
                )
                .map_err(failed)?;
        }
    }
    Ok(bytes)
}

/// RGB pixels, transparent ones shown on white.
fn flatten(image: DynamicImage) -> image::RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let blend =
            |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
        image::Rgb([blend(r), blend(g), blend(b)])
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_query_string_has_its_parameters_in_one_order() {
        let query = TransformQuery {
            format: Some("webp".into()),
            width: Some("800".into()),
            ..TransformQuery::default()
        };
        assert_eq!(query.query_string(), "width=800&format=webp");
        assert_eq!(TransformQuery::default().query_string(), "");
    }

    use super::*;

    fn query(pairs: &[(&str, &str)]) -> TransformQuery {
        let mut query = TransformQuery::default();
        for (name, value) in pairs {
            let value = Some((*value).to_owned());
            match *name {
                "width" => query.width = value,
                "height" => query.height = value,
                "fit" => query.fit = value,
                "format" => query.format = value,
                "quality" => query.quality = value,
                "preset" => query.preset = value,
                _ => unreachable!(),
            }
        }
        query
    }

    #[test]
    fn only_allowed_transforms_are_accepted() {
        let rules = TransformRules::default();
        assert_eq!(rules.check(&query(&[])).ok(), Some(None));
        let t = rules
            .check(&query(&[("width", "800"), ("format", "webp")]))
            .ok()
            .flatten();
        assert_eq!(
            t.map(|t| t.key(MediaType::Jpeg)),
            Some("w800-h0-inside-webp-q0".to_owned())
        );
        for (pairs, parameter) in [
            (&[("width", "801")][..], "width"),
            (&[("width", "-1")][..], "width"),
            (&[("height", "99999")][..], "height"),
            (&[("fit", "fill")][..], "fit"),
            (&[("format", "tiff")][..], "format"),
            (&[("quality", "81")][..], "quality"),
            (&[("preset", "huge")][..], "preset"),
        ] {
            match rules.check(&query(pairs)) {
                Err(AssetError::Transform { parameter: p, .. }) => assert_eq!(p, parameter),
                other => panic!("{pairs:?}: {other:?}"),
            }
        }
        let preset = rules
            .check(&query(&[("preset", "thumbnail")]))
            .ok()
            .flatten();
        assert_eq!(
            preset.map(|t| t.key(MediaType::Png)),
            Some("w320-h180-cover-webp-q0".to_owned())
        );
    }

    #[test]
    fn cover_crops_around_the_focal_point_and_never_enlarges() {
        let cover = |w, h| Transform {
            width: Some(w),
            height: Some(h),
            fit: Fit::Cover,
            format: None,
            quality: 80,
        };
        // A 4000 × 3000 image into 800 × 800: a 3000 × 3000 window, moved to the right.
        let p = plan(4000.0, 3000.0, &cover(800, 800), (1.0, 0.5));
        assert_eq!((p.width, p.height), (800, 800));
        assert_eq!(p.crop, (1000.0, 0.0, 3000.0, 3000.0));
        let p = plan(4000.0, 3000.0, &cover(800, 800), (0.5, 0.5));
        assert_eq!(p.crop, (500.0, 0.0, 3000.0, 3000.0));
        // A 400 × 300 image into 1600 × 800: the box's shape at the image's scale.
        let p = plan(400.0, 300.0, &cover(1600, 800), (0.5, 0.0));
        assert_eq!((p.width, p.height), (400, 200));
        assert_eq!(p.crop, (0.0, 0.0, 400.0, 200.0));
        let inside = Transform {
            fit: Fit::Inside,
            ..cover(800, 800)
        };
        let p = plan(4000.0, 3000.0, &inside, (0.5, 0.5));
        assert_eq!((p.width, p.height), (800, 600));
    }
}
