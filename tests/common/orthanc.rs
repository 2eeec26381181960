//! A real Orthanc for the PACS tests: free localhost ports, its own configuration and storage,
//! the DICOMweb plugin, a DICOM port and a user with a password; stopped when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const USER: &str = "radlens";
pub const PASSWORD: &str = "s3cret-pw";
/// A user who may search and retrieve but not store (a Lua filter answers 403 to its POSTs).
pub const READER: &str = "reader";
pub const READER_PASSWORD: &str = "read-0nly";
/// A patient ID whose C-FIND Orthanc answers with a failure status (a Lua find filter).
pub const REFUSED_PATIENT: &str = "REFUSED";
pub const MR: &str = "dicom/series/mr_brain_t1_sag_35sl";
pub const MR_STUDY: &str = "1.3.12.2.1107.5.2.43.67060.30000022040717195958300000010";

/// A running Orthanc, stopped (and waited for) when dropped.
pub struct Orthanc {
    child: Mutex<Option<Child>>,
    pub http: u16,
    pub dicom: u16,
    /// Where Orthanc sends C-MOVE sub-operations for radlens (AE title RADLENS).
    pub move_port: u16,
    _dir: tempfile::TempDir,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const PLUGIN: &str = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so";

impl Orthanc {
    pub fn start() -> Self {
        let binary = ["/usr/sbin/Orthanc", "/usr/bin/Orthanc"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or_else(|| {
                panic!(
                    "Orthanc is not installed: apt install orthanc orthanc-dicomweb \
                     (packaging/setup.sh and .ci/run do)"
                )
            });
        assert!(
            Path::new(PLUGIN).exists(),
            "the Orthanc DICOMweb plugin is missing ({PLUGIN}): apt install orthanc-dicomweb"
        );
        let dir = tempfile::tempdir().unwrap();
        let (http, dicom, move_port) = (free_port(), free_port(), free_port());
        let storage = dir.path().join("db");
        let mut config = serde_json::json!({
            "Name": "radlens-test",
            "StorageDirectory": storage,
            "IndexDirectory": storage,
            "HttpPort": http,
            "DicomPort": dicom,
            "DicomAet": "ORTHANC",
            "DicomCheckCalledAet": true,
            "RemoteAccessAllowed": false,
            "AuthenticationEnabled": true,
            "RegisteredUsers": { USER: PASSWORD, READER: READER_PASSWORD },
            "Plugins": [PLUGIN],
            "DicomWeb": { "Enable": true, "Root": "/dicom-web/" },
            "DicomAlwaysAllowEcho": true,
            "DicomAlwaysAllowStore": true,
            "DicomModalities": { "radlens": ["RADLENS", "127.0.0.1", move_port] },
            "StorageCompression": false,
            "OrthancExplorerEnabled": false,
            "WebDavEnabled": false,
        });
        // Orthanc answers 403 Forbidden to a request its HTTP filter refuses, and a C-FIND
        // whose filter raises an error with a failure status.
        let filter = dir.path().join("filter.lua");
        std::fs::write(
            &filter,
            [
                "function IncomingHttpRequestFilter(method, uri, ip, username, httpHeaders)",
                &format!("  return not (method == 'POST' and username == '{READER}')"),
                "end",
                "function IncomingFindRequestFilter(query, origin)",
                &format!("  if query['0010,0020'] == '{REFUSED_PATIENT}' then"),
                "    error('this query is refused by the test filter')",
                "  end",
                "  return query",
                "end",
                "",
            ]
            .join("\n"),
        )
        .unwrap();
        config["LuaScripts"] = serde_json::json!([filter]);
        let config_path = dir.path().join("orthanc.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let child = Command::new(binary)
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("orthanc.log")).unwrap(),
            ))
            .spawn()
            .unwrap_or_else(|e| panic!("Orthanc does not start ({e}): {binary}"));
        let orthanc = Self {
            child: Mutex::new(Some(child)),
            http,
            dicom,
            move_port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        loop {
            let answer = agent
                .get(format!("http://127.0.0.1:{http}/system"))
                .header("Authorization", &Self::basic())
                .call();
            if answer.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(Instant::now() < deadline, "Orthanc did not answer in 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        orthanc
    }

    pub fn basic() -> String {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
        )
    }

    pub fn dicomweb(&self) -> String {
        format!("http://{USER}:{PASSWORD}@127.0.0.1:{}/dicom-web", self.http)
    }

    pub fn dimse(&self) -> String {
        format!("dimse://ORTHANC@127.0.0.1:{}", self.dicom)
    }

    /// Uploads `files` through Orthanc's own REST API.
    pub fn upload(&self, files: &[PathBuf]) {
        let agent = ureq::Agent::new_with_defaults();
        for file in files {
            let bytes = std::fs::read(file).unwrap();
            agent
                .post(format!("http://127.0.0.1:{}/instances", self.http))
                .header("Authorization", &Self::basic())
                .send(&bytes[..])
                .unwrap_or_else(|e| panic!("upload of {}: {e}", file.display()));
        }
    }

    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Orthanc {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn series_files(relpath: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(super::data(relpath))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
        .collect();
    files.sort();
    files
}
