//! `[[track_file]]` values, watched with inotify on their directories (so that a file
//! replaced by rename, created or deleted is seen as well as one rewritten in place).

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use inotify::{Inotify, WatchMask};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tracing::warn;

use super::TrackEvent;
use crate::config::TrackFile;

/// The value of a track file: its text as an integer; a missing, unreadable or malformed
/// file counts as 0 (and says why).
pub(super) fn read_value(path: &Path) -> (i64, Option<String>) {
    match std::fs::read_to_string(path) {
        Ok(text) => match text.trim().parse::<i64>() {
            Ok(v) => (v, None),
            Err(_) if text.trim().is_empty() => (0, None),
            Err(_) => (
                0,
                Some(format!(
                    "{}: {:?} is not an integer: using 0",
                    path.display(),
                    text.trim()
                )),
            ),
        },
        Err(e) => (0, Some(format!("{}: {e}: using 0", path.display()))),
    }
}

/// Creates the files that have an `init` value and do not exist yet.
pub(super) fn create_initial(files: &[TrackFile]) {
    for f in files {
        if let (Some(v), false) = (f.init, f.file.exists()) {
            if let Err(e) = std::fs::write(&f.file, format!("{v}\n")) {
                warn!(
                    "track_file {:?}: creating {}: {e}",
                    f.name,
                    f.file.display()
                );
            }
        }
    }
}

/// Watches `files` (index, path); each change sends the file's new value.
pub(super) fn watch(
    files: Vec<(usize, PathBuf)>,
    tx: UnboundedSender<TrackEvent>,
) -> std::io::Result<JoinHandle<()>> {
    let inotify = Inotify::init()?;
    // (watched directory, file name) → indexes of the track files at that path.
    let mut by_dir: HashMap<inotify::WatchDescriptor, Vec<(OsString, usize, PathBuf)>> =
        HashMap::new();
    for (index, path) in files {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            continue;
        };
        let wd = inotify.watches().add(
            dir,
            WatchMask::CLOSE_WRITE
                | WatchMask::MOVED_TO
                | WatchMask::MOVED_FROM
                | WatchMask::CREATE
                | WatchMask::DELETE
                | WatchMask::MODIFY,
        )?;
        by_dir
            .entry(wd)
            .or_default()
            .push((name.to_os_string(), index, path.clone()));
    }
    let mut stream = inotify.into_event_stream([0u8; 4096])?;
    Ok(tokio::spawn(async move {
        while let Some(event) = stream.next().await {
            let Ok(event) = event else { continue };
            let Some(name) = event.name else { continue };
            let Some(list) = by_dir.get(&event.wd) else {
                continue;
            };
            for (file, index, path) in list {
                if *file != name {
                    continue;
                }
                let (value, problem) = read_value(path);
                if tx
                    .send(TrackEvent::File {
                        index: *index,
                        value,
                        problem,
                    })
                    .is_err()
                {
                    return;
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_bad_contents() {
        let dir = std::env::temp_dir().join(format!("rvrrpd-trackfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let f = dir.join("w");
        std::fs::write(&f, " -30\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read_value(&f), (-30, None));
        std::fs::write(&f, "").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read_value(&f), (0, None));
        std::fs::write(&f, "ten").unwrap_or_else(|e| panic!("{e}"));
        assert!(read_value(&f)
            .1
            .is_some_and(|m| m.contains("not an integer")));
        let (v, why) = read_value(&dir.join("missing"));
        assert_eq!(v, 0);
        assert!(why.is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
