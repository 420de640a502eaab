//! PDFs, read by poppler's command-line tools (`pdfinfo`, `pdftoppm`, from Debian's
//! `poppler-utils`), each run as a child process with a time limit: a document that makes
//! them hang is refused, and the process is killed.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use super::AssetError;

/// What is read of a PDF when it is stored.
#[derive(Debug)]
pub struct Pdf {
    pub pages: u32,
    /// The first page as a JPEG (quality 90), `width` pixels wide at most: poppler writes it
    /// in tens of milliseconds, where a PNG of a photographic slide takes over a second.
    pub first_page: Vec<u8>,
}

/// Reads the page count and renders the first page `width` pixels wide, within `limit` for
/// both together.
pub async fn read(bytes: &[u8], width: u32, limit: Duration) -> Result<Pdf, AssetError> {
    let folder = tempfile::tempdir().map_err(|e| AssetError::Internal(e.to_string()))?;
    let input = folder.path().join("in.pdf");
    std::fs::File::create(&input)
        .and_then(|mut file| file.write_all(bytes))
        .map_err(|e| AssetError::Internal(format!("cannot write a temporary file: {e}")))?;
    let work = async {
        let info = run(Command::new("pdfinfo").arg(&input)).await?;
        let pages = String::from_utf8_lossy(&info)
            .lines()
            .find_map(|line| line.strip_prefix("Pages:"))
            .and_then(|n| n.trim().parse::<u32>().ok())
            .filter(|&pages| pages > 0)
            .ok_or_else(|| AssetError::Rejected("a PDF document without pages".into()))?;
        let first_page = render(&input, folder.path(), width).await?;
        Ok(Pdf { pages, first_page })
    };
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result,
        Err(_) => Err(AssetError::Rejected(format!(
            "a PDF document that could not be read within {} ms",
            limit.as_millis()
        ))),
    }
}

async fn render(input: &Path, folder: &Path, width: u32) -> Result<Vec<u8>, AssetError> {
    let prefix = folder.join("page");
    run(Command::new("pdftoppm")
        .args(["-f", "1", "-l", "1", "-jpeg", "-jpegopt", "quality=90"])
        .args(["-singlefile", "-scale-to-x"])
        .arg(width.to_string())
        .args(["-scale-to-y", "-1"])
        .arg(input)
        .arg(&prefix))
    .await?;
    std::fs::read(prefix.with_extension("jpg"))
        .map_err(|e| AssetError::Internal(format!("pdftoppm wrote no page: {e}")))
}

/// Runs a poppler tool; its standard output, or the document's refusal with what it said.
/// The child is killed when the future is dropped (at the time limit).
async fn run(command: &mut Command) -> Result<Vec<u8>, AssetError> {
    let output = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| {
            AssetError::Internal(format!(
                "cannot run poppler's tools (Debian package poppler-utils): {e}"
            ))
        })?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        let said = said.lines().next().unwrap_or("no message").trim();
        return Err(AssetError::Rejected(format!(
            "a PDF document that cannot be read: {said}"
        )));
    }
    Ok(output.stdout)
}
