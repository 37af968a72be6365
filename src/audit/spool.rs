//! The local audit spool (SPEC §7.3): events the database cannot take right now are appended
//! to a file (JSON lines, 0600, synced), and written to the database in order, once, when it
//! returns — after a restart too. The read position is kept in a second file, updated after
//! each batch is committed, so a crash between the two re-sends at most that one batch.

use crate::store::AuditRecord;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::PathBuf;

/// File name of the spool inside `audit.spool_dir`.
pub const SPOOL_FILE: &str = "tessera-audit.spool";
/// File name of the read position beside it.
const OFFSET_FILE: &str = "tessera-audit.spool.offset";

/// Why the spool did not take events.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The file system refused (disk full, no permission, …).
    #[error("audit spool I/O failed")]
    Io(#[from] std::io::Error),
    /// `audit.spool_max_mb` reached.
    #[error("audit spool is full ({0} bytes)")]
    Full(u64),
    /// An event could not be encoded or a spooled line decoded.
    #[error("audit spool line is not an event")]
    Json(#[from] serde_json::Error),
}

/// The spool file and how far it has been written to the database.
#[derive(Debug)]
pub struct Spool {
    /// The spool file.
    path: PathBuf,
    /// The read-position file.
    offset_path: PathBuf,
    /// Bytes of the spool already in the database.
    offset: u64,
    /// Bytes in the spool file.
    len: u64,
    /// Most bytes the file may hold.
    max_bytes: u64,
}

/// The length of the spool up to its last complete line, cutting off a line a crash left
/// half-written (it was never counted as taken).
fn whole_lines(path: &PathBuf) -> u64 {
    // Only the tail is read: a line is a few hundred bytes (values are capped at 255
    // characters), while the spool may hold up to `audit.spool_max_mb`.
    const TAIL: u64 = 64 * 1024;
    let tail = |f: &mut File| -> std::io::Result<(u64, Vec<u8>)> {
        let len = f.metadata()?.len();
        let from = len.saturating_sub(TAIL);
        f.seek(SeekFrom::Start(from))?;
        let mut buf = Vec::new();
        std::io::Read::read_to_end(f, &mut buf)?;
        Ok((from, buf))
    };
    let Ok((from, bytes)) = File::open(path).and_then(|mut f| tail(&mut f)) else {
        return 0;
    };
    let len = from + bytes.len() as u64;
    let keep = bytes
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(from, |i| from + i as u64 + 1);
    if keep < len {
        tracing::warn!(
            bytes = len - keep,
            "cut a half-written line off the audit spool"
        );
        if let Ok(f) = OpenOptions::new().write(true).open(path) {
            let _ = f.set_len(keep);
        }
    }
    keep
}

fn private_append(path: &PathBuf) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

impl Spool {
    /// Opens the spool in `dir` (created if missing), resuming where a previous run stopped.
    pub fn open(dir: PathBuf, max_bytes: u64) -> Spool {
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(SPOOL_FILE);
        let offset_path = dir.join(OFFSET_FILE);
        let len = whole_lines(&path);
        let offset = std::fs::read_to_string(&offset_path)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0)
            .min(len);
        if len > offset {
            tracing::warn!(
                bytes = len - offset,
                "audit events spooled by an earlier run will be written to the database"
            );
        }
        Spool {
            path,
            offset_path,
            offset,
            len,
            max_bytes,
        }
    }

    /// True when every spooled event is in the database.
    pub fn is_empty(&self) -> bool {
        self.offset >= self.len
    }

    /// Appends `events` (synced to disk before returning).
    pub fn append(&mut self, events: &[AuditRecord]) -> Result<(), SpoolError> {
        let mut buf = Vec::with_capacity(events.len() * 160);
        for e in events {
            serde_json::to_writer(&mut buf, e)?;
            buf.push(b'\n');
        }
        let room = self
            .max_bytes
            .saturating_sub(self.len - self.offset.min(self.len));
        if buf.len() as u64 > room {
            return Err(SpoolError::Full(self.max_bytes));
        }
        let mut f = private_append(&self.path)?;
        if let Err(e) = f.write_all(&buf).and_then(|()| f.sync_data()) {
            // Cut a partial line back off, so the file stays a sequence of whole events.
            if let Ok(f) = OpenOptions::new().write(true).open(&self.path) {
                let _ = f.set_len(self.len);
            }
            return Err(e.into());
        }
        self.len += buf.len() as u64;
        metrics::counter!("tessera_audit_events_spooled_total").increment(events.len() as u64);
        Ok(())
    }

    /// Up to `n` spooled events not yet in the database, oldest first, with the bytes they
    /// take in the file.
    pub fn peek(&self, n: usize) -> Result<(Vec<AuditRecord>, u64), SpoolError> {
        let mut f = File::open(&self.path)?;
        f.seek(SeekFrom::Start(self.offset))?;
        let mut reader = BufReader::new(f);
        let mut out = Vec::new();
        let mut used = 0u64;
        let mut line = String::new();
        while out.len() < n {
            line.clear();
            let read = reader.read_line(&mut line)?;
            if read == 0 || !line.ends_with('\n') {
                break;
            }
            used += read as u64;
            match serde_json::from_str(line.trim_end()) {
                Ok(e) => out.push(e),
                // A line that is no event cannot be written anywhere: counted, logged, and
                // passed over so the rest of the spool still drains.
                Err(e) => {
                    metrics::counter!("tessera_audit_events_lost_total").increment(1);
                    tracing::error!(error = %e, "an audit spool line is not an event; skipped");
                }
            }
        }
        Ok((out, used))
    }

    /// Marks `bytes` more as written to the database; empties the files once all are.
    pub fn advance(&mut self, bytes: u64) -> Result<(), SpoolError> {
        self.offset = (self.offset + bytes).min(self.len);
        if self.offset >= self.len {
            OpenOptions::new()
                .write(true)
                .open(&self.path)?
                .set_len(0)?;
            let _ = std::fs::remove_file(&self.offset_path);
            self.offset = 0;
            self.len = 0;
            return Ok(());
        }
        let mut o = OpenOptions::new();
        o.create(true).write(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let mut f = o.open(&self.offset_path)?;
        f.write_all(self.offset.to_string().as_bytes())?;
        f.sync_data()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(i: i64) -> AuditRecord {
        AuditRecord {
            at: i,
            event: "token.issued".into(),
            actor: Some("c".into()),
            tenant_id: None,
            client_id: Some("c".into()),
            subject: None,
            jti: Some(format!("j{i}")),
            outcome: "success".into(),
            remote: None,
        }
    }

    #[test]
    fn spooled_events_come_back_in_order_once_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path().to_path_buf(), 1 << 20);
        assert!(s.is_empty());
        s.append(&[ev(1), ev(2)]).unwrap();
        s.append(&[ev(3)]).unwrap();
        let (first, used) = s.peek(2).unwrap();
        assert_eq!(first, vec![ev(1), ev(2)]);
        s.advance(used).unwrap();
        // A restart resumes after what was written.
        let mut s = Spool::open(dir.path().to_path_buf(), 1 << 20);
        let (rest, used) = s.peek(10).unwrap();
        assert_eq!(rest, vec![ev(3)]);
        s.advance(used).unwrap();
        assert!(s.is_empty());
        assert_eq!(
            std::fs::metadata(dir.path().join(SPOOL_FILE))
                .unwrap()
                .len(),
            0
        );
    }

    #[test]
    fn a_line_a_crash_left_half_written_is_cut_off_and_the_rest_drains() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path().to_path_buf(), 1 << 20);
        s.append(&[ev(1)]).unwrap();
        let path = dir.path().join(SPOOL_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"at\":2,\"event\":\"torn").unwrap();
        let mut s = Spool::open(dir.path().to_path_buf(), 1 << 20);
        s.append(&[ev(3)]).unwrap();
        let (events, used) = s.peek(10).unwrap();
        assert_eq!(events, vec![ev(1), ev(3)]);
        s.advance(used).unwrap();
        assert!(s.is_empty());
    }

    #[test]
    fn a_full_spool_refuses_rather_than_grows() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path().to_path_buf(), 300);
        s.append(&[ev(1)]).unwrap();
        assert!(matches!(
            s.append(&[ev(2), ev(3), ev(4)]),
            Err(SpoolError::Full(_))
        ));
        assert_eq!(s.peek(10).unwrap().0, vec![ev(1)]);
    }
}
