//! `multipart/related` bodies (RFC 2046 §5.1, as WADO-RS sends them) read as a stream: parts go
//! to a [`PartSink`] as their bytes arrive, so a series never has to fit in memory. A body that
//! ends before its closing delimiter is an error (a truncated retrieve never looks complete).
//! Written here because no maintained blocking `multipart/related` reader exists; the delimiter
//! search is memchr's.

use std::io::{self, Read};

use memchr::memmem::Finder;

/// The `boundary` parameter of a `Content-Type` header (quoted or not).
#[must_use]
pub fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty())
    })
}

/// Where the parts go.
pub trait PartSink {
    /// A new part starts; `content_type` is its header's (empty when it has none).
    fn begin(&mut self, content_type: &str) -> io::Result<()>;
    fn write(&mut self, data: &[u8]) -> io::Result<()>;
    /// The part is complete.
    fn end(&mut self) -> io::Result<()>;
}

/// Reads the multipart body `body` with `boundary` into `sink`; returns the number of parts.
pub fn split(mut body: impl Read, boundary: &str, sink: &mut dyn PartSink) -> io::Result<usize> {
    let truncated = || io::Error::new(io::ErrorKind::UnexpectedEof, "truncated multipart body");
    let invalid = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_owned());
    let first = format!("--{boundary}");
    let delimiter = format!("\r\n--{boundary}");
    let first_finder = Finder::new(first.as_bytes());
    let finder = Finder::new(delimiter.as_bytes());
    let headers_end = Finder::new(b"\r\n\r\n");
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 17);
    let mut chunk = vec![0u8; 1 << 16];
    let mut eof = false;
    let mut fill = |buf: &mut Vec<u8>, eof: &mut bool| -> io::Result<()> {
        let n = body.read(&mut chunk)?;
        if n == 0 {
            *eof = true;
        }
        buf.extend_from_slice(&chunk[..n]);
        Ok(())
    };
    // The preamble, up to the first delimiter.
    let start = loop {
        if let Some(at) = first_finder.find(&buf) {
            break at + first.len();
        }
        if eof {
            return Err(truncated());
        }
        fill(&mut buf, &mut eof)?;
    };
    buf.drain(..start);
    let mut parts = 0;
    loop {
        // After a delimiter: `--` closes the body, else CRLF and a part's headers.
        while buf.len() < 2 && !eof {
            fill(&mut buf, &mut eof)?;
        }
        if buf.starts_with(b"--") {
            return Ok(parts);
        }
        let headers = loop {
            if let Some(at) = headers_end.find(&buf) {
                break at;
            }
            if eof {
                return Err(truncated());
            }
            if buf.len() > 64 * 1024 {
                return Err(invalid("multipart part headers longer than 64 KiB"));
            }
            fill(&mut buf, &mut eof)?;
        };
        let header_text = String::from_utf8_lossy(&buf[..headers]).into_owned();
        let content_type = header_text
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("content-type")
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_default();
        buf.drain(..headers + 4);
        sink.begin(&content_type)?;
        // The body, up to the next delimiter; what may still be its start stays buffered.
        loop {
            if let Some(at) = finder.find(&buf) {
                sink.write(&buf[..at])?;
                buf.drain(..at + delimiter.len());
                break;
            }
            if eof {
                return Err(truncated());
            }
            let safe = buf.len().saturating_sub(delimiter.len());
            if safe > 0 {
                sink.write(&buf[..safe])?;
                buf.drain(..safe);
            }
            fill(&mut buf, &mut eof)?;
        }
        sink.end()?;
        parts += 1;
    }
}

/// A `multipart/related; type="application/dicom"` body of files, read as a stream: each file is
/// opened only when its turn comes.
pub struct Body {
    files: std::vec::IntoIter<std::path::PathBuf>,
    boundary: String,
    /// What is being read now: a part header, a file, a separator.
    current: Box<dyn Read + Send>,
    done: bool,
}

impl Body {
    #[must_use]
    pub fn new(files: Vec<std::path::PathBuf>, boundary: &str) -> Self {
        Self {
            files: files.into_iter(),
            boundary: boundary.to_owned(),
            current: Box::new(io::empty()),
            done: false,
        }
    }

    /// The next piece: a part (header, file, CRLF) or the closing delimiter.
    fn advance(&mut self) -> io::Result<bool> {
        if self.done {
            return Ok(false);
        }
        if let Some(path) = self.files.next() {
            let header = format!(
                "--{}\r\nContent-Type: application/dicom\r\n\r\n",
                self.boundary
            );
            let file = std::fs::File::open(&path)
                .map_err(|e| io::Error::new(e.kind(), format!("{e}: {}", path.display())))?;
            self.current = Box::new(
                io::Cursor::new(header.into_bytes())
                    .chain(io::BufReader::new(file))
                    .chain(io::Cursor::new(b"\r\n".to_vec())),
            );
        } else {
            self.current = Box::new(io::Cursor::new(
                format!("--{}--\r\n", self.boundary).into_bytes(),
            ));
            self.done = true;
        }
        Ok(true)
    }
}

impl Read for Body {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.current.read(out)?;
            if n > 0 || out.is_empty() {
                return Ok(n);
            }
            if !self.advance()? {
                return Ok(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<(String, Vec<u8>)>);

    impl PartSink for Collect {
        fn begin(&mut self, content_type: &str) -> io::Result<()> {
            self.0.push((content_type.to_owned(), Vec::new()));
            Ok(())
        }
        fn write(&mut self, data: &[u8]) -> io::Result<()> {
            self.0.last_mut().unwrap().1.extend_from_slice(data);
            Ok(())
        }
        fn end(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Hands out its bytes a few at a time, so delimiters straddle reads.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(out.len()).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn body(parts: &[&[u8]], b: &str) -> Vec<u8> {
        let mut out = b"preamble\r\n".to_vec();
        for p in parts {
            out.extend_from_slice(
                format!("--{b}\r\nContent-Type: application/dicom\r\n\r\n").as_bytes(),
            );
            out.extend_from_slice(p);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{b}--\r\n").as_bytes());
        out
    }

    #[test]
    fn parts_come_out_whole_whatever_the_read_sizes() {
        let b = "c70539a7-b810-4746";
        // A part that contains CRLF, dashes and most of the boundary.
        let tricky: &[u8] = b"\r\n--c70539a7-b810\r\n--\x00DICM";
        let big = vec![7u8; 200_000];
        let data = body(&[tricky, &big, b""], b);
        for step in [1, 3, 17, 4096, 1 << 20] {
            let mut sink = Collect::default();
            let n = split(Trickle(&data, step), b, &mut sink).unwrap();
            assert_eq!(n, 3, "read size {step}");
            assert_eq!(sink.0[0].1, tricky);
            assert_eq!(sink.0[1].1, big);
            assert!(sink.0[2].1.is_empty());
            assert_eq!(sink.0[0].0, "application/dicom");
        }
    }

    #[test]
    fn a_body_cut_short_is_an_error_not_a_shorter_series() {
        let b = "xyz";
        let data = body(&[b"one", b"two"], b);
        for cut in [5, 20, data.len() - 12, data.len() - 3] {
            let mut sink = Collect::default();
            let err = split(&data[..cut], b, &mut sink).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}");
        }
    }

    #[test]
    fn a_streamed_body_splits_back_into_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<std::path::PathBuf> = (0..3)
            .map(|i| {
                let path = dir.path().join(format!("{i}.dcm"));
                std::fs::write(&path, vec![i as u8; 70_000 * i + 1]).unwrap();
                path
            })
            .collect();
        let mut body = Vec::new();
        Body::new(files.clone(), "b0und")
            .read_to_end(&mut body)
            .unwrap();
        let mut sink = Collect::default();
        assert_eq!(split(&body[..], "b0und", &mut sink).unwrap(), 3);
        for (file, (_, part)) in files.iter().zip(&sink.0) {
            assert_eq!(&std::fs::read(file).unwrap(), part);
        }
    }

    #[test]
    fn boundaries_are_read_quoted_or_not() {
        assert_eq!(
            boundary(r#"multipart/related; type="application/dicom"; boundary=abc-1"#).as_deref(),
            Some("abc-1")
        );
        assert_eq!(
            boundary(r#"multipart/related; boundary="a b"; type="application/dicom""#).as_deref(),
            Some("a b")
        );
        assert_eq!(boundary("application/dicom+json"), None);
    }
}
